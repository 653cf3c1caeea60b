"""The teleradiology checklist page: 7 items in order, item 1 computed, the others edited with evidence."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from checklists.models import TELERADIOLOGY_ITEMS, ChecklistItem, ItemStatus
from checklists.services import checklist_ensure
from organizations.models import AccessAction, AccessLogEntry, Role
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
    org = f.organization(name="Lakeside")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer", first_name="Marcus", last_name="Oyelaran")
    client.force_login(officer)
    site = f.facility(org, name="Lakeside MRI", state="IL")
    reads = f.vendor(org, legal_name="Night Reads", category=VendorCategory.TELERADIOLOGY)
    engagement = f.engagement(reads, site, phi_access_starts_on=f.days(-100))
    checklist_ensure(engagement=engagement)

    class World:
        pass

    w = World()
    w.client, w.org, w.officer, w.site, w.vendor, w.engagement = client, org, officer, site, reads, engagement
    return w


def _item(world, number: int) -> ChecklistItem:
    return ChecklistItem.objects.get(checklist__engagement=world.engagement, number=number)


def test_it_shows_the_seven_items_in_order(world):
    response = world.client.get(reverse("checklists:detail", args=[world.engagement.pk]))
    assert response.status_code == 200
    assert [item.text for item in response.context["items"]] == list(TELERADIOLOGY_ITEMS)
    html = response.content.decode()
    positions = [html.index(text) for text in TELERADIOLOGY_ITEMS]
    assert positions == sorted(positions)
    assert "Illinois" in html


def test_it_computes_item_one_from_the_agreements(world):
    url = reverse("checklists:detail", args=[world.engagement.pk])
    response = world.client.get(url)
    assert response.context["item_one"].met is False
    html = response.content.decode()
    assert "Computed from the agreements" in html and "Not met" in html
    assert f"{reverse('agreements:create')}?vendor={world.vendor.pk}&amp;facility={world.site.pk}" in html
    assert reverse("checklists:item_update", args=[_item(world, 1).pk]) not in html  # read-only

    late = f.agreement(world.vendor, title="Late BAA", executed_on=f.days(-50))  # after PHI started
    response = world.client.get(url)
    assert response.context["item_one"].met is False
    assert response.context["item_one"].agreement == late

    f.agreement(world.vendor, title="Timely BAA", executed_on=f.days(-200))
    response = world.client.get(url)
    assert response.context["item_one"].met is True
    assert "Met" in response.content.decode()


@pytest.mark.parametrize("number", [1, 2, 3])
def test_it_refuses_to_edit_a_computed_item(world, number):
    item = _item(world, number)
    response = world.client.post(reverse("checklists:item_update", args=[item.pk]), {"status": "complete"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == ItemStatus.COMPUTED


def test_it_computes_items_two_and_three_from_the_readers(world):
    url = reverse("checklists:detail", args=[world.engagement.pk])
    context = world.client.get(url).context
    assert (context["reader_items"].licensed, context["reader_items"].privileged) == (False, False)
    assert "No radiologist is recorded as reading" in world.client.get(url).content.decode()

    person = f.radiologist(world.vendor, first_name="Lise", last_name="Meitner")
    f.assignment(person, world.engagement)
    html = world.client.get(url).content.decode()
    assert "Lise Meitner" in html and "no active Illinois license" in html and "no current privileges here" in html

    f.state_license(person, world.site.state)
    f.privilege(person, world.site)
    context = world.client.get(url).context
    assert (context["reader_items"].licensed, context["reader_items"].privileged) == (True, True)


def test_it_records_the_verification_of_an_item_with_evidence(world, django_capture_on_commit_callbacks):
    item = _item(world, 5)
    form = world.client.get(reverse("checklists:item_update", args=[item.pk])).context["form"]
    assert form.initial["verified_by"] == world.officer.pk  # defaults to whoever is verifying
    evidence = SimpleUploadedFile("licenses.pdf", f.MINIMAL_PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks() as callbacks:
        response = world.client.post(
            reverse("checklists:item_update", args=[item.pk]),
            {
                "status": "complete",
                "evidence_note": "Breach-notification procedure received from the group",
                "evidence_file": evidence,
                "verified_by": world.officer.pk,
                "verified_on": "2026-11-01",
                "next_review_on": "2027-11-01",
            },
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
    item.refresh_from_db()
    assert item.status == ItemStatus.COMPLETE and item.verified_by == world.officer
    assert str(item.next_review_on) == "2027-11-01" and item.evidence_file
    html = world.client.get(reverse("checklists:detail", args=[world.engagement.pk])).content.decode()
    assert "Verified 2026-11-01 by Marcus Oyelaran" in html and "Next review due 2027-11-01" in html
    response = world.client.get(reverse("checklists:evidence_download", args=[item.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == f.MINIMAL_PDF
    assert response["X-Content-Type-Options"] == "nosniff"
    assert AccessLogEntry.objects.get().action == AccessAction.DOWNLOAD


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"status": "not_applicable"}, "not_applicable_reason", "Say why this item does not apply"),
        ({"status": "complete", "verified_by": ""}, "verified_by", "needs who verified it"),
        ({"status": "complete", "verified_on": ""}, "verified_on", "needs the date it was verified"),
        ({"status": "complete", "next_review_on": ""}, "next_review_on", "needs the date of its next review"),
        ({"next_review_on": "2026-10-01"}, "next_review_on", "must come after the verification (2026-11-01)"),
        ({"status": "computed"}, "status", "Select a valid choice."),
    ],
)
def test_it_explains_what_to_fix_in_an_item(world, data, field, message):
    item = _item(world, 6)
    payload = {
        "status": "in_progress",
        "verified_by": world.officer.pk,
        "verified_on": "2026-11-01",
        **data,
    }
    response = world.client.post(reverse("checklists:item_update", args=[item.pk]), payload)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    item.refresh_from_db()
    assert item.status == ItemStatus.NOT_STARTED


def test_it_refuses_an_executable_as_evidence(world):
    item = _item(world, 4)
    response = world.client.post(
        reverse("checklists:item_update", args=[item.pk]),
        {"status": "in_progress", "evidence_file": SimpleUploadedFile("tool.exe", b"MZ")},
    )
    assert response.status_code == 400
    assert "not accepted as evidence" in " ".join(response.context["form"].errors["evidence_file"])


def test_it_offers_only_members_of_the_organization_as_verifiers(world):
    outsider = f.user(f.organization(), username="outsider")
    form = world.client.get(reverse("checklists:item_update", args=[_item(world, 4).pk])).context["form"]
    assert outsider not in form.fields["verified_by"].queryset
    assert world.officer in form.fields["verified_by"].queryset


def test_it_answers_404_for_an_engagement_without_a_checklist(world):
    pacs = f.engagement(f.vendor(world.org), world.site)
    assert world.client.get(reverse("checklists:detail", args=[pacs.pk])).status_code == 404


def test_it_starts_a_missing_checklist_of_a_teleradiology_engagement(world):
    engagement = f.engagement(world.vendor, f.facility(world.org))  # created without the service
    url = reverse("checklists:detail", args=[engagement.pk])
    assert "has no checklist yet" in world.client.get(url).content.decode()
    assert world.client.post(url).status_code == 302
    assert ChecklistItem.objects.filter(checklist__engagement=engagement).count() == 7


# --- the permission matrix ----------------------------------------------------------------------------


@pytest.fixture
def tele_world(matrix_world):  # noqa: F811
    """A teleradiology engagement with its checklist at each scope's facility."""
    matrix_world.tele = {}
    for scope in (OWN_FACILITY, OTHER_FACILITY, OTHER_ORG):
        facility = matrix_world.facility_in(scope)
        reads = f.vendor(facility.organization, legal_name=f"Reads {scope}", category=VendorCategory.TELERADIOLOGY)
        engagement = f.engagement(reads, facility)
        checklist_ensure(engagement=engagement)
        matrix_world.tele[scope] = engagement
    return matrix_world


def test_it_guards_the_checklist_page(client, tele_world):
    assert_matrix(client, tele_world, url=lambda s: reverse("checklists:detail", args=[tele_world.tele[s].pk]))


def test_it_guards_the_item_update(client, tele_world):
    def item(scope):
        return ChecklistItem.objects.get(checklist__engagement=tele_world.tele[scope], number=5)

    assert_matrix(
        client,
        tele_world,
        url=lambda s: reverse("checklists:item_update", args=[item(s).pk]),
        method="post",
        data={"status": "in_progress", "evidence_note": "Audit log sample requested"},
        expected=expected_write,
    )
    assert item(OTHER_ORG).status == ItemStatus.NOT_STARTED
    assert item(OWN_FACILITY).status == ItemStatus.IN_PROGRESS


def test_it_offers_only_admins_and_officers_as_who_verified(world):
    admin = f.user(world.org, role=Role.ADMIN, username="verifying_admin")
    viewer = f.user(world.org, role=Role.VIEWER, username="looking_viewer")
    auditor = f.user(world.org, role=Role.AUDITOR, username="looking_auditor")
    item = _item(world, 4)  # items 1-3 are computed: no verifier to choose
    form = world.client.get(reverse("checklists:item_update", args=[item.pk])).context["form"]
    offered = set(form.fields["verified_by"].queryset)
    assert {world.officer, admin} <= offered
    assert not {viewer, auditor} & offered
