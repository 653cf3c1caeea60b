"""Vendor pages: list (filters, BAA status, sort, constant queries), detail, forms and the gate."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from checklists.models import TeleradiologyChecklist
from compliance.services import run_compliance
from organizations.models import AccessAction, AccessLogEntry, Role
from tests import factories as f
from tests.support_matrix import (
    OTHER_FACILITY,
    OTHER_ORG,
    OWN_FACILITY,
    assert_list_matrix,
    assert_matrix,
    expected_read,
    expected_write,
    login_as,
    matrix_world,  # noqa: F401 - the fixture
)
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor, VendorCategory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def officer_client(client):
    org = f.organization(name="Lakeside")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    client.force_login(officer)
    client.org = org
    client.user = officer
    return client


def _statuses(client, **params) -> dict[str, str]:
    response = client.get(reverse("vendors:list"), params)
    assert response.status_code == 200
    return {vendor.legal_name: vendor.baa_status for vendor in response.context["page"].object_list}


@pytest.fixture
def status_world(officer_client):
    """One vendor of each BAA status, with the findings of a real run of the rules engine."""
    org = officer_client.org
    site = f.facility(org, name="Lakeside MRI")
    covered = f.vendor(org, legal_name="Covered PACS")
    f.engagement(covered, site)
    f.agreement(covered)
    missing = f.vendor(org, legal_name="Missing AI", category=VendorCategory.AI_DIAGNOSTIC)
    f.engagement(missing, site)
    expiring = f.vendor(org, legal_name="Expiring Cloud", category=VendorCategory.CLOUD_DICOM_STORAGE)
    f.engagement(expiring, site)
    f.agreement(expiring, expires_on=f.days(20))
    no_phi = f.vendor(org, legal_name="Courier Conduit", category=VendorCategory.OTHER, is_conduit=True)
    f.engagement(no_phi, site, phi_receives=False)
    run_compliance(organization_id=org.pk, as_of=f.TODAY)
    return officer_client


def test_it_shows_each_vendors_baa_status_from_the_findings_and_rule_building_blocks(status_world):
    assert _statuses(status_world) == {
        "Covered PACS": "covered",
        "Missing AI": "missing",
        "Expiring Cloud": "expiring",
        "Courier Conduit": "no_phi",
    }


def test_it_never_shows_a_vendor_as_covered_before_the_engine_has_run(officer_client):
    org = officer_client.org
    vendor = f.vendor(org, legal_name="Brand New AI")
    f.engagement(vendor, f.facility(org))  # PHI access, no BAA, no compliance run yet
    assert _statuses(officer_client) == {"Brand New AI": "missing"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"baa_status": "missing"}, {"Missing AI"}),
        ({"baa_status": "expiring"}, {"Expiring Cloud"}),
        ({"baa_status": "covered"}, {"Covered PACS"}),
        ({"baa_status": "no_phi"}, {"Courier Conduit"}),
        ({"phi_access": "yes"}, {"Covered PACS", "Missing AI", "Expiring Cloud"}),
        ({"phi_access": "no"}, {"Courier Conduit"}),
        ({"category": "ai_diagnostic"}, {"Missing AI"}),
        ({"q": "cloud"}, {"Expiring Cloud"}),
        ({"q": "image storage"}, {"Covered PACS", "Missing AI", "Expiring Cloud", "Courier Conduit"}),
    ],
)
def test_it_filters_the_vendors(status_world, params, expected):
    assert set(_statuses(status_world, **params)) == expected


def test_it_filters_by_facility(officer_client):
    org = officer_client.org
    here, there = f.facility(org, name="Here"), f.facility(org, name="There")
    f.engagement(f.vendor(org, legal_name="Here Vendor"), here)
    f.engagement(f.vendor(org, legal_name="There Vendor"), there)
    assert set(_statuses(officer_client, facility=here.pk)) == {"Here Vendor"}


def test_it_sorts_by_status_most_urgent_first(status_world):
    response = status_world.get(reverse("vendors:list"), {"sort": "status"})
    names = [vendor.legal_name for vendor in response.context["page"].object_list]
    assert names == ["Missing AI", "Expiring Cloud", "Covered PACS", "Courier Conduit"]
    response = status_world.get(reverse("vendors:list"), {"sort": "-name"})
    names = [vendor.legal_name for vendor in response.context["page"].object_list]
    assert names == sorted(names, reverse=True)


def test_it_paginates_the_vendors(officer_client):
    for number in range(30):
        f.vendor(officer_client.org, legal_name=f"Vendor {number:02d}")
    first = officer_client.get(reverse("vendors:list"))
    second = officer_client.get(reverse("vendors:list"), {"page": 2})
    assert len(first.context["page"].object_list) == 25
    assert [v.legal_name for v in second.context["page"].object_list] == [f"Vendor {n}" for n in range(25, 30)]


def _add_vendors(org, count: int, facilities, start: int = 0) -> None:
    for number in range(start, start + count):
        vendor = f.vendor(org, legal_name=f"Bulk {number:03d}")
        for facility in facilities:
            f.engagement(vendor, facility)
        if number % 2:
            f.agreement(vendor, signed_document=False)
        if number % 3 == 0:
            f.subcontractor_link(vendor)


def test_it_lists_vendors_with_a_constant_number_of_queries(officer_client, django_assert_max_num_queries):
    org = officer_client.org
    facilities = [f.facility(org), f.facility(org)]
    _add_vendors(org, 3, facilities)
    run_compliance(organization_id=org.pk)
    with CaptureQueriesContext(connection) as few:
        assert officer_client.get(reverse("vendors:list")).status_code == 200
    _add_vendors(org, 30, facilities, start=3)
    run_compliance(organization_id=org.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = officer_client.get(reverse("vendors:list"), {"sort": "status"})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 25


def test_it_shows_the_vendor_page_with_engagements_agreements_subcontractors_findings_and_history(officer_client):
    org = officer_client.org
    site = f.facility(org, name="Lakeside MRI")
    vendor = f.vendor(org, legal_name="Night Reads", category=VendorCategory.TELERADIOLOGY)
    engagement = f.engagement(vendor, site, phi_maintains=True, data_location="AWS us-east-1")
    TeleradiologyChecklist.objects.create(engagement=engagement)
    baa = f.agreement(vendor, title="Night Reads BAA 2024")
    host = f.vendor(org, legal_name="Cloud Host LLC", category=VendorCategory.CLOUD_HOSTING)
    f.subcontractor_link(vendor, subcontractor=host)
    prime = f.vendor(org, legal_name="Prime PACS")
    f.subcontractor_link(prime, subcontractor=vendor)
    run_compliance(organization_id=org.pk)
    # A change through the form, so that the history names who changed what.
    officer_client.post(
        reverse("vendors:update", args=[vendor.pk]),
        {"legal_name": "Night Reads", "category": "teleradiology", "contact_name": "Dana Reyes"},
    )
    response = officer_client.get(reverse("vendors:detail", args=[vendor.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Lakeside MRI",
        "receives, maintains",
        "AWS us-east-1",
        "Night Reads BAA 2024",
        "Cloud Host LLC",
        "Touches PHI, no downstream BAA attested",
        "Prime PACS",
        "Teleradiology checklist incomplete",
        "Dana Reyes",
    ):
        assert text in html, text
    assert reverse("agreements:detail", args=[baa.pk]) in html
    assert reverse("checklists:detail", args=[engagement.pk]) in html
    change = next(entry for entry in response.context["history"] if entry.subject_type == "Vendor" and entry.changes)
    assert change.user == officer_client.user
    assert [(c.field, c.old, c.new) for c in change.changes] == [("contact name", "(empty)", "Dana Reyes")]


def test_it_creates_a_vendor_and_refuses_a_duplicate_name(officer_client):
    response = officer_client.post(
        reverse("vendors:create"), {"legal_name": "Aidoc", "category": "ai_diagnostic", "website": "aidoc.example"}
    )
    vendor = Vendor.objects.get(legal_name="Aidoc")
    assert response.status_code == 302
    assert vendor.organization == officer_client.org
    assert vendor.website == "https://aidoc.example"
    response = officer_client.post(reverse("vendors:create"), {"legal_name": "aidoc", "category": "pacs"})
    assert response.status_code == 400
    assert (
        "A vendor named \u201caidoc\u201d is already in your inventory."
        in response.context["form"].errors["legal_name"]
    )


def test_it_refuses_to_mark_a_vendor_with_phi_access_as_conduit(officer_client, django_capture_on_commit_callbacks):
    vendor = f.vendor(officer_client.org, legal_name="ISP")
    f.engagement(vendor, f.facility(officer_client.org))
    with django_capture_on_commit_callbacks() as callbacks:
        response = officer_client.post(
            reverse("vendors:update", args=[vendor.pk]), {"legal_name": "ISP", "category": "other", "is_conduit": "on"}
        )
    assert response.status_code == 400
    assert "is a business associate, not a conduit" in " ".join(response.context["form"].errors["is_conduit"])
    assert callbacks == []  # nothing saved, nothing scheduled


def test_it_saves_an_engagement_and_schedules_a_compliance_run(officer_client, django_capture_on_commit_callbacks):
    org = officer_client.org
    vendor = f.vendor(org, legal_name="Night Reads", category=VendorCategory.TELERADIOLOGY)
    site = f.facility(org)
    with django_capture_on_commit_callbacks() as callbacks:
        response = officer_client.post(
            reverse("vendors:engagement_create", args=[vendor.pk]),
            {
                "facility": site.pk,
                "service_description": "Overnight reads",
                "phi_receives": "on",
                "phi_creates": "on",
                "phi_access_starts_on": "2026-01-05",
                "status": "active",
            },
        )
    assert response.status_code == 302
    engagement = Engagement.objects.get(vendor=vendor)
    assert engagement.phi_verbs == ["creates", "receives"]
    assert engagement.teleradiology_checklist.items.count() == 7  # teleradiology: the 7-item checklist
    assert len(callbacks) == 1  # schedule_compliance_run on commit


def test_it_shows_the_phi_verbs_with_their_regulatory_help(officer_client):
    vendor = f.vendor(officer_client.org)
    html = officer_client.get(reverse("vendors:engagement_create", args=[vendor.pk])).content.decode()
    assert "45 CFR 160.103" in html
    for verb in ("creates PHI", "receives PHI", "maintains PHI", "transmits PHI"):
        assert verb in html.lower().replace("phi", "PHI")
    assert "DICOM headers carry" in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"phi_receives": "on", "phi_access_starts_on": "2026-01-05"}, "phi_receives", "mere conduit"),
        ({"phi_receives": "on"}, "phi_access_starts_on", "needs the date PHI access started"),
        (
            {"phi_access_starts_on": "2026-02-01", "ends_on": "2026-01-01"},
            "ends_on",
            "cannot end (2026-01-01) before PHI access starts (2026-02-01)",
        ),
        ({"service_description": ""}, "service_description", "This field is required."),
    ],
)
def test_it_puts_each_engagement_error_on_its_field(officer_client, data, field, message):
    org = officer_client.org
    conduit = f.vendor(org, legal_name="ISP", category=VendorCategory.NETWORK_CARRIER, is_conduit=True)
    payload = {"facility": f.facility(org).pk, "service_description": "Link", "status": "active", **data}
    response = officer_client.post(reverse("vendors:engagement_create", args=[conduit.pk]), payload)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Engagement.objects.exists()


def test_it_edits_an_engagement(officer_client):
    engagement = f.engagement(f.vendor(officer_client.org), f.facility(officer_client.org))
    response = officer_client.post(
        reverse("vendors:engagement_update", args=[engagement.pk]),
        {
            "facility": engagement.facility_id,
            "service_description": "Archive",
            "phi_maintains": "on",
            "phi_access_starts_on": "2025-01-01",
            "status": "offboarded",
            "ends_on": "2026-06-30",
        },
    )
    assert response.status_code == 302
    engagement.refresh_from_db()
    assert engagement.status == "offboarded" and engagement.phi_verbs == ["maintains"]


def test_it_offers_only_the_users_facilities_for_an_engagement(client):
    org = f.organization()
    own, other = f.facility(org, name="Own site"), f.facility(org, name="Other site")
    officer = f.user(org, facilities=[own])
    client.force_login(officer)
    vendor = f.vendor(org)  # no engagement yet: visible to the limited officer
    form = client.get(reverse("vendors:engagement_create", args=[vendor.pk])).context["form"]
    assert list(form.fields["facility"].queryset) == [own]
    response = client.post(
        reverse("vendors:engagement_create", args=[vendor.pk]),
        {"facility": other.pk, "service_description": "x", "status": "planned"},
    )
    assert response.status_code == 400
    assert "facility" in response.context["form"].errors


def test_it_links_a_subcontractor_and_refuses_it_twice(officer_client, django_capture_on_commit_callbacks):
    org = officer_client.org
    pacs = f.vendor(org, legal_name="PACS Co")
    host = f.vendor(org, legal_name="Host Co", category=VendorCategory.CLOUD_HOSTING)
    data = {"subcontractor": host.pk, "service_description": "Hosting", "touches_phi": "on"}
    with django_capture_on_commit_callbacks() as callbacks:
        assert officer_client.post(reverse("vendors:subcontractor_create", args=[pacs.pk]), data).status_code == 302
    assert len(callbacks) == 1
    response = officer_client.post(reverse("vendors:subcontractor_create", args=[pacs.pk]), data)
    assert response.status_code == 400
    assert "already recorded as a subcontractor" in " ".join(response.context["form"].errors["subcontractor"])
    link = SubcontractorLink.objects.get()
    response = officer_client.post(
        reverse("vendors:subcontractor_update", args=[link.pk]),
        {**data, "downstream_baa_attested_on": "2026-10-01", "attestation_evidence": "Letter from counsel"},
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert str(link.downstream_baa_attested_on) == "2026-10-01"


def test_it_never_offers_a_vendor_of_another_organization_as_subcontractor(officer_client):
    pacs = f.vendor(officer_client.org)
    foreign = f.vendor(f.organization(), legal_name="Foreign Host")
    form = officer_client.get(reverse("vendors:subcontractor_create", args=[pacs.pk])).context["form"]
    assert foreign not in form.fields["subcontractor"].queryset
    response = officer_client.post(
        reverse("vendors:subcontractor_create", args=[pacs.pk]), {"subcontractor": foreign.pk, "touches_phi": "on"}
    )
    assert response.status_code == 400
    assert not SubcontractorLink.objects.exists()


# --- export -----------------------------------------------------------------------------------------


def test_it_exports_the_inventory_safely_and_records_it(officer_client):
    org = officer_client.org
    vendor = f.vendor(org, legal_name='=HYPERLINK("http://evil.example","click")', notes="@SUM(A1)")
    f.engagement(vendor, f.facility(org, name="+Lakeside"), service_description="-1+2")
    response = officer_client.get(reverse("vendors:export"), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="vendor-inventory-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0]["legal_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[0]["facility"] == "'+Lakeside"
    assert rows[0]["service_description"] == "'-1+2"
    assert rows[0]["notes"] == "'@SUM(A1)"
    assert rows[0]["baa_status"] == "BAA missing"
    entry = AccessLogEntry.objects.get()
    assert entry.action == AccessAction.EXPORT and entry.user == officer_client.user
    assert "vendor inventory" in entry.description

    response = officer_client.get(reverse("vendors:export"), {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A2"].value.startswith("'=HYPERLINK") and sheet["A2"].data_type == "s"
    assert AccessLogEntry.objects.count() == 2


def test_it_exports_only_the_filtered_vendors(status_world):
    response = status_world.get(reverse("vendors:export"), {"format": "csv", "baa_status": "missing"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["legal_name"] for row in rows] == ["Missing AI"]


# --- the permission matrix ----------------------------------------------------------------------------


def test_it_shows_each_role_only_the_vendors_it_may_see(client, matrix_world):  # noqa: F811
    assert_list_matrix(
        client, matrix_world, url=reverse("vendors:list"), marker=lambda s: matrix_world.vendor_in(s).legal_name
    )


def test_it_exports_only_the_vendors_each_role_may_see(client, matrix_world):  # noqa: F811
    assert_list_matrix(
        client,
        matrix_world,
        url=reverse("vendors:export") + "?format=csv",
        marker=lambda s: matrix_world.vendor_in(s).legal_name,
    )


def test_it_guards_the_vendor_page(client, matrix_world):  # noqa: F811
    assert_matrix(client, matrix_world, url=lambda s: reverse("vendors:detail", args=[matrix_world.vendor_in(s).pk]))


def test_it_guards_the_vendor_edit_page(client, matrix_world):  # noqa: F811
    assert_matrix(
        client,
        matrix_world,
        url=lambda s: reverse("vendors:update", args=[matrix_world.vendor_in(s).pk]),
        expected=lambda role, scope: expected_write(role, scope, success=200),
    )


def test_it_guards_the_vendor_update(client, matrix_world):  # noqa: F811
    world = matrix_world
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("vendors:update", args=[world.vendor_in(s).pk]),
        method="post",
        data=lambda s: {"legal_name": world.vendor_in(s).legal_name, "category": "pacs", "contact_name": "Changed"},
        expected=lambda role, scope: expected_write(role, scope, success=302),
    )
    # Only the writes that were allowed changed anything.
    changed = dict(Vendor.objects.values_list("legal_name", "contact_name"))
    assert changed == {
        world.vendor_in(OWN_FACILITY).legal_name: "Changed",
        world.vendor_in(OTHER_FACILITY).legal_name: "Changed",
        world.vendor_in(OTHER_ORG).legal_name: "",
    }


def test_it_guards_the_engagement_forms(client, matrix_world):  # noqa: F811
    world = matrix_world

    def data(scope):
        return {
            "facility": world.facility_in(scope).pk,
            "service_description": "Second service",
            "phi_maintains": "on",
            "phi_access_starts_on": "2026-01-01",
            "status": "active",
        }

    before = Engagement.objects.count()
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("vendors:engagement_create", args=[world.vendor_in(s).pk]),
        method="post",
        data=data,
        expected=lambda role, scope: expected_write(role, scope),
    )
    # admin and officer at both facilities of the organization, the limited officer at its own only.
    assert Engagement.objects.count() == before + 5
    assert not Engagement.objects.filter(facility=world.facility_in(OTHER_ORG), service_description="Second service")
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("vendors:engagement_update", args=[world.engagement_in(s).pk]),
        method="post",
        data=data,
        expected=lambda role, scope: expected_write(role, scope),
    )


def test_it_guards_the_subcontractor_form(client, matrix_world):  # noqa: F811
    world = matrix_world

    def data(scope):
        host = f.vendor(world.organization_of(scope), category=VendorCategory.CLOUD_HOSTING)
        return {"subcontractor": host.pk, "touches_phi": "on"}

    assert_matrix(
        client,
        world,
        url=lambda s: reverse("vendors:subcontractor_create", args=[world.vendor_in(s).pk]),
        method="post",
        data=data,
        expected=lambda role, scope: expected_write(role, scope),
    )
    assert not SubcontractorLink.objects.filter(vendor=world.vendor_in(OTHER_ORG)).exists()


@pytest.mark.parametrize("url_name", ["vendors:create", "vendors:import"])
def test_it_keeps_the_create_and_import_pages_for_roles_that_may_change(client, matrix_world, url_name):  # noqa: F811
    assert_matrix(
        client,
        matrix_world,
        url=lambda s: reverse(url_name),
        expected=lambda role, scope: expected_write(role, scope, success=200),
        scopes=(OWN_FACILITY,),
    )


def test_it_answers_404_for_vendors_of_another_organization_even_to_admins(client, matrix_world):  # noqa: F811
    login_as(client, matrix_world, "admin")
    foreign = matrix_world.vendor_in(OTHER_ORG)
    for name in ("vendors:detail", "vendors:update", "vendors:engagement_create", "vendors:subcontractor_create"):
        assert client.get(reverse(name, args=[foreign.pk])).status_code == 404, name
    assert expected_read("admin", OTHER_ORG) == 404


def test_it_does_not_offer_edit_buttons_to_read_only_roles(client, matrix_world):  # noqa: F811
    login_as(client, matrix_world, "viewer")
    vendor = matrix_world.vendor_in(OWN_FACILITY)
    html = client.get(reverse("vendors:detail", args=[vendor.pk])).content.decode()
    assert reverse("vendors:update", args=[vendor.pk]) not in html
    assert reverse("vendors:create") not in client.get(reverse("vendors:list")).content.decode()


def test_it_ignores_a_filter_value_it_does_not_know_and_says_so(officer_client):
    f.vendor(officer_client.org, legal_name="Any Vendor")
    response = officer_client.get(reverse("vendors:list"), {"baa_status": "bogus"})
    assert response.status_code == 200
    assert "baa_status" in response.context["filter"].form.errors
    assert [v.legal_name for v in response.context["page"].object_list] == ["Any Vendor"]


def test_it_offers_each_sort_once(officer_client):
    form = officer_client.get(reverse("vendors:list")).context["filter"].form
    labels = [label for _, label in form.fields["sort"].choices]
    assert labels.count("Name") == 1
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize(
    ("starts_in_days", "status", "expected"),
    [
        (0, "", EngagementStatus.ACTIVE),  # PHI access starts today
        (-30, "", EngagementStatus.ACTIVE),
        (10, "", EngagementStatus.PLANNED),
        (-30, "planned", EngagementStatus.PLANNED),  # a status chosen is kept
    ],
)
def test_a_new_engagements_status_follows_its_phi_start_date_unless_chosen(
    officer_client, starts_in_days, status, expected
):
    vendor = f.vendor(officer_client.org)
    site = f.facility(officer_client.org)
    starts_on = timezone.localdate() + datetime.timedelta(days=starts_in_days)
    response = officer_client.post(
        reverse("vendors:engagement_create", args=[vendor.pk]),
        {
            "facility": site.pk,
            "service_description": "Reads",
            "phi_receives": "on",
            "phi_access_starts_on": starts_on.isoformat(),
            "status": status,
        },
    )
    assert response.status_code == 302
    assert Engagement.objects.get(vendor=vendor).status == expected


def test_it_adds_a_vendor_from_a_facility_page_and_goes_on_to_its_engagement_there(officer_client):
    site = f.facility(officer_client.org, name="North Clinic")
    page = officer_client.get(reverse("facilities:detail", args=[site.pk])).content.decode()
    add_here = f'href="{reverse("vendors:create")}?facility={site.pk}"'
    assert add_here in page and "Add a vendor here" in page

    response = officer_client.post(
        f"{reverse('vendors:create')}?facility={site.pk}", {"legal_name": "Here Vendor", "category": "pacs"}
    )

    vendor = Vendor.objects.get(legal_name="Here Vendor")
    assert response.url == f"{reverse('vendors:engagement_create', args=[vendor.pk])}?facility={site.pk}"
    form = officer_client.get(response.url).context["form"]
    assert form["facility"].value() == site.pk


def test_a_facility_page_says_which_agreements_are_organization_wide(officer_client):
    site = f.facility(officer_client.org)
    f.agreement(f.vendor(officer_client.org), title="Everywhere BAA")  # covers all facilities
    f.agreement(f.vendor(officer_client.org), title="Here Only BAA", facilities=[site])
    page = officer_client.get(reverse("facilities:detail", args=[site.pk])).content.decode()
    everywhere, here_only = page.split("Everywhere BAA")[1], page.split("Here Only BAA")[1]
    assert "Organization-wide" in everywhere.split("</li>")[0]
    assert "Organization-wide" not in here_only.split("</li>")[0]
