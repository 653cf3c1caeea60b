"""Writes of bulk onboarding: the upload (many PDFs or a ZIP, each checked), the worker's reading of
each draft, the vendor proposal, and the officer's confirmation, which creates the agreement and its
signed document through the agreement services in one transaction."""

from __future__ import annotations

import datetime
import hashlib
import io
import posixpath
import zipfile
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from agreements.services import PDF_MAGIC, agreement_execute, agreement_save, document_store
from documents import keyterms, provisions
from documents.models import KeyTerm, KeyTermSuggestion, OfficerVerdict, ProvisionReview, SuggestionState
from documents.reader import ReadingFailed
from documents.services import provision_decide, stored_file_read
from onboarding.models import DraftState, OnboardingDraft
from onboarding.selectors import match_vendor
from vendors.models import Vendor
from vendors.services import vendor_save

#: At most this many PDFs per upload (files and ZIP members together); Django's
#: DATA_UPLOAD_MAX_NUMBER_FILES (100) bounds the files of one request as well.
MAX_FILES = 100
#: A ZIP may expand to at most this many bytes in all.
MAX_ZIP_EXPANDED_MEGABYTES = 500
#: A member compressed more than this (expanded size / compressed size) is taken for a ZIP bomb:
#: text-layer PDFs compress 2-10 times, scans hardly at all.
MAX_COMPRESSION_RATIO = 100

CHANGE_REASON = "Bulk onboarding"


def limits_text() -> str:
    return (
        f"Up to {MAX_FILES} PDFs at once (files, or ZIP archives of PDFs), each at most "
        f"{settings.MAX_UPLOAD_MEGABYTES} MB; a ZIP at most {MAX_ZIP_EXPANDED_MEGABYTES} MB once expanded."
    )


@dataclass
class UploadResult:
    created: list[OnboardingDraft] = field(default_factory=list)
    #: (file name, why it was refused): nothing was saved for these.
    refused: list[tuple[str, str]] = field(default_factory=list)


def _per_file_limit() -> int:
    return settings.MAX_UPLOAD_MEGABYTES * 1024 * 1024


def _bad_member_name(name: str) -> str:
    """Why a ZIP member's name is refused, or "": absolute paths, drive letters, backslashes and ``..``
    are path tricks (zip-slip); nothing is extracted to disk, but such an archive is not a plain
    folder of signed PDFs."""
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "its path is absolute or uses backslashes"
    if ".." in name.split("/"):
        return "its path climbs out of the archive (..)"
    if any(ord(c) < 32 for c in name):
        return "its name has control characters"
    return ""


def _expand_zip(name: str, data: bytes, result: UploadResult) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError):
        result.refused.append((name, "The ZIP archive cannot be read."))
        return []
    if len(members) > MAX_FILES:
        result.refused.append((name, f"The ZIP archive holds {len(members)} files; at most {MAX_FILES} at once."))
        return []
    if sum(m.file_size for m in members) > MAX_ZIP_EXPANDED_MEGABYTES * 1024 * 1024:
        result.refused.append(
            (name, f"The ZIP archive expands to more than {MAX_ZIP_EXPANDED_MEGABYTES} MB; nothing of it was kept.")
        )
        return []
    out = []
    limit = _per_file_limit()
    for member in members:
        label = f"{name}: {member.filename}"
        if posixpath.basename(member.filename).startswith(".") or member.filename.startswith("__MACOSX/"):
            result.refused.append((label, "Skipped: a hidden or archiver's metadata file (e.g. __MACOSX), not a BAA."))
            continue
        problem = _bad_member_name(member.filename)
        if problem:
            result.refused.append((label, f"Refused: {problem}."))
            continue
        if member.flag_bits & 0x1:
            result.refused.append((label, "Refused: the file is encrypted in the archive."))
            continue
        if member.file_size > limit:
            result.refused.append((label, f"Refused: larger than {settings.MAX_UPLOAD_MEGABYTES} MB."))
            continue
        if member.compress_size and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO:
            result.refused.append((label, "Refused: compressed too well to be a PDF (a ZIP bomb?)."))
            continue
        with archive.open(member) as handle:
            # The header's sizes are the sender's word: read at most the limit, whatever it says.
            content = handle.read(limit + 1)
        if len(content) > limit:
            result.refused.append((label, f"Refused: larger than {settings.MAX_UPLOAD_MEGABYTES} MB."))
            continue
        if content.startswith(b"PK\x03\x04"):
            result.refused.append((label, "Refused: a ZIP inside the ZIP; upload the inner archive itself."))
            continue
        out.append((label, posixpath.basename(member.filename), content))
    return out


def expand_uploads(uploads: list[tuple[str, bytes]]) -> tuple[list[tuple[str, str, bytes]], UploadResult]:
    """The PDFs of an upload: (label shown, file name kept, bytes), and what was refused and why."""
    result = UploadResult()
    items: list[tuple[str, str, bytes]] = []
    for name, data in uploads:
        if data.startswith(b"PK\x03\x04"):
            items.extend(_expand_zip(name, data, result))
        else:
            items.append((name, posixpath.basename(name.replace("\\", "/")), data))
    pdfs = []
    for label, file_name, data in items:
        if not data.startswith(PDF_MAGIC):
            result.refused.append((label, "Refused: not a PDF (its content does not start with %PDF-)."))
        elif len(data) > _per_file_limit():
            result.refused.append((label, f"Refused: larger than {settings.MAX_UPLOAD_MEGABYTES} MB."))
        else:
            pdfs.append((label, file_name, data))
    if len(pdfs) > MAX_FILES:
        result.refused.extend((label, f"Refused: more than {MAX_FILES} PDFs in one upload.") for label, _, _ in pdfs)
        pdfs = []
    return pdfs, result


@transaction.atomic
def drafts_upload(
    *, uploads: list[tuple[str, bytes]], user, membership, covers_all_facilities: bool, facilities: list
) -> UploadResult:
    """Each PDF of the upload becomes a draft in the review queue, read by the worker once the upload
    has committed. Like a single upload, the web process checks only sizes and the %PDF- magic; ZIPs
    are opened in memory only, never extracted to disk. A PDF already waiting in the queue (same
    SHA-256) is refused, so that one signed copy does not become two agreements."""
    from onboarding.tasks import read_draft

    pdfs, result = expand_uploads(uploads)
    waiting = set(
        OnboardingDraft.objects.open()
        .filter(organization_id=membership.organization_id)
        .values_list("sha256", flat=True)
    )
    for label, file_name, data in pdfs:
        digest = hashlib.sha256(data).hexdigest()
        if digest in waiting:
            result.refused.append((label, "Refused: the same file is already in the review queue."))
            continue
        waiting.add(digest)
        draft = OnboardingDraft(
            organization_id=membership.organization_id,
            uploaded_by=user,
            original_name=file_name[:255],
            size_bytes=len(data),
            sha256=digest,
            covers_all_facilities=covers_all_facilities,
        )
        draft.file.save(file_name[:100] or "document.pdf", ContentFile(data), save=False)
        draft.full_clean()
        draft.save()
        if not covers_all_facilities:
            draft.facilities.set(facilities)
        transaction.on_commit(lambda pk=draft.pk: read_draft.delay(pk))
        result.created.append(draft)
    return result


def vendor_proposal(organization_id: int, names: dict[str, str]) -> tuple[Vendor | None, int | None, str]:
    """The organization's vendor closest to a party of the document (onboarding.selectors.match_vendor),
    its score, and the business associate's name to propose as a new vendor."""
    vendors = Vendor.objects.filter(organization_id=organization_id)
    return match_vendor(names, {v.pk: v for v in vendors})


def draft_read(*, draft_id: int) -> OnboardingDraft:
    """Check and read one draft in the worker, then propose its vendor, terms and provisions.
    Idempotent: a draft read to the end (ready, refused, confirmed, discarded) is not read again."""
    draft = OnboardingDraft.objects.get(pk=draft_id)
    if draft.state not in (DraftState.QUEUED, DraftState.READING, DraftState.FAILED):
        return draft
    draft.state, draft.error, draft.pages_done = DraftState.READING, "", 0
    draft.save(update_fields=["state", "error", "pages_done"])
    accepted = {}

    def on_safety(ok: bool, message: str, page_count: int) -> None:
        accepted["ok"] = ok
        draft.safety_message = message
        draft.pages_total = page_count if ok else 0
        draft.save(update_fields=["safety_message", "pages_total"])

    def on_page(number: int) -> None:
        # One UPDATE per page: the progress the queue page shows.
        OnboardingDraft.objects.filter(pk=draft.pk).update(pages_done=number)

    try:
        events = stored_file_read(draft.file, on_safety=on_safety, on_page=on_page)
    except ReadingFailed as exc:
        draft.state, draft.error = DraftState.FAILED, str(exc)
        draft.save(update_fields=["state", "error"])
        return draft
    if not accepted.get("ok"):
        # Refused bytes are not kept (as for a single upload); the draft stays to say why.
        draft.file.delete(save=False)
        draft.state = DraftState.REFUSED
        draft.save()
        return draft
    pages = [(event["text"], event["method"] == "ocr") for event in events]
    items = provisions.sentences(pages)
    verdicts = provisions.review(pages, items=items)
    terms = keyterms.extract(items, provisions_found={pid: v.found for pid, v in verdicts.items()})
    draft.pages = [{k: e[k] for k in ("number", "text", "method", "confidence")} for e in events]
    draft.pages_done = draft.pages_total = len(events)
    draft.provisions = {
        pid: {"found": v.found, "quote": v.quote[:2000], "page": v.page, "score": v.score}
        for pid, v in verdicts.items()
    }
    draft.key_terms = {
        term: {"value": s.value, "quote": s.quote[:2000], "page": s.page} for term, s in terms.items() if s.stated
    }
    draft.vendor, draft.vendor_score, draft.proposed_vendor_name = vendor_proposal(
        draft.organization_id, terms["parties"].value.get("names", {})
    )
    draft.state = DraftState.READY
    draft.full_clean()
    draft.save()
    return draft


@dataclass
class Confirmation:
    """What the officer confirmed on the review screen."""

    title: str
    executed_on: datetime.date
    effective_on: datetime.date | None
    expires_on: datetime.date | None
    breach_notification_window: int | None
    breach_notification_unit: str
    covers_all_facilities: bool
    facilities: list
    vendor: Vendor | None = None
    new_vendor_name: str = ""
    new_vendor_category: str = ""
    #: {provision: (verdict, note)} for the provisions the officer decided.
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)


def _key_terms_decided(agreement: BusinessAssociateAgreement, user) -> None:
    """The suggestions the review screen showed next to the fields: accepted where the officer kept the
    proposed value, corrected where they changed it (the agreement already holds the confirmed value)."""
    confirmed = {
        KeyTerm.EFFECTIVE_ON: {"date": agreement.effective_on.isoformat()} if agreement.effective_on else None,
        KeyTerm.EXPIRES_ON: {"date": agreement.expires_on.isoformat()} if agreement.expires_on else None,
        KeyTerm.BREACH_WINDOW: {
            "value": agreement.breach_notification_window,
            "unit": agreement.breach_notification_unit,
            "max_calendar_days": agreement.breach_notification_days,
        },
    }
    for suggestion in KeyTermSuggestion.objects.filter(agreement=agreement, term__in=confirmed):
        value = confirmed[suggestion.term]
        if value is None:
            suggestion.state = SuggestionState.DISMISSED
        elif all(suggestion.value.get(key) == part for key, part in value.items() if key != "max_calendar_days"):
            suggestion.state = SuggestionState.ACCEPTED
        else:
            suggestion.state, suggestion.value = SuggestionState.CORRECTED, value
        suggestion.decided_by, suggestion.decided_at = user, timezone.now()
        suggestion._history_user = user
        suggestion.save()


@transaction.atomic
def draft_confirm(*, draft: OnboardingDraft, confirmation: Confirmation, user) -> BusinessAssociateAgreement:
    """Create the executed agreement and its signed document from a read draft, all or nothing.

    Through the agreement services (their checks, coverage scope of a facility-limited user, and
    history): agreement_save, agreement_execute (an agreement signed before it was recorded here,
    45 CFR 164.504(e)), document_store with the draft's reading (the same bytes, SHA-256 kept for
    164.312(c)(1)); then the officer's provision decisions (provision_decide, each with its note) and
    a compliance run, on commit (scheduled by those services, once for the transaction).
    """
    draft = OnboardingDraft.objects.select_for_update().get(pk=draft.pk)
    if draft.state != DraftState.READY:
        raise ValidationError(f"This draft is {draft.get_state_display().lower()}; only a read draft can be confirmed.")
    vendor = confirmation.vendor
    if vendor is None:
        if not confirmation.new_vendor_name.strip():
            raise ValidationError({"vendor": "Choose the vendor, or give the name of a new vendor."})
        vendor = Vendor(
            organization_id=draft.organization_id,
            legal_name=confirmation.new_vendor_name.strip(),
            category=confirmation.new_vendor_category,
        )
        vendor._history_user = user
        vendor._change_reason = CHANGE_REASON
        vendor_save(vendor=vendor)
    agreement = BusinessAssociateAgreement(
        organization_id=draft.organization_id,
        vendor=vendor,
        title=confirmation.title.strip() or f"Business Associate Agreement with {vendor.legal_name}",
        effective_on=confirmation.effective_on,
        expires_on=confirmation.expires_on,
        breach_notification_window=confirmation.breach_notification_window,
        breach_notification_unit=confirmation.breach_notification_unit,
        covers_all_facilities=confirmation.covers_all_facilities,
        status=AgreementStatus.DRAFT,
    )
    agreement._history_user = user
    agreement._change_reason = CHANGE_REASON
    agreement = agreement_save(agreement=agreement, covered_facilities=confirmation.facilities, actor=user)
    agreement._history_user = user
    agreement_execute(agreement=agreement, executed_on=confirmation.executed_on, effective_on=confirmation.effective_on)
    with draft.file.open("rb") as handle:
        document_store(
            agreement=agreement,
            upload=io.BytesIO(handle.read()),
            original_name=draft.original_name,
            uploaded_by=user,
            already_read=(draft.pages, draft.safety_message),
        )
    for review in ProvisionReview.objects.filter(agreement=agreement, provision__in=confirmation.verdicts):
        verdict, note = confirmation.verdicts[review.provision]  # decided ones only (ConfirmForm.verdicts)
        provision_decide(review=review, verdict=OfficerVerdict(verdict), note=note, user=user)
    _key_terms_decided(agreement, user)
    draft.state, draft.agreement, draft.decided_by, draft.decided_at = (
        DraftState.CONFIRMED,
        agreement,
        user,
        timezone.now(),
    )
    draft.full_clean()
    draft.save()
    return agreement


def draft_discard(*, draft: OnboardingDraft, user) -> OnboardingDraft:
    """Take a draft out of the queue; its file is deleted (nothing of it became a record)."""
    if draft.state == DraftState.CONFIRMED:
        raise ValidationError("A confirmed draft is an agreement now; archive the agreement instead.")
    if draft.file:
        draft.file.delete(save=False)
    draft.state, draft.decided_by, draft.decided_at = DraftState.DISCARDED, user, timezone.now()
    draft.save()
    return draft
