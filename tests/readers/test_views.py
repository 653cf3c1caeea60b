"""The readers pages: forms through the services, the licensure matrices, the import page, and the
permission gate on each (403 for a role that may not act, 404 outside the user's scope)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from compliance.models import Finding, FindingKind
from compliance.services import run_compliance
from organizations.models import Role
from readers.models import Privilege, Radiologist, ReadingAssignment, StateLicense
from tests import factories as f
from tests.support_matrix import (
    OTHER_FACILITY,
    OTHER_ORG,
    OWN_FACILITY,
    assert_matrix,
    expected_write,
    matrix_world,  # noqa: F401 - the fixture
)
from vendors.models import VendorCategory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world(client):
    class World:
        pass

    w = World()
    w.org = f.organization(name="Lakeside")
    w.officer = f.user(w.org, role=Role.COMPLIANCE_OFFICER, username="officer")
    client.force_login(w.officer)
    w.client = client
    w.site = f.facility(w.org, name="Lakeside MRI", state="IL")
    w.vendor = f.vendor(w.org, legal_name="Night Reads", category=VendorCategory.TELERADIOLOGY)
    w.engagement = f.engagement(w.vendor, w.site)
    return w


def test_it_records_a_radiologist_a_license_an_assignment_and_privileges(world, django_capture_on_commit_callbacks):
    npi = f.npi()
    with django_capture_on_commit_callbacks() as callbacks:
        response = world.client.post(
            reverse("readers:radiologist_create", args=[world.vendor.pk]),
            {
                "first_name": "Lise",
                "last_name": "Meitner",
                "npi": npi,
                "board": "ABR",
                "roster_starts_on": "2026-01-05",
            },
        )
    person = Radiologist.objects.get(npi=npi)
    assert response.status_code == 302 and response["Location"] == reverse(
        "readers:radiologist_detail", args=[person.pk]
    )
    assert len(callbacks) == 1, "the compliance run is scheduled after the commit"

    pages = [
        ("readers:license_create", {"state": "IL", "number": "036-1", "status": "active", "issued_on": "2020-01-01",
                                    "expires_on": "2027-07-31", "verification_source": "state_board",
                                    "verified_by": world.officer.pk, "verified_on": "2026-11-01"}),
        ("readers:assignment_create", {"engagement": world.engagement.pk, "starts_on": "2026-02-01"}),
        ("readers:privilege_create", {"facility": world.site.pk, "basis": "direct", "scope": "Teleradiology",
                                      "granted_on": "2026-01-15", "expires_on": "2028-01-14"}),
    ]  # fmt: skip
    for name, data in pages:
        response = world.client.post(reverse(name, args=[person.pk]), data)
        assert response.status_code == 302, (name, response.context and response.context["form"].errors)
    assert StateLicense.objects.get(radiologist=person).history.count() == 1
    assert ReadingAssignment.objects.get(radiologist=person).engagement == world.engagement
    assert Privilege.objects.get(radiologist=person).facility == world.site

    html = world.client.get(reverse("readers:radiologist_detail", args=[person.pk])).content.decode()
    assert "036-1" in html and "Lakeside MRI (IL)" in html and "Credentialed directly by the facility" in html


def test_it_explains_a_bad_npi_and_an_impossible_date(world):
    response = world.client.post(
        reverse("readers:radiologist_create", args=[world.vendor.pk]),
        {
            "first_name": "A",
            "last_name": "B",
            "npi": "1234567890",
            "board_certified_on": "2020-01-01",
            "board_certification_expires_on": "2019-01-01",
            "roster_starts_on": "2026-01-05",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "check digit should be 3" in " ".join(errors["npi"])
    assert "must expire after it was granted" in " ".join(errors["__all__"])
    assert not Radiologist.objects.exists()


def test_it_refuses_a_reading_assignment_for_another_vendors_engagement(world):
    person = f.radiologist(world.vendor)
    other = f.engagement(f.vendor(world.org, category=VendorCategory.TELERADIOLOGY), world.site)
    response = world.client.post(
        reverse("readers:assignment_create", args=[person.pk]), {"engagement": other.pk, "starts_on": "2026-02-01"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in " ".join(response.context["form"].errors["engagement"])


def test_the_matrices_mark_missing_and_expiring_licenses(world):
    licensed = f.reader(world.engagement, first_name="Grace", last_name="Hopper")
    StateLicense.objects.filter(radiologist=licensed).update(expires_on=f.days(20))
    unlicensed = f.radiologist(world.vendor, first_name="Edsger", last_name="Dijkstra")
    f.state_license(unlicensed, "WI")
    f.assignment(unlicensed, world.engagement)
    run_compliance()  # as of today, as the pages (the factories' dates are near enough for these)

    for url in (
        reverse("readers:roster", args=[world.vendor.pk]),
        reverse("readers:facility_matrix", args=[world.site.pk]),
    ):
        response = world.client.get(url)
        matrix = response.context["matrix"]
        assert [code for code, _ in matrix.states] == ["IL", "WI"]
        cells = {person.name: [(c.css, bool(c.license)) for c in row] for person, row in matrix.rows}
        assert cells == {
            "Grace Hopper": [("table-warning", True), ("", False)],
            "Edsger Dijkstra": [("table-danger", False), ("", True)],
        }
        html = response.content.decode()
        assert "Grace Hopper" in html and "Edsger Dijkstra" in html


def test_the_import_page_lists_what_to_fix_per_row_and_saves_nothing(world):
    upload = io.BytesIO(b"npi,first_name,last_name\n1234567890,Bad,Check\n" + f.npi().encode() + b",Good,Row\n")
    upload.name = "roster.csv"
    response = world.client.post(reverse("readers:import", args=[world.vendor.pk]), {"kind": "roster", "file": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html and "Row 2:" in html and "check digit should be 3" in html
    assert not Radiologist.objects.exists()

    good = io.BytesIO(b"npi,first_name,last_name\n" + f.npi().encode() + b",Good,Row\n")
    good.name = "roster.csv"
    response = world.client.post(reverse("readers:import", args=[world.vendor.pk]), {"kind": "roster", "file": good})
    assert response.status_code == 302 and Radiologist.objects.count() == 1


def test_a_finding_about_a_reader_links_to_the_radiologists_page(world):
    person = f.radiologist(world.vendor)
    f.assignment(person, world.engagement)
    run_compliance(as_of=f.TODAY)
    finding = Finding.objects.get(kind=FindingKind.READER_UNLICENSED)

    html = world.client.get(reverse("compliance:finding_detail", args=[finding.pk])).content.decode()

    assert reverse("readers:radiologist_detail", args=[person.pk]) in html


# --- the permission matrix ----------------------------------------------------------------------------


@pytest.fixture
def reader_world(matrix_world):  # noqa: F811
    """A teleradiology vendor reading at each scope's facility, with one radiologist."""
    matrix_world.readers = {}
    for scope in (OWN_FACILITY, OTHER_FACILITY, OTHER_ORG):
        facility = matrix_world.facility_in(scope)
        vendor = f.vendor(facility.organization, legal_name=f"Reads {scope}", category=VendorCategory.TELERADIOLOGY)
        f.engagement(vendor, facility)
        matrix_world.readers[scope] = f.radiologist(vendor)
    return matrix_world


def test_it_guards_the_readers_pages(client, reader_world):
    readers = reader_world.readers
    assert_matrix(client, reader_world, url=lambda s: reverse("readers:radiologist_detail", args=[readers[s].pk]))
    assert_matrix(client, reader_world, url=lambda s: reverse("readers:roster", args=[readers[s].vendor_id]))
    assert_matrix(
        client,
        reader_world,
        url=lambda s: reverse("readers:facility_matrix", args=[reader_world.facility_in(s).pk]),
    )


def test_it_guards_the_license_form(client, reader_world):
    readers = reader_world.readers
    assert_matrix(
        client,
        reader_world,
        url=lambda s: reverse("readers:license_create", args=[readers[s].pk]),
        method="post",
        data=lambda s: {
            "state": "TX",
            "number": f"N-{StateLicense.objects.count()}",
            "status": "active",
            "issued_on": "2020-01-01",
            "expires_on": "2028-01-01",
            "verification_source": "state_board",
        },
        expected=expected_write,
    )
    assert not StateLicense.objects.filter(radiologist=readers[OTHER_ORG]).exists()
    assert StateLicense.objects.filter(radiologist=readers[OWN_FACILITY]).exists()


def test_a_license_finding_is_shown_where_the_radiologists_vendor_is_visible(world, client):
    """A license finding has no facility: a member limited to facilities sees it where the vendor serves one."""
    person = f.radiologist(world.vendor, first_name="Barbara", last_name="McClintock")
    f.state_license(person, "IL", expires_on=f.days(20))
    run_compliance()
    finding = Finding.objects.get(kind=FindingKind.READER_LICENSE_EXPIRING)
    url = reverse("compliance:finding_detail", args=[finding.pk])

    response = world.client.get(url)
    assert response.status_code == 200 and "Barbara McClintock" in response.content.decode()
    limited_here = f.user(world.org, facilities=[world.site])
    limited_elsewhere = f.user(world.org, facilities=[f.facility(world.org)])
    client.force_login(limited_here)
    assert client.get(url).status_code == 200
    client.force_login(limited_elsewhere)
    assert client.get(url).status_code == 404
