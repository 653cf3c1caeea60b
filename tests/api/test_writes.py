"""API writes go through the pages' forms and services: the same checks, the same messages, the same
change history (with the token's owner as the author), and the compliance run scheduled after them."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from checklists.models import ChecklistItem, ItemStatus
from organizations.models import AccessAction, AccessLogEntry
from reports.models import AuditReport, ReportStatus
from tests import factories as f
from tests.api.world import ApiWorld
from vendors.models import Engagement, Vendor

API = "/api/v1"
JSON = "application/json"


@pytest.fixture
def officer(api_world: ApiWorld) -> Client:
    return api_world.client("officer")


def test_it_creates_a_vendor_through_the_service_with_its_history(
    api_world, officer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = officer.post(
            f"{API}/vendors/", {"legal_name": "  Acme   Cloud  PACS ", "category": "pacs"}, content_type=JSON
        )
    assert response.status_code == 201, response.content
    vendor = Vendor.objects.get(pk=response.json()["id"])
    assert vendor.legal_name == "Acme Cloud PACS"  # the page's form normalizes the name
    assert vendor.organization == api_world.matrix.org
    record = vendor.history.get()
    assert record.history_type == "+" and record.history_user == api_world.matrix.users["officer"]
    assert len(callbacks) == 1  # the compliance run for the organization, after the commit


def test_it_answers_with_the_pages_messages(api_world, officer):
    officer.post(f"{API}/vendors/", {"legal_name": "Dup Vendor", "category": "pacs"}, content_type=JSON)
    response = officer.post(f"{API}/vendors/", {"legal_name": "dup vendor", "category": "pacs"}, content_type=JSON)
    assert response.status_code == 400
    assert "already" in " ".join(response.json()["errors"]["legal_name"])
    response = officer.post(
        f"{API}/agreements/",
        {
            "vendor": api_world.matrix.vendor_in("own_facility").pk,
            "title": "Signed tomorrow",
            "status": "executed",
            "executed_on": "2199-01-01",
            "covers_all_facilities": True,
        },
        content_type=JSON,
    )
    assert response.status_code == 400
    assert "in the future" in " ".join(response.json()["errors"]["executed_on"])


def test_a_teleradiology_engagement_gets_its_checklist_from_the_service(api_world, officer):
    vendor = api_world.tele_engagements["own_facility"].vendor
    response = officer.post(
        f"{API}/engagements/",
        {
            "vendor": vendor.pk,
            "facility": api_world.matrix.facility_in("other_facility").pk,
            "service_description": "Weekend reads",
            "status": "active",
            "phi_receives": True,
            "phi_access_starts_on": "2026-01-05",
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    engagement = Engagement.objects.get(pk=response.json()["id"])
    assert engagement.teleradiology_checklist.items.count() == 7
    response = officer.post(
        f"{API}/engagements/",
        {
            "vendor": vendor.pk,
            "facility": engagement.facility_id,
            "service_description": "x",
            "status": "active",
            "phi_receives": True,
        },
        content_type=JSON,
    )
    assert response.status_code == 400
    assert "date PHI access started" in str(response.json()["errors"])


def test_it_moves_an_agreement_through_its_lifecycle_and_archives_instead_of_deleting(api_world, officer):
    draft = f.agreement(api_world.matrix.vendor_in("own_facility"), status=AgreementStatus.DRAFT)
    url = f"{API}/agreements/{draft.pk}/transition/"
    response = officer.post(url, {"action": "terminate"}, content_type=JSON)
    assert response.status_code == 400
    assert "cannot become terminated" in response.json()["detail"] + str(response.json().get("errors"))
    response = officer.post(url, {"action": "execute", "executed_on": "2026-11-01"}, content_type=JSON)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "executed" and response.json()["effective_on"] == "2026-11-01"
    assert officer.delete(f"{API}/agreements/{draft.pk}/").status_code == 405
    draft.refresh_from_db()
    assert [r.status for r in draft.history.order_by("history_date")] == ["draft", "executed"]


def test_a_partial_update_keeps_the_coverage_the_user_cannot_see(api_world):
    both = [api_world.matrix.facility_in("own_facility"), api_world.matrix.facility_in("other_facility")]
    agreement = f.agreement(api_world.matrix.vendor_in("own_facility"), facilities=both)
    limited = api_world.client("limited_officer")
    response = limited.patch(f"{API}/agreements/{agreement.pk}/", {"notes": "Checked"}, content_type=JSON)
    assert response.status_code == 200, response.content
    assert response.json()["covered_facilities"] == [both[0].pk]  # the other one is not shown...
    assert set(BusinessAssociateAgreement.objects.get(pk=agreement.pk).covered_facilities.all()) == set(both)


def test_it_uploads_a_pdf_and_refuses_anything_else(api_world, officer):
    agreement = api_world.agreements["own_facility"]
    fake = io.BytesIO(b"MZ not a pdf")
    fake.name = "signed.pdf"
    response = officer.post(f"{API}/documents/", {"agreement": agreement.pk, "file": fake})
    assert response.status_code == 400
    assert "not a PDF" in str(response.json()["errors"])
    pdf = io.BytesIO(f.MINIMAL_PDF)
    pdf.name = "amendment.pdf"
    response = officer.post(f"{API}/documents/", {"agreement": agreement.pk, "kind": "amendment", "file": pdf})
    assert response.status_code == 201, response.content
    download = officer.get(response.json()["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == f.MINIMAL_PDF
    entry = AccessLogEntry.objects.filter(action=AccessAction.DOWNLOAD).latest("at")
    assert entry.object_id == str(response.json()["id"]) and "through the API" in entry.description


def test_it_updates_a_checklist_item_but_never_the_computed_items_one_to_three(api_world, officer):
    item = api_world.items["own_facility"]
    response = officer.patch(
        f"{API}/checklist-items/{item.pk}/",
        {"status": "complete", "verified_on": "2026-11-20", "next_review_on": "2027-11-20"},
        content_type=JSON,
    )
    assert response.status_code == 200, response.content
    item.refresh_from_db()
    assert item.status == ItemStatus.COMPLETE and item.verified_by == api_world.matrix.users["officer"]
    assert response.json()["verified_by"] == "m_officer"
    for number, source in ((1, "agreements"), (2, "state licenses"), (3, "privileges")):
        computed = ChecklistItem.objects.get(checklist=item.checklist, number=number)
        response = officer.patch(f"{API}/checklist-items/{computed.pk}/", {"status": "complete"}, content_type=JSON)
        assert response.status_code == 400
        assert f"Item {number} is computed from the" in str(response.json()) and source in str(response.json())
        computed.refresh_from_db()
        assert computed.status == ItemStatus.COMPUTED


def test_it_acknowledges_a_finding_which_stays_open(api_world, officer):
    finding = api_world.findings["own_facility"]
    response = officer.post(f"{API}/findings/{finding.pk}/acknowledge/", {"note": "  On it  "}, content_type=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["is_open"] and body["acknowledgement_note"] == "On it" and body["acknowledged_at"]
    assert officer.post(f"{API}/findings/{finding.pk}/acknowledge/", {}, content_type=JSON).status_code == 400


def test_it_queues_a_report_and_records_the_request(api_world, officer, django_capture_on_commit_callbacks):
    facility = api_world.matrix.facility_in("own_facility")
    with django_capture_on_commit_callbacks() as callbacks:
        response = officer.post(f"{API}/reports/", {"facility": facility.pk, "paper_size": "a4"}, content_type=JSON)
    assert response.status_code == 201
    report = AuditReport.objects.get(pk=response.json()["id"])
    assert report.status == ReportStatus.QUEUED and report.generated_by == api_world.matrix.users["officer"]
    assert len(callbacks) == 1  # generation is enqueued once the transaction commits
    assert response.json()["download_url"] is None
    assert officer.get(f"{API}/reports/{report.pk}/download/").status_code == 404  # not ready yet
    entry = AccessLogEntry.objects.get(action=AccessAction.GENERATE, object_id=str(report.pk))
    assert "through the API" in entry.description
    limited = api_world.client("limited_officer")
    response = limited.post(f"{API}/reports/", {"facility": None}, content_type=JSON)
    assert response.status_code == 400  # an organization-wide report lists facilities they may not see
