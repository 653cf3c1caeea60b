"""The BAA lifecycle, signed documents and the nightly date roll (agreements.services)."""

from __future__ import annotations

import datetime
import hashlib
import io

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError

from agreements.models import (
    ALLOWED_TRANSITIONS,
    AgreementDocument,
    AgreementStatus,
    BusinessAssociateAgreement,
    DocumentKind,
)
from agreements.services import (
    IllegalTransition,
    agreement_archive,
    agreement_execute,
    agreement_renew,
    agreement_save,
    agreement_transition,
    agreements_apply_lapse,
    document_store,
)
from tests import factories as f
from tests.factories import MINIMAL_PDF, TODAY, days

pytestmark = pytest.mark.django_db

STATUSES = list(AgreementStatus)
LEGAL = [(source, target) for source in STATUSES for target in STATUSES if target in ALLOWED_TRANSITIONS[source]]
ILLEGAL = [(source, target) for source in STATUSES for target in STATUSES if target not in ALLOWED_TRANSITIONS[source]]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def agreement_in(status: str) -> BusinessAssociateAgreement:
    """An agreement in ``status`` with the dates that status needs, and no document."""
    return f.agreement(f.vendor(), status=status, signed_document=False)


def transition_id(pair) -> str:
    return f"{pair[0]}->{pair[1]}"


def test_the_tables_cover_every_pair_of_statuses():
    assert len(LEGAL) + len(ILLEGAL) == len(STATUSES) ** 2
    assert len(LEGAL) == 11


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=[transition_id(pair) for pair in ILLEGAL])
def test_it_refuses_an_illegal_transition(source, target):
    agreement = agreement_in(source)

    with pytest.raises(IllegalTransition) as refused:
        agreement_transition(agreement=agreement, to_status=target, executed_on=TODAY, terminated_on=TODAY)

    message = refused.value.messages[0]
    assert AgreementStatus(source).label.lower() in message
    assert AgreementStatus(target).label.lower() in message
    assert "allowed from here" in message
    agreement.refresh_from_db()
    assert agreement.status == source


@pytest.mark.parametrize(("source", "target"), LEGAL, ids=[transition_id(pair) for pair in LEGAL])
def test_it_allows_a_legal_transition(source, target):
    agreement = agreement_in(source)

    agreement_transition(agreement=agreement, to_status=target, executed_on=days(-3), terminated_on=TODAY)

    agreement.refresh_from_db()
    assert agreement.status == target
    if target == AgreementStatus.TERMINATED:
        assert agreement.terminated_on == TODAY
    if target == AgreementStatus.EXECUTED:
        assert agreement.executed_on == days(-3)
        assert agreement.effective_on == days(-3), "effective on the execution day unless told otherwise"


def test_executing_without_a_date_is_refused_with_a_message():
    agreement = agreement_in(AgreementStatus.SENT)

    with pytest.raises(ValidationError) as refused:
        agreement_transition(agreement=agreement, to_status=AgreementStatus.EXECUTED)

    assert refused.value.message_dict == {"executed_on": ["Give the date the agreement was signed by both parties."]}
    agreement.refresh_from_db()
    assert (agreement.status, agreement.executed_on) == (AgreementStatus.SENT, None)


def test_terminating_without_a_date_is_refused_with_a_message():
    agreement = agreement_in(AgreementStatus.EXECUTED)

    with pytest.raises(ValidationError) as refused:
        agreement_transition(agreement=agreement, to_status=AgreementStatus.TERMINATED)

    assert "terminated_on" in refused.value.message_dict
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXECUTED


def test_executing_keeps_a_given_effective_date():
    agreement = agreement_in(AgreementStatus.DRAFT)

    agreement_execute(agreement=agreement, executed_on=TODAY, effective_on=days(31))

    agreement.refresh_from_db()
    assert (agreement.status, agreement.executed_on, agreement.effective_on) == (
        AgreementStatus.EXECUTED,
        TODAY,
        days(31),
    )


def test_renew_creates_a_draft_that_supersedes_the_old_one_once_executed():
    org = f.organization()
    vendor = f.vendor(org)
    listed = f.facility(org)
    old = f.agreement(vendor, facilities=[listed], expires_on=days(30), breach_notification_days=10)

    renewal = agreement_renew(previous=old, title="BAA 2027", effective_on=days(31), expires_on=days(31 + 730))

    renewal.refresh_from_db()
    old.refresh_from_db()
    assert renewal.status == AgreementStatus.DRAFT
    assert renewal.supersedes == old
    assert (renewal.organization, renewal.vendor, renewal.breach_notification_days) == (org, vendor, 10)
    assert (renewal.covers_all_facilities, list(renewal.covered_facilities.all())) == (False, [listed])
    assert old.status == AgreementStatus.EXECUTED, "the old agreement stays in force until the renewal is executed"

    agreement_execute(agreement=renewal, executed_on=TODAY, effective_on=days(31))

    renewal.refresh_from_db()
    old.refresh_from_db()
    assert renewal.status == AgreementStatus.EXECUTED
    assert old.status == AgreementStatus.SUPERSEDED
    assert old.history.first().status == AgreementStatus.SUPERSEDED


def test_renew_refuses_a_second_successor_and_an_unsigned_agreement():
    old = agreement_in(AgreementStatus.EXECUTED)
    agreement_renew(previous=old, title="Renewal")

    with pytest.raises(ValidationError, match="already has a successor"):
        agreement_renew(previous=old, title="Another renewal")
    with pytest.raises(ValidationError, match="Only an executed or expired agreement"):
        agreement_renew(previous=agreement_in(AgreementStatus.DRAFT), title="Renewal of a draft")
    assert BusinessAssociateAgreement.objects.filter(supersedes=old).count() == 1


def test_archive_is_refused_for_an_executed_agreement():
    agreement = agreement_in(AgreementStatus.EXECUTED)

    with pytest.raises(ValidationError, match="Terminate or supersede"):
        agreement_archive(agreement=agreement)

    agreement.refresh_from_db()
    assert agreement.archived_at is None


@pytest.mark.parametrize("status", [AgreementStatus.DRAFT, AgreementStatus.TERMINATED, AgreementStatus.SUPERSEDED])
def test_archive_keeps_the_record(status):
    agreement = agreement_in(status)

    agreement_archive(agreement=agreement)

    agreement.refresh_from_db()
    assert agreement.archived_at is not None
    assert BusinessAssociateAgreement.objects.not_archived().filter(pk=agreement.pk).count() == 0


def test_document_store_records_the_sha256_of_the_bytes():
    agreement = agreement_in(AgreementStatus.EXECUTED)
    content = MINIMAL_PDF + b"%" + b"x" * 3_000_000 + b"\n"  # several read chunks
    officer = f.user(agreement.organization)

    document = document_store(
        agreement=agreement, upload=io.BytesIO(content), original_name="BAA signed.pdf", uploaded_by=officer
    )

    document.refresh_from_db()
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.size_bytes == len(content)
    assert (document.kind, document.original_name, document.uploaded_by) == (
        DocumentKind.SIGNED_AGREEMENT,
        "BAA signed.pdf",
        officer,
    )
    with document.file.open("rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == document.sha256


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"PK\x03\x04 a zip file renamed to .pdf", id="zip"),
        pytest.param(b"<html><body>%PDF-1.4</body></html>", id="html-mentioning-pdf"),
        pytest.param(b"", id="empty"),
    ],
)
def test_document_store_refuses_a_file_that_is_not_a_pdf_by_content(content):
    agreement = agreement_in(AgreementStatus.EXECUTED)

    with pytest.raises(ValidationError) as refused:
        document_store(agreement=agreement, upload=io.BytesIO(content), original_name="signed.pdf", uploaded_by=None)

    assert "not a PDF" in refused.value.message_dict["file"][0]
    assert not AgreementDocument.objects.exists()


def test_document_store_refuses_a_file_over_the_size_limit(settings):
    settings.MAX_UPLOAD_MEGABYTES = 1
    agreement = agreement_in(AgreementStatus.EXECUTED)
    limit = 1024 * 1024
    at_limit = MINIMAL_PDF + b"0" * (limit - len(MINIMAL_PDF))

    with pytest.raises(ValidationError) as refused:
        document_store(
            agreement=agreement, upload=io.BytesIO(at_limit + b"0"), original_name="big.pdf", uploaded_by=None
        )
    assert refused.value.message_dict["file"] == ["The file is larger than 1 MB."]
    assert not AgreementDocument.objects.exists()

    document = document_store(
        agreement=agreement, upload=io.BytesIO(at_limit), original_name="ok.pdf", uploaded_by=None
    )
    assert document.size_bytes == limit


def test_apply_lapse_expires_a_lapsed_agreement_with_a_history_record():
    agreement = f.agreement(f.vendor(), expires_on=days(-1))
    in_force = f.agreement(f.vendor(), expires_on=TODAY)
    versions = agreement.history.count()

    result = agreements_apply_lapse(as_of=TODAY)

    assert result == {"renewed": 0, "expired": 1}
    agreement.refresh_from_db()
    in_force.refresh_from_db()
    assert agreement.status == AgreementStatus.EXPIRED
    assert in_force.status == AgreementStatus.EXECUTED, "an agreement is in force on its expiry date"
    assert agreement.history.count() == versions + 1
    assert agreement.history.first().status == AgreementStatus.EXPIRED


def test_apply_lapse_rolls_an_auto_renewing_agreement_forward_by_its_term():
    agreement = f.agreement(f.vendor(), expires_on=days(-1), auto_renews=True, renewal_term_months=12)
    versions = agreement.history.count()

    result = agreements_apply_lapse(as_of=TODAY)

    assert result == {"renewed": 1, "expired": 0}
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXECUTED
    assert agreement.expires_on == days(-1) + relativedelta(months=12)
    assert agreement.history.count() == versions + 1
    assert agreement.history.first().expires_on == agreement.expires_on
    assert agreements_apply_lapse(as_of=TODAY) == {"renewed": 0, "expired": 0}, "idempotent"


def test_apply_lapse_catches_up_several_terms_from_the_original_date():
    agreement = f.agreement(
        f.vendor(),
        effective_on=datetime.date(2025, 1, 1),
        executed_on=datetime.date(2025, 1, 1),
        expires_on=datetime.date(2026, 1, 31),
        auto_renews=True,
        renewal_term_months=1,
    )

    agreements_apply_lapse(as_of=datetime.date(2026, 4, 15))

    agreement.refresh_from_db()
    # 31 January + 3 months, not 31 January -> 28 February -> 28 March -> 28 April.
    assert agreement.expires_on == datetime.date(2026, 4, 30)


def test_apply_lapse_for_one_organization_leaves_the_others_alone():
    mine = f.agreement(f.vendor(), expires_on=days(-1))
    theirs = f.agreement(f.vendor(), expires_on=days(-1))

    agreements_apply_lapse(organization_id=mine.organization_id, as_of=TODAY)

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == (AgreementStatus.EXPIRED, AgreementStatus.EXECUTED)


def test_creating_an_agreement_writes_one_history_entry_with_its_coverage():
    org = f.organization()
    vendor, facility = f.vendor(org), f.facility(org)
    agreement = BusinessAssociateAgreement(
        organization=org, vendor=vendor, title="BAA with coverage", covers_all_facilities=False
    )

    agreement_save(agreement=agreement, covered_facilities=[facility])

    entries = list(agreement.history.all())
    assert [entry.history_type for entry in entries] == ["+"]
    assert [row.facility_id for row in entries[0].covered_facilities.all()] == [facility.pk]
    agreement.title = "BAA renamed"
    agreement_save(agreement=agreement, covered_facilities=[facility])
    assert [entry.history_type for entry in agreement.history.all()] == ["~", "+"]
