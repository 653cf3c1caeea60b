"""The vendor list at size: the same queries whatever the number of vendors, the page and the sort,
and an order by BAA status that holds across pages (the page is keyed first, then annotated)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compliance.services import run_compliance
from organizations.models import Role
from tests import factories as f
from vendors.selectors import BAA_STATUS_RANK, BaaStatus

pytestmark = pytest.mark.django_db

STATUSES = (BaaStatus.MISSING, BaaStatus.EXPIRING, BaaStatus.COVERED, BaaStatus.NO_PHI)


@pytest.fixture
def officer_client(client):
    org = f.organization(name="Lakeside")
    client.force_login(f.user(org, role=Role.COMPLIANCE_OFFICER))
    client.org = org
    client.facilities = [f.facility(org, name="Lakeside MRI"), f.facility(org, name="Lakeside CT")]
    return client


def _add_vendors(client, count: int, start: int = 0) -> None:
    """``count`` vendors cycling through the four statuses, named so that name order is not status order."""
    for number in range(start, start + count):
        status = STATUSES[number % len(STATUSES)]
        vendor = f.vendor(client.org, legal_name=f"Vendor {number:03d}")
        for facility in client.facilities:
            f.engagement(vendor, facility, phi_receives=status != BaaStatus.NO_PHI)
        if status == BaaStatus.COVERED:
            f.agreement(vendor)
        elif status == BaaStatus.EXPIRING:
            f.agreement(vendor, expires_on=f.days(20))
    run_compliance(organization_id=client.org.pk, as_of=f.TODAY)


def _queries(client, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("vendors:list"), params)
    assert response.status_code == 200
    assert response.context["page"].object_list
    return len(queries.captured_queries)


def _page(client, **params) -> list[tuple[str, str]]:
    response = client.get(reverse("vendors:list"), params)
    assert response.status_code == 200
    return [(vendor.legal_name, vendor.baa_status) for vendor in response.context["page"].object_list]


@pytest.mark.parametrize(
    "params",
    [{}, {"sort": "status"}, {"sort": "-findings"}, {"sort": "facilities"}, {"phi_access": "yes", "sort": "-status"}],
    ids=["name", "status", "findings", "facilities", "phi-status"],
)
def test_it_lists_vendors_with_the_same_queries_whatever_the_number_of_vendors_and_the_page(officer_client, params):
    _add_vendors(officer_client, 30)
    with_30 = _queries(officer_client, params)
    _add_vendors(officer_client, 60, start=30)
    assert _queries(officer_client, params) == with_30
    assert _queries(officer_client, {**params, "page": 3}) == with_30


def test_it_filters_by_status_with_the_same_queries_whatever_the_number_of_vendors(officer_client):
    _add_vendors(officer_client, 30)
    with_30 = _queries(officer_client, {"baa_status": "missing"})
    _add_vendors(officer_client, 60, start=30)
    assert _queries(officer_client, {"baa_status": "missing"}) == with_30


def test_it_sorts_by_status_most_urgent_first_across_pages(officer_client):
    _add_vendors(officer_client, 60)
    rows = [row for number in (1, 2, 3) for row in _page(officer_client, sort="status", page=number)]
    assert len(rows) == 60
    assert len({name for name, _ in rows}) == 60
    # missing < expiring < covered < no PHI, then by name within a status
    assert rows == sorted(rows, key=lambda row: (BAA_STATUS_RANK[BaaStatus(row[1])], row[0]))
    assert [status for _, status in rows[:15]] == [BaaStatus.MISSING] * 15
    assert [status for _, status in rows[-15:]] == [BaaStatus.NO_PHI] * 15
    reverse_rows = [row for number in (1, 2, 3) for row in _page(officer_client, sort="-status", page=number)]
    assert [status for _, status in reverse_rows] == [status for _, status in reversed(rows)]


def test_it_shows_on_each_page_the_status_it_filters_and_sorts_by(officer_client):
    """The page's keys and the page's annotations are two queries: they must agree."""
    _add_vendors(officer_client, 40)
    for status in STATUSES:
        shown = _page(officer_client, baa_status=status.value)
        assert len(shown) == 10
        assert {row_status for _, row_status in shown} == {status}
