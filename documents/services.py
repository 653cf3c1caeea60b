"""Writes of the documents app: quarantine at upload, the worker's reading (safety, text, OCR), the
provision review and key-term suggestions it produces, and the officer's decisions on them."""

from __future__ import annotations

import datetime
import re
import shutil
import tempfile

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agreements.models import AgreementDocument, BreachWindowUnit, BusinessAssociateAgreement, DocumentKind
from compliance.scheduling import schedule_compliance_run
from documents import keyterms, provisions
from documents.models import (
    DocumentPage,
    DocumentReading,
    ExtractionMethod,
    KeyTerm,
    KeyTermSuggestion,
    OfficerVerdict,
    ProvisionReview,
    ReadingState,
    Safety,
    SuggestionState,
)
from documents.reader import Limits, ReadingFailed, read_pdf


def reading_limits() -> Limits:
    return Limits(
        memory_mb=settings.DOCUMENT_READ_MEMORY_MB,
        cpu_seconds=settings.DOCUMENT_READ_CPU_SECONDS,
        wall_seconds=settings.DOCUMENT_READ_WALL_SECONDS,
    )


def document_quarantine(*, document: AgreementDocument) -> DocumentReading:
    """A stored upload starts quarantined; the worker reads it once the upload has committed.

    The web process never parses the upload: it has checked the size and the %PDF- magic only
    (agreements.services.document_store). Everything else happens in documents.tasks.read_document.
    """
    from documents.tasks import read_document

    reading = DocumentReading.objects.create(document=document)
    transaction.on_commit(lambda: read_document.delay(document.pk))
    return reading


def _search_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(provisions._QUOTES)).strip().lower()


def document_read(*, document_id: int) -> DocumentReading:
    """Check, then read, one stored document, in the worker. Idempotent: a document read to the end
    (accepted or refused) is not read again; one that failed or was interrupted is read again.

    A refused document's bytes are deleted from storage (the record and its reason stay, 45 CFR
    164.316(b)(2)); an accepted one gets its text per page, and a signed agreement its provision review
    and key-term suggestions.
    """
    document = AgreementDocument.objects.select_related("agreement").get(pk=document_id)
    reading, _ = DocumentReading.objects.get_or_create(document=document)
    if reading.state == ReadingState.DONE:
        return reading
    reading.state, reading.started_at, reading.error, reading.pages_done = ReadingState.READING, timezone.now(), "", 0
    reading.save()

    def on_safety(accepted: bool, message: str, page_count: int) -> None:
        reading.safety = Safety.ACCEPTED if accepted else Safety.REFUSED
        reading.safety_message = message
        reading.pages_total = page_count if accepted else 0
        reading.save(update_fields=["safety", "safety_message", "pages_total"])

    def on_page(number: int) -> None:
        # One UPDATE per page: the progress the agreement page shows while the reader works.
        DocumentReading.objects.filter(pk=reading.pk).update(pages_done=number)

    try:
        events = stored_file_read(document.file, on_safety=on_safety, on_page=on_page)
    except ReadingFailed as exc:
        reading.state, reading.error, reading.finished_at = ReadingState.FAILED, str(exc), timezone.now()
        reading.save()
        return reading
    pages = [_page(document, event) for event in events]
    with transaction.atomic():
        # A reading interrupted earlier may have left pages: this reading's pages replace them.
        DocumentPage.objects.filter(document=document).delete()
        DocumentPage.objects.bulk_create(pages)
        reading.pages_done = len(pages)
        if reading.safety == Safety.REFUSED:
            document.file.delete(save=False)
            document.save(update_fields=["file"])
        elif document.kind == DocumentKind.SIGNED_AGREEMENT:
            document_review_store(document=document)
        reading.state, reading.finished_at = ReadingState.DONE, timezone.now()
        reading.save()
        schedule_compliance_run(organization_id=document.agreement.organization_id)
    return reading


def stored_file_read(file, *, on_safety, on_page) -> list[dict]:
    """Read a stored file in the worker's limited child process (documents.reader): a private copy of
    its bytes is read, ``on_safety(accepted, message, pages)`` and ``on_page(number)`` report progress,
    and the page events are returned. Raises ReadingFailed. Shared by the agreement documents and the
    bulk-onboarding drafts (onboarding.services), so both are read the same way."""
    pages: list[dict] = []
    with tempfile.NamedTemporaryFile(suffix=".pdf") as copy:
        with file.open("rb") as handle:
            shutil.copyfileobj(handle, copy)
        copy.flush()

        def on_event(event: dict) -> None:
            if event["event"] == "safety":
                on_safety(event["accepted"], event["message"], event.get("pages", 0))
            elif event["event"] == "page":
                pages.append(event)
                on_page(event["number"])

        read_pdf(copy.name, limits=reading_limits(), on_event=on_event)
    return pages


def _page(document: AgreementDocument, event: dict) -> DocumentPage:
    return DocumentPage(
        document=document,
        number=event["number"],
        text=event["text"],
        search_text=_search_text(event["text"]),
        method=event["method"],
        ocr_confidence=event["confidence"] if event["method"] == ExtractionMethod.OCR else None,
    )


@transaction.atomic
def document_accept_read(*, document: AgreementDocument, events: list[dict], safety_message: str) -> DocumentReading:
    """A document whose exact bytes the worker has already checked and read (a bulk-onboarding draft,
    same SHA-256): its reading is recorded as done, its pages and provision review stored, without
    reading it twice."""
    reading = DocumentReading.objects.create(
        document=document,
        safety=Safety.ACCEPTED,
        safety_message=safety_message,
        state=ReadingState.DONE,
        pages_total=len(events),
        pages_done=len(events),
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    DocumentPage.objects.bulk_create([_page(document, event) for event in events])
    if document.kind == DocumentKind.SIGNED_AGREEMENT:
        document_review_store(document=document)
    return reading


def pages_for_review(document: AgreementDocument) -> list[tuple[str, bool]]:
    return [(page.text, page.method == ExtractionMethod.OCR) for page in document.pages.order_by("number")]


def document_review_store(*, document: AgreementDocument) -> None:
    """Store the provision review (P1-P12) and the key-term suggestions of a signed document.

    A newer signed document replaces the detection; an officer's verdict given on an older document
    is cleared then (it was about other text), and kept in the review's history.
    """
    pages = pages_for_review(document)
    items = provisions.sentences(pages)
    verdicts = provisions.review(pages, items=items)
    agreement = document.agreement
    for pid, verdict in verdicts.items():
        review = ProvisionReview.objects.filter(agreement=agreement, provision=pid).first() or ProvisionReview(
            agreement=agreement, provision=pid
        )
        if review.document_id != document.pk:
            review.officer_verdict, review.note, review.decided_by, review.decided_at = "", "", None, None
        review.document = document
        review.detected, review.quote, review.page_number, review.score = (
            verdict.found,
            verdict.quote[:2000],
            verdict.page,
            verdict.score,
        )
        review.full_clean()
        review.save()
    suggestions = keyterms.extract(items, provisions_found={pid: v.found for pid, v in verdicts.items()})
    for term, suggestion in suggestions.items():
        KeyTermSuggestion.objects.get_or_create(
            agreement=agreement,
            document=document,
            term=term,
            defaults={"value": suggestion.value, "quote": suggestion.quote[:2000], "page_number": suggestion.page},
        )


def provision_decide(*, review: ProvisionReview, verdict: str, note: str, user) -> ProvisionReview:
    """The officer confirms or overrides a detection, always with a note (kept in history). A provision
    confirmed missing, or not found and not overridden, is a finding (compliance.rules)."""
    verdict = OfficerVerdict(verdict)
    note = note.strip()
    if verdict and not note:
        raise ValidationError({"note": "Say why, e.g. where the provision is (section and page) or what is missing."})
    review.officer_verdict = verdict
    review.note = note
    review.decided_by = user if verdict else None
    review.decided_at = timezone.now() if verdict else None
    review._history_user = user
    review.full_clean()
    review.save()
    schedule_compliance_run(organization_id=review.agreement.organization_id)
    return review


def _apply(agreement: BusinessAssociateAgreement, term: str, value: dict) -> None:
    if term == KeyTerm.BREACH_WINDOW:
        unit = value.get("unit") or BreachWindowUnit.NOT_STATED
        agreement.breach_notification_unit = BreachWindowUnit(unit)
        agreement.breach_notification_window = value.get("value") if unit != BreachWindowUnit.NOT_STATED else None
    elif term == KeyTerm.EFFECTIVE_ON:
        agreement.effective_on = datetime.date.fromisoformat(value["date"])
    elif term == KeyTerm.EXPIRES_ON:
        agreement.expires_on = datetime.date.fromisoformat(value["date"])
    elif term == KeyTerm.TERM_MONTHS:
        if agreement.effective_on is None:
            raise ValidationError("Accept the effective date first: the term runs from it.")
        agreement.expires_on = agreement.effective_on + relativedelta(months=int(value["months"]))
    elif term == KeyTerm.AUTO_RENEWAL:
        agreement.auto_renews = bool(value.get("auto_renews"))
        agreement.renewal_term_months = value.get("renewal_term_months")
        agreement.renewal_notice_days = value.get("notice_days")
    # Parties, the security-incident window, flow-down and return/destruction have no agreement field:
    # accepting them records that the officer checked them.


@transaction.atomic
def key_term_decide(
    *, suggestion: KeyTermSuggestion, action: str, user, value: dict | None = None
) -> KeyTermSuggestion:
    """Accept, correct (with ``value``) or dismiss a suggestion; only accept and correct write to the
    agreement, through agreements.services.agreement_save (its checks and history)."""
    from agreements.services import agreement_save

    states = {
        "accept": SuggestionState.ACCEPTED,
        "correct": SuggestionState.CORRECTED,
        "dismiss": SuggestionState.DISMISSED,
    }
    if action not in states:
        raise ValidationError("Unknown action.")
    if action == "correct":
        if value is None:
            raise ValidationError("Give the corrected value.")
        suggestion.value = value
    if action in ("accept", "correct"):
        agreement = BusinessAssociateAgreement.objects.select_for_update().get(pk=suggestion.agreement_id)
        _apply(agreement, suggestion.term, suggestion.value)
        agreement._history_user = user
        agreement_save(agreement=agreement)  # schedules the compliance run
    suggestion.state = states[action]
    suggestion.decided_by, suggestion.decided_at = user, timezone.now()
    suggestion._history_user = user
    suggestion.full_clean()
    suggestion.save()
    return suggestion
