"""Bulk onboarding's services: the upload's checks (ZIP bombs, path tricks, non-PDFs), the worker's
reading of a draft and its vendor proposal, the terms spreadsheet, and the confirmation."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import ValidationError

from agreements.models import AgreementStatus, BreachWindowUnit
from baatracker.spreadsheets import read_spreadsheet
from compliance.models import Finding, FindingKind
from compliance.services import run_compliance
from documents import corpus
from documents.models import DocumentReading, KeyTermSuggestion, ProvisionReview, ReadingState, SuggestionState
from onboarding import terms
from onboarding.models import DraftState, OnboardingDraft
from onboarding.services import Confirmation, draft_confirm, draft_discard, draft_read, drafts_upload
from organizations.models import Role
from tests import factories as f
from tests.onboarding.conftest import zip_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(db):
    org = f.organization(name="Lakeside Imaging Network")
    return f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")


def _upload(officer, uploads, *, capture=None):
    return drafts_upload(
        uploads=uploads,
        user=officer,
        membership=officer.membership,
        covers_all_facilities=True,
        facilities=[],
    )


def _confirmation(**kwargs) -> Confirmation:
    values = dict(
        title="",
        executed_on=datetime.date(2025, 1, 1),
        effective_on=datetime.date(2025, 1, 1),
        expires_on=None,
        breach_notification_window=4,
        breach_notification_unit=BreachWindowUnit.HOURS,
        covers_all_facilities=True,
        facilities=[],
    )
    values.update(kwargs)
    return Confirmation(**values)


def test_it_makes_a_draft_per_pdf_and_enqueues_its_reading_on_commit(
    officer, hhs_pdf, commercial_pdf, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        result = _upload(officer, [("a.pdf", hhs_pdf), ("bundle.zip", zip_of({"folder/b.pdf": commercial_pdf}))])
    assert [d.original_name for d in result.created] == ["a.pdf", "b.pdf"]
    assert result.refused == []
    assert len(callbacks) == 2
    assert {d.state for d in OnboardingDraft.objects.all()} == {DraftState.QUEUED}


def test_it_refuses_non_pdfs_path_tricks_bombs_and_nested_zips_each_with_its_reason(officer, hhs_pdf):
    bomb = zip_of({"bomb.pdf": b"%PDF-" + b"\0" * 5_000_000})
    uploads = [
        ("notes.txt", b"hello"),
        ("bomb.zip", bomb),
        (
            "tricks.zip",
            zip_of({"../../etc/evil.pdf": hhs_pdf, "/abs.pdf": hhs_pdf, "inner.zip": zip_of({"x.pdf": hhs_pdf})}),
        ),
        ("broken.zip", b"PK\x03\x04garbage"),
        ("mac.zip", zip_of({"__MACOSX/._ok.pdf": b"meta"})),
        ("ok.pdf", hhs_pdf),
    ]
    result = _upload(officer, uploads)
    reasons = dict(result.refused)
    assert [d.original_name for d in result.created] == ["ok.pdf"]
    assert "not a PDF" in reasons["notes.txt"]
    assert "ZIP bomb" in reasons["bomb.zip: bomb.pdf"]
    assert "climbs out" in reasons["tricks.zip: ../../etc/evil.pdf"]
    assert "absolute" in reasons["tricks.zip: /abs.pdf"]
    assert "ZIP inside the ZIP" in reasons["tricks.zip: inner.zip"]
    assert "cannot be read" in reasons["broken.zip"]
    assert "Skipped: a hidden or archiver's metadata file" in reasons["mac.zip: __MACOSX/._ok.pdf"]
    assert OnboardingDraft.objects.count() == 1


def test_it_refuses_the_same_pdf_twice_while_it_waits_in_the_queue(officer, hhs_pdf):
    _upload(officer, [("a.pdf", hhs_pdf)])
    result = _upload(officer, [("copy.pdf", hhs_pdf)])
    assert result.created == []
    assert "already in the review queue" in result.refused[0][1]


def test_it_reads_a_draft_and_proposes_the_matching_vendor_terms_and_provisions(officer, hhs_pdf):
    vendor = f.vendor(officer.membership.organization, legal_name="Northwind PACS, Inc")
    f.vendor(officer.membership.organization, legal_name="Cloudline Imaging Systems")
    (draft,) = _upload(officer, [("a.pdf", hhs_pdf)]).created
    draft = draft_read(draft_id=draft.pk)
    assert draft.state == DraftState.READY
    assert draft.vendor == vendor and draft.vendor_score >= 85
    assert draft.provisions_found == 12
    assert draft.key_terms["breach_window"]["value"]["value"] == 4
    assert draft.key_terms["breach_window"]["value"]["unit"] == BreachWindowUnit.HOURS
    assert draft.pages_done == draft.pages_total == len(draft.pages) >= 1
    assert draft_read(draft_id=draft.pk).state == DraftState.READY  # idempotent: not read again


def test_it_proposes_a_new_vendor_when_no_inventory_name_matches(officer, commercial_pdf):
    f.vendor(officer.membership.organization, legal_name="Aidoc Medical")
    (draft,) = _upload(officer, [("c.pdf", commercial_pdf)]).created
    draft = draft_read(draft_id=draft.pk)
    assert draft.vendor is None
    assert draft.proposed_vendor_name == "Cloudline Imaging Systems LLC"
    assert draft.vendor_score < 85


def test_a_refused_draft_keeps_its_reason_not_its_bytes(officer):
    (draft,) = _upload(officer, [("fake.pdf", b"%PDF-1.7\n<html>not a pdf</html>")]).created
    draft = draft_read(draft_id=draft.pk)
    assert draft.state == DraftState.REFUSED
    assert draft.safety_message
    assert not draft.file


def test_confirming_creates_the_executed_agreement_and_its_read_document_atomically(officer, commercial_pdf):
    (draft,) = _upload(officer, [("c.pdf", commercial_pdf)]).created
    draft = draft_read(draft_id=draft.pk)
    confirmation = _confirmation(
        new_vendor_name=draft.proposed_vendor_name,
        new_vendor_category="pacs",
        breach_notification_window=5,
        breach_notification_unit=BreachWindowUnit.BUSINESS_DAYS,
        verdicts={"P4": ("present", "Section 3.1, page 1.")},
    )
    agreement = draft_confirm(draft=draft, confirmation=confirmation, user=officer)
    assert agreement.status == AgreementStatus.EXECUTED
    assert agreement.vendor.legal_name == "Cloudline Imaging Systems LLC"
    document = agreement.documents.get()
    assert document.sha256 == draft.sha256
    reading = DocumentReading.objects.get(document=document)
    assert reading.state == ReadingState.DONE and reading.pages_done == len(draft.pages)
    assert ProvisionReview.objects.filter(agreement=agreement).count() == 12
    assert ProvisionReview.objects.get(agreement=agreement, provision="P4").officer_verdict == "present"
    assert agreement.history.count() >= 2  # created, then executed
    breach = KeyTermSuggestion.objects.get(agreement=agreement, term="breach_window")
    assert breach.state == SuggestionState.ACCEPTED
    draft.refresh_from_db()
    assert draft.state == DraftState.CONFIRMED and draft.agreement == agreement
    with pytest.raises(ValidationError):
        draft_confirm(draft=draft, confirmation=confirmation, user=officer)


def test_a_failed_confirmation_saves_nothing(officer, hhs_pdf):
    (draft,) = _upload(officer, [("a.pdf", hhs_pdf)]).created
    draft = draft_read(draft_id=draft.pk)
    bad = _confirmation(new_vendor_name="New Co", new_vendor_category="pacs", expires_on=datetime.date(2020, 1, 1))
    with pytest.raises(ValidationError):
        draft_confirm(draft=draft, confirmation=bad, user=officer)
    draft.refresh_from_db()
    assert draft.state == DraftState.READY
    assert not officer.membership.organization.vendors.filter(legal_name="New Co").exists()


def test_a_confirmed_draft_without_a_provision_is_a_finding(officer, hhs_pdf):
    pdf = corpus.render(corpus.without(corpus.hhs_clauses(), "P10"))
    vendor = f.vendor(officer.membership.organization, legal_name="Northwind PACS Inc.")
    (draft,) = _upload(officer, [("a.pdf", pdf)]).created
    draft = draft_read(draft_id=draft.pk)
    assert not draft.provisions["P10"]["found"]
    agreement = draft_confirm(draft=draft, confirmation=_confirmation(vendor=vendor), user=officer)
    run_compliance(organization_id=agreement.organization_id)
    assert Finding.objects.filter(kind=FindingKind.BAA_LACKS_PROVISION, agreement=agreement, resolved_at=None).exists()


def test_discarding_deletes_the_file(officer, hhs_pdf):
    (draft,) = _upload(officer, [("a.pdf", hhs_pdf)]).created
    draft_discard(draft=draft, user=officer)
    assert draft.state == DraftState.DISCARDED and not draft.file


def _sheet(text: str):
    return read_spreadsheet(io.BytesIO(text.encode()), name="terms.csv")


def test_the_terms_sheet_is_all_rows_or_none(officer, hhs_pdf, commercial_pdf):
    vendor = f.vendor(officer.membership.organization, legal_name="Northwind PACS Inc.")
    _upload(officer, [("a.pdf", hhs_pdf), ("c.pdf", commercial_pdf)])
    bad = terms.terms_import(
        sheet=_sheet(
            "file_name,vendor,expires_on\n"
            "a.pdf,Northwind PACS Inc.,2027-12-31\nmissing.pdf,,\nc.pdf,Nobody,31/31/2020\n"
        ),
        user=officer,
        commit=True,
    )
    assert not bad.committed
    assert [(e.row, e.column) for e in bad.errors] == [(3, "file_name"), (4, "expires_on"), (4, "vendor")]
    assert not OnboardingDraft.objects.exclude(sheet_terms={}).exists()
    good = terms.terms_import(
        sheet=_sheet(
            "file_name,vendor,expires_on,breach_notification_window,breach_notification_unit\n"
            "a.pdf,Northwind PACS Inc.,2027-12-31,30,Calendar days\n"
        ),
        user=officer,
        commit=True,
    )
    assert good.committed
    assert OnboardingDraft.objects.get(original_name="a.pdf").sheet_terms == {
        "vendor": vendor.pk,
        "expires_on": "2027-12-31",
        "breach_notification_window": 30,
        "breach_notification_unit": "calendar_days",
    }
