"""Quarantine, reading in the worker's service, the provision finding, officer decisions, the audit
packet and search, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from agreements.models import AgreementDocument, BreachWindowUnit
from agreements.services import document_store
from compliance.models import Finding, FindingKind
from compliance.scheduling import _ComplianceRun
from compliance.services import run_compliance
from documents import corpus
from documents.models import KeyTermSuggestion, ProvisionReview, ReadingState, Safety
from documents.selectors import search_pages
from documents.services import document_read, key_term_decide, provision_decide
from organizations.models import Role
from reports.pdf import appendix_entries
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def officer(db):
    org = f.organization(name="Lakeside")
    return f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")


def _stored(agreement, content: bytes, django_capture_on_commit_callbacks=None) -> AgreementDocument:
    return document_store(agreement=agreement, upload=io.BytesIO(content), original_name="baa.pdf", uploaded_by=None)


def _read(agreement, content: bytes) -> AgreementDocument:
    document = _stored(agreement, content)
    document_read(document_id=document.pk)
    return AgreementDocument.objects.select_related("reading").get(pk=document.pk)


def test_an_upload_is_quarantined_and_its_reading_enqueued_on_commit(officer, django_capture_on_commit_callbacks):
    agreement = f.agreement(f.vendor(officer.membership.organization), signed_document=False)
    with django_capture_on_commit_callbacks() as callbacks:
        document = _stored(agreement, b"%PDF-1.7\n<html>not a pdf</html>")
    assert document.reading.safety == Safety.QUARANTINED and document.reading.state == ReadingState.QUEUED
    # The reading, and the compliance run that every write service schedules (compliance/scheduling.py).
    runs = [callback for callback in callbacks if isinstance(callback, _ComplianceRun)]
    assert len(callbacks) == 2 and len(runs) == 1


def test_html_with_the_pdf_prefix_is_refused_and_not_kept(officer):
    agreement = f.agreement(f.vendor(officer.membership.organization), signed_document=False)
    document = _read(agreement, b"%PDF-1.7\n<html><script>alert(1)</script></html>")
    document.refresh_from_db()
    assert document.reading.safety == Safety.REFUSED and not document.file
    run_compliance(organization_id=agreement.organization_id)
    # A refused upload is no signed copy on file.
    assert Finding.objects.filter(agreement=agreement, kind=FindingKind.NO_SIGNED_DOCUMENT).exists()


def test_javascript_never_reaches_an_audit_packet(officer, javascript_pdf, hhs_pdf):
    """Issue 15 item 3: fails before (only %PDF- was checked, and the packet appended it), passes after."""
    agreement = f.agreement(f.vendor(officer.membership.organization), signed_document=False)
    refused = _read(agreement, javascript_pdf)
    accepted = _read(agreement, hhs_pdf)
    assert refused.reading.safety == Safety.REFUSED
    # A document accepted earlier whose bytes carry JavaScript (e.g. stored before the check) is
    # checked again when the packet is built.
    legacy = _read(agreement, hhs_pdf)
    with legacy.file.open("wb") as handle:
        handle.write(javascript_pdf)
    entries = {e.document.pk: e for e in appendix_entries([refused, accepted, legacy])}
    assert entries[accepted.pk].appended
    assert not entries[refused.pk].appended and "JavaScript" in entries[refused.pk].reason
    assert not entries[legacy.pk].appended


def test_a_signed_baa_without_flow_down_is_a_finding_until_confirmed_present(officer):
    agreement = f.agreement(f.vendor(officer.membership.organization), signed_document=False)
    document = _read(agreement, corpus.render(corpus.without(corpus.hhs_clauses(), "P5")))
    assert document.pages.count() == 2 and document.pages.first().method == "text_layer"
    reviews = {r.provision: r for r in ProvisionReview.objects.filter(agreement=agreement)}
    assert len(reviews) == 12 and not reviews["P5"].detected and reviews["P4"].detected
    run_compliance(organization_id=agreement.organization_id)
    finding = Finding.objects.get(agreement=agreement, kind=FindingKind.BAA_LACKS_PROVISION, resolved_at=None)
    assert "P5 subcontractors agree" in finding.explanation and "164.504(e)(2)(ii)(D)" in finding.explanation

    with pytest.raises(Exception, match="Say why"):
        provision_decide(review=reviews["P5"], verdict="present", note="", user=officer)
    provision_decide(review=reviews["P5"], verdict="present", note="Exhibit B, page 4 (scanned)", user=officer)
    run_compliance(organization_id=agreement.organization_id)
    finding.refresh_from_db()
    assert finding.resolved_at is not None
    assert reviews["P5"].history.count() >= 2

    provision_decide(review=reviews["P12"], verdict="missing", note="Only the vendor may terminate", user=officer)
    run_compliance(organization_id=agreement.organization_id)
    assert (
        "P12"
        in Finding.objects.get(agreement=agreement, kind=FindingKind.BAA_LACKS_PROVISION, resolved_at=None).explanation
    )


def test_key_terms_are_written_only_when_the_officer_accepts_them(officer):
    agreement = f.agreement(f.vendor(officer.membership.organization), signed_document=False)
    _read(agreement, corpus.render(corpus.commercial_clauses("within 45 business days")))
    agreement.refresh_from_db()
    assert agreement.breach_notification_days == 30  # the factory's value: nothing written yet
    breach = KeyTermSuggestion.objects.get(agreement=agreement, term="breach_window")
    key_term_decide(suggestion=breach, action="accept", user=officer)
    agreement.refresh_from_db()
    assert (agreement.breach_notification_window, agreement.breach_notification_unit) == (45, "business_days")
    assert agreement.breach_notification_days == 63
    run_compliance(organization_id=agreement.organization_id)
    assert Finding.objects.filter(agreement=agreement, kind=FindingKind.BREACH_WINDOW_TOO_LONG).exists()

    key_term_decide(suggestion=breach, action="correct", user=officer, value={"value": 4, "unit": "hours"})
    agreement.refresh_from_db()
    assert (agreement.breach_notification_window, agreement.breach_notification_days) == (4, 1)
    key_term_decide(
        suggestion=breach, action="correct", user=officer, value={"value": None, "unit": BreachWindowUnit.NOT_STATED}
    )
    agreement.refresh_from_db()
    assert agreement.breach_notification_days is None and agreement.get_breach_notification_unit_display() == (
        "Not stated in the document"
    )


def test_search_finds_the_page_within_the_users_scope(officer, commercial_pdf):
    org = officer.membership.organization
    agreement = f.agreement(f.vendor(org, legal_name="Cloudline"), signed_document=False)
    _read(agreement, commercial_pdf)
    other = f.agreement(f.vendor(f.organization(name="Elsewhere")), signed_document=False)
    _read(other, commercial_pdf)
    hits = search_pages(officer, "Fifteen (15) days")
    assert [(h.page.document.agreement_id, h.page.number) for h in hits] == [(agreement.pk, 1)]
    assert "within fifteen (15) days" in hits[0].snippet


def test_the_agreement_page_shows_the_review_and_the_decision_controls(client, officer, hhs_pdf):
    agreement = f.agreement(
        f.vendor(officer.membership.organization, legal_name="Northwind PACS"), signed_document=False
    )
    _read(agreement, hhs_pdf)
    client.force_login(officer)
    html = client.get(reverse("agreements:detail", args=[agreement.pk])).content.decode()
    assert 'id="provision-review"' in html and html.count('data-present="yes"') == 12
    assert "(page 2)" in html and "4 hours" in html
    assert "matches the vendor on record" in html  # "Northwind PACS Inc." in the document
    review = ProvisionReview.objects.get(agreement=agreement, provision="P3")
    response = client.post(reverse("documents:provision_decide", args=[review.pk]), {"verdict": "missing", "note": ""})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.officer_verdict == ""  # refused without a note
    viewer = f.user(officer.membership.organization, role=Role.VIEWER, username="viewer")
    client.force_login(viewer)
    assert (
        client.post(
            reverse("documents:provision_decide", args=[review.pk]), {"verdict": "missing", "note": "x"}
        ).status_code
        == 403
    )
    outsider = f.user(f.organization(name="Other"), role=Role.COMPLIANCE_OFFICER, username="outsider")
    client.force_login(outsider)
    assert (
        client.post(
            reverse("documents:provision_decide", args=[review.pk]), {"verdict": "missing", "note": "x"}
        ).status_code
        == 404
    )
    assert client.get(reverse("documents:search"), {"q": "material term"}).context["hits"] == []


def test_the_audit_report_lists_each_baas_provisions_with_pages(officer):
    from openpyxl import load_workbook

    from reports.pdf import inventory_workbook, render_report_html
    from reports.selectors import report_data

    org = officer.membership.organization
    vendor = f.vendor(org, legal_name="Northwind PACS")
    f.engagement(vendor, f.facility(org), phi_maintains=True)
    agreement = f.agreement(vendor, title="Northwind BAA", signed_document=False)
    _read(agreement, corpus.render(corpus.without(corpus.hhs_clauses(), "P8")))
    data = report_data(organization=org, facility=None, as_of=f.TODAY, user=officer)
    html = render_report_html(data, paper_size="letter", report_number=1, generated_by="test")
    section = html[html.index('id="provisions"') :]
    # One row per BAA and its missing provisions in the PDF (issue 17); every provision with its page in
    # the attached workbook.
    assert "Northwind BAA" in section and "11 of 12" in section
    assert section.count('<span class="gap">missing</span>') == 1 and "<td>P8</td>" in section
    sheet = load_workbook(io.BytesIO(inventory_workbook(data)))["BAA provisions"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 12 and [r[2] for r in rows if r[5] == "missing"] == ["P8"]
    assert 2 in {r[6] for r in rows if r[5] == "present"}  # the page it was found on
