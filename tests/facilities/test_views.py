"""Facility pages: list, detail, create and edit, through the gate."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compliance.services import run_compliance
from facilities.models import Facility
from organizations.models import Role
from tests import factories as f
from tests.support_matrix import (
    OTHER_ORG,
    OWN_FACILITY,
    assert_list_matrix,
    assert_matrix,
    expected_write,
    login_as,
    matrix_world,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def admin_client(client):
    org = f.organization(name="Lakeside")
    client.force_login(f.user(org, role=Role.ADMIN, username="admin"))
    client.org = org
    return client


def test_it_lists_facilities_with_vendor_and_finding_counts(admin_client):
    site = f.facility(admin_client.org, name="Lakeside MRI", city="Chicago", state="IL")
    f.facility(admin_client.org, name="Closed Clinic", active=False)
    f.engagement(f.vendor(admin_client.org), site)  # PHI, no BAA: one open finding
    f.engagement(f.vendor(admin_client.org), site, phi_receives=False)
    run_compliance(organization_id=admin_client.org.pk)
    response = admin_client.get(reverse("facilities:list"))
    [row] = response.context["page"].object_list
    assert (row.name, row.engagement_count, row.phi_engagement_count, row.open_finding_count) == (
        "Lakeside MRI",
        2,
        1,
        1,
    )
    assert row.has_open_critical
    inactive = admin_client.get(reverse("facilities:list"), {"show": "inactive"}).context["page"].object_list
    assert [facility.name for facility in inactive] == ["Closed Clinic"]
    found = admin_client.get(reverse("facilities:list"), {"q": "chicago", "show": "all"}).context["page"].object_list
    assert [facility.name for facility in found] == ["Lakeside MRI"]


def test_it_lists_facilities_with_a_constant_number_of_queries(admin_client, django_assert_max_num_queries):
    def add(count, start):
        for n in range(start, start + count):
            facility = f.facility(admin_client.org, name=f"Site {n:03d}")
            f.engagement(f.vendor(admin_client.org), facility)

    add(2, 0)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("facilities:list"))
    add(30, 2)
    run_compliance(organization_id=admin_client.org.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("facilities:list"))
    assert len(response.context["page"].object_list) == 32


def test_it_shows_the_facility_page(admin_client):
    site = f.facility(admin_client.org, name="Lakeside MRI", state="IL")
    vendor = f.vendor(admin_client.org, legal_name="Sectra")
    f.engagement(vendor, site, phi_maintains=True)
    f.agreement(vendor, title="Sectra BAA")
    run_compliance(organization_id=admin_client.org.pk)
    html = admin_client.get(reverse("facilities:detail", args=[site.pk])).content.decode()
    for text in ("Illinois", "Sectra", "receives, maintains", "Sectra BAA", "No open findings"):
        assert text in html, text


def test_it_creates_and_edits_a_facility(admin_client):
    response = admin_client.post(
        reverse("facilities:create"),
        {"name": "Naperville Imaging", "kind": "imaging_center", "state": "IL", "city": "Naperville", "active": "on"},
    )
    facility = Facility.objects.get(name="Naperville Imaging")
    assert response.status_code == 302 and facility.organization == admin_client.org
    response = admin_client.post(
        reverse("facilities:update", args=[facility.pk]),
        {"name": "Naperville Imaging", "kind": "clinic", "state": "IL"},
    )
    facility.refresh_from_db()
    assert response.status_code == 302 and facility.kind == "clinic" and not facility.active


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "lakeside mri"}, "name", "already has a facility named"),
        ({"state": "XX"}, "state", "Select a valid choice."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_it_explains_what_to_fix_in_the_facility_form(admin_client, data, field, message):
    f.facility(admin_client.org, name="Lakeside MRI")
    payload = {"name": "New site", "kind": "hospital", "state": "TX", **data}
    response = admin_client.post(reverse("facilities:create"), payload)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])


def test_it_allows_the_same_facility_name_in_another_organization(admin_client):
    f.facility(f.organization(), name="Lakeside MRI")
    response = admin_client.post(
        reverse("facilities:create"), {"name": "Lakeside MRI", "kind": "hospital", "state": "TX"}
    )
    assert response.status_code == 302


# --- the permission matrix ----------------------------------------------------------------------------


def test_it_shows_each_role_only_the_facilities_it_may_see(client, matrix_world):  # noqa: F811
    assert_list_matrix(
        client, matrix_world, url=reverse("facilities:list"), marker=lambda s: matrix_world.facility_in(s).name
    )


def test_it_guards_the_facility_page(client, matrix_world):  # noqa: F811
    assert_matrix(
        client, matrix_world, url=lambda s: reverse("facilities:detail", args=[matrix_world.facility_in(s).pk])
    )


def test_it_guards_the_facility_update(client, matrix_world):  # noqa: F811
    world = matrix_world
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("facilities:update", args=[world.facility_in(s).pk]),
        method="post",
        data=lambda s: {"name": world.facility_in(s).name, "kind": "hospital", "state": "NY", "active": "on"},
        expected=expected_write,
    )
    world.facility_in(OTHER_ORG).refresh_from_db()
    assert world.facility_in(OTHER_ORG).state == "TX"
    world.facility_in(OWN_FACILITY).refresh_from_db()
    assert world.facility_in(OWN_FACILITY).state == "NY"


def test_it_lets_only_members_who_see_every_facility_add_one(client, matrix_world):  # noqa: F811
    def expected(role, scope):
        if role == "limited_officer":
            return 403  # could not see the facility it adds
        return expected_write(role, scope, success=302)

    assert_matrix(
        client,
        matrix_world,
        url=lambda s: reverse("facilities:create"),
        method="post",
        data=lambda s: {"name": f"New {Facility.objects.count()}", "kind": "clinic", "state": "OH"},
        expected=expected,
        scopes=(OWN_FACILITY,),
    )
    assert Facility.objects.filter(organization=matrix_world.org, state="OH").count() == 2  # admin and officer
    login_as(client, matrix_world, "limited_officer")
    assert reverse("facilities:create") not in client.get(reverse("facilities:list")).content.decode()


def test_it_caps_each_section_of_a_large_facility_and_links_to_the_whole_list(
    admin_client, django_assert_max_num_queries
):
    from facilities.views import DETAIL_ROWS

    site = f.facility(admin_client.org, name="Flagship")
    f.engagement(f.vendor(admin_client.org, legal_name="Vendor 000"), site)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("facilities:detail", args=[site.pk]))
    for n in range(1, DETAIL_ROWS + 5):
        f.engagement(f.vendor(admin_client.org, legal_name=f"Vendor {n:03d}"), site, phi_receives=True)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("facilities:detail", args=[site.pk]))

    html = response.content.decode()
    assert len(response.context["engagements"]) == DETAIL_ROWS
    assert response.context["engagement_count"] == DETAIL_ROWS + 5
    assert f"The first {DETAIL_ROWS} of {DETAIL_ROWS + 5} engagements" in html
    assert f"{reverse('vendors:list')}?facility={site.pk}" in html
    assert "Vendor 049" in html and "Vendor 050" not in html
