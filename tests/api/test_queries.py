"""The API's list endpoints make as many queries with three times the data (manage.py bench measures
their time at large size against the pages', docs/benchmarks.md)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.services import run_compliance
from reports.models import AuditReport
from tests import factories as f
from tests.api.world import ApiWorld
from vendors.models import VendorCategory
from vendors.services import engagement_save

LISTS = ["facilities", "vendors", "engagements", "agreements", "documents", "findings", "checklist-items", "reports"]


def grow(world: ApiWorld, times: int) -> None:
    """More of everything the lists show, in the officer's organization."""
    org = world.matrix.org
    for n in range(times):
        facility = f.facility(org, name=f"Grown Center {n}")
        vendor = f.vendor(org, legal_name=f"Grown PACS {n}")
        f.engagement(vendor, facility)
        f.agreement(vendor, facilities=[facility, world.matrix.facility_in("own_facility")], expires_on=f.days(30 + n))
        tele = f.vendor(org, legal_name=f"Grown Reads {n}", category=VendorCategory.TELERADIOLOGY)
        engagement_save(engagement=f.engagement(tele, facility, service_description="Reads"))
        AuditReport.objects.create(organization=org, facility=facility, as_of=f.TODAY)
    run_compliance(organization_id=org.pk)


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    assert response.json()["count"] > 0
    return len(captured)


@pytest.mark.parametrize("role", ["officer", "limited_officer"])
def test_list_endpoints_make_as_many_queries_whatever_the_data(api_world, role):
    client = api_world.client(role)
    for name in LISTS:
        queries(client, f"/api/v1/{name}/")  # warm-up: the first request of a client loads more
    before = {name: queries(client, f"/api/v1/{name}/") for name in LISTS}
    grow(api_world, 3)
    after = {name: queries(client, f"/api/v1/{name}/") for name in LISTS}
    assert after == before
    # A page of 50 rows: token, membership and facility limits, count, rows, prefetches, access log.
    assert max(before.values()) <= 12, before
