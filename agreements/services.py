"""Writes of the agreements app: the BAA lifecycle, signed documents, and the nightly date roll."""

from __future__ import annotations

import datetime
import hashlib
from typing import IO

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import models, transaction
from django.utils import timezone

from agreements.models import (
    ALLOWED_TRANSITIONS,
    SIGNED_STATUSES,
    AgreementDocument,
    AgreementStatus,
    BreachWindowUnit,
    BusinessAssociateAgreement,
    DocumentKind,
    FacilityCoverage,
    breach_window_max_days,
)
from organizations.models import Organization


class IllegalTransition(ValidationError):
    pass


#: simple-history keeps at most this many characters of a change reason.
CHANGE_REASON_MAX = 100


def _limited_facility_ids(actor) -> set[int] | None:
    """The facilities an acting user is limited to, or None when they act for every facility (or the
    system acts: a nightly job, a management command)."""
    if actor is None:
        return None
    from organizations.selectors import active_membership

    membership = active_membership(actor)
    if membership is None or membership.limited_facility_ids is None:
        return None
    return set(membership.limited_facility_ids)


def _facilities_outside(agreement: BusinessAssociateAgreement, limited: set[int]) -> int:
    """How many facilities the agreement covers today that are outside ``limited``; the whole
    organization counts when it covers all facilities (present and future)."""
    from facilities.models import Facility

    if agreement.covers_all_facilities:
        return Facility.objects.filter(organization_id=agreement.organization_id).exclude(pk__in=limited).count() or 1
    return agreement.covered_facilities.exclude(pk__in=limited).count()


def agreement_require_coverage_scope(*, agreement: BusinessAssociateAgreement, actor, doing: str) -> None:
    """Refuse a change of coverage by a user limited to some facilities when the agreement also covers
    facilities they do not manage: ending or renewing it would decide for facilities they cannot see
    (#15). Only the count is named, never the hidden facilities."""
    limited = _limited_facility_ids(actor)
    if limited is None:
        return
    outside = _facilities_outside(agreement, limited)
    if outside:
        raise ValidationError(
            f"This agreement also covers facilities you do not manage ({outside}), so you cannot {doing} it. "
            "Ask an administrator or a compliance officer of all facilities."
        )


def agreement_transition(
    *,
    agreement: BusinessAssociateAgreement,
    to_status: str,
    executed_on: datetime.date | None = None,
    effective_on: datetime.date | None = None,
    terminated_on: datetime.date | None = None,
) -> BusinessAssociateAgreement:
    """Move an agreement along its lifecycle; anything not in ALLOWED_TRANSITIONS is refused.

    Executing needs the execution and effective dates (the BAA must be in force before PHI flows,
    45 CFR 164.502(e)); terminating needs the termination date.
    """
    current = AgreementStatus(agreement.status)
    target = AgreementStatus(to_status)
    if target not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(AgreementStatus(s).label.lower() for s in sorted(ALLOWED_TRANSITIONS[current])) or "none"
        raise IllegalTransition(
            f"An agreement that is {current.label.lower()} cannot become {target.label.lower()} "
            f"(allowed from here: {allowed})."
        )
    if target == AgreementStatus.EXECUTED:
        agreement.executed_on = executed_on or agreement.executed_on
        agreement.effective_on = effective_on or agreement.effective_on or agreement.executed_on
        if agreement.executed_on is None:
            raise ValidationError({"executed_on": "Give the date the agreement was signed by both parties."})
    if target == AgreementStatus.TERMINATED:
        agreement.terminated_on = terminated_on or agreement.terminated_on
        if agreement.terminated_on is None:
            raise ValidationError({"terminated_on": "Give the date the termination takes effect."})
    agreement.status = target
    agreement.full_clean()
    agreement.save()
    return agreement


@transaction.atomic
def agreement_renew(
    *,
    previous: BusinessAssociateAgreement,
    title: str,
    effective_on: datetime.date | None = None,
    expires_on: datetime.date | None = None,
    actor=None,
) -> BusinessAssociateAgreement:
    """Start a renewal: a new draft agreement that will supersede ``previous`` once executed.

    The new agreement copies the coverage and terms; the old one stays in force until the new one
    is executed (see agreement_execute_renewal). A user limited to some facilities may renew only an
    agreement within their facilities.
    """
    agreement_require_coverage_scope(agreement=previous, actor=actor, doing="renew")
    if previous.status not in (AgreementStatus.EXECUTED, AgreementStatus.EXPIRED):
        raise ValidationError("Only an executed or expired agreement can be renewed.")
    if hasattr(previous, "superseded_by"):
        raise ValidationError(f"This agreement already has a successor: {previous.superseded_by}.")
    renewal = BusinessAssociateAgreement(
        organization=previous.organization,
        vendor=previous.vendor,
        title=title,
        covers_all_facilities=previous.covers_all_facilities,
        auto_renews=previous.auto_renews,
        renewal_term_months=previous.renewal_term_months,
        renewal_notice_days=previous.renewal_notice_days,
        breach_notification_days=previous.breach_notification_days,
        breach_notification_window=previous.breach_notification_window,
        breach_notification_unit=previous.breach_notification_unit,
        effective_on=effective_on,
        expires_on=expires_on,
        supersedes=previous,
    )
    renewal.full_clean()
    renewal.save()
    renewal.covered_facilities.set(previous.covered_facilities.all())
    return renewal


@transaction.atomic
def agreement_execute(
    *, agreement: BusinessAssociateAgreement, executed_on: datetime.date, effective_on: datetime.date | None = None
) -> BusinessAssociateAgreement:
    """Mark an agreement executed; an agreement it supersedes becomes superseded."""
    agreement_transition(
        agreement=agreement, to_status=AgreementStatus.EXECUTED, executed_on=executed_on, effective_on=effective_on
    )
    previous = agreement.supersedes
    if previous is not None and previous.status in (AgreementStatus.EXECUTED, AgreementStatus.EXPIRED):
        agreement_transition(agreement=previous, to_status=AgreementStatus.SUPERSEDED)
    return agreement


@transaction.atomic
def agreement_terminate(
    *, agreement: BusinessAssociateAgreement, terminated_on: datetime.date, reason: str, actor=None
) -> BusinessAssociateAgreement:
    """End an executed agreement on ``terminated_on``, for a recorded reason.

    From that day the vendor may no longer receive PHI under it (45 CFR 164.504(e)(2)(iii): on
    termination the business associate returns or destroys the PHI). A user limited to some facilities
    may terminate only an agreement within their facilities. A mistaken termination is undone by
    agreement_termination_correct, in the history.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for the termination; it is kept in the history."})
    agreement_require_coverage_scope(agreement=agreement, actor=actor, doing="terminate")
    agreement.termination_reason = reason
    agreement._change_reason = f"Terminated: {reason}"[:CHANGE_REASON_MAX]
    if actor is not None:
        agreement._history_user = actor
    return agreement_transition(agreement=agreement, to_status=AgreementStatus.TERMINATED, terminated_on=terminated_on)


class TerminationCorrection(models.TextChoices):
    REINSTATE = "reinstate", "It was terminated by mistake: put it back in force"
    DATE = "date", "The termination date was wrong: correct it"


@transaction.atomic
def agreement_termination_correct(
    *,
    agreement: BusinessAssociateAgreement,
    correction: str,
    reason: str,
    terminated_on: datetime.date | None = None,
    actor=None,
) -> BusinessAssociateAgreement:
    """Correct a mistaken termination: reinstate the agreement (executed again, as if never terminated)
    or correct its termination date. The only way back from "terminated", and always with a reason in
    the history, so that the record shows both the termination and its correction (164.316(b)(2))."""
    reason = (reason or "").strip()
    if agreement.status != AgreementStatus.TERMINATED:
        raise ValidationError("Only a terminated agreement can have its termination corrected.")
    if agreement.archived_at is not None:
        raise ValidationError("This agreement is archived: a termination that was archived stays as recorded.")
    if not reason:
        raise ValidationError({"reason": "Give the reason for the correction; it is kept in the history."})
    agreement_require_coverage_scope(agreement=agreement, actor=actor, doing="correct the termination of")
    if correction == TerminationCorrection.REINSTATE:
        agreement.status = AgreementStatus.EXECUTED
        agreement.terminated_on = None
        agreement.termination_reason = ""
        agreement._change_reason = f"Termination corrected, reinstated: {reason}"[:CHANGE_REASON_MAX]
    elif correction == TerminationCorrection.DATE:
        if terminated_on is None:
            raise ValidationError({"terminated_on": "Give the correct termination date."})
        agreement.terminated_on = terminated_on
        agreement._change_reason = f"Termination date corrected: {reason}"[:CHANGE_REASON_MAX]
    else:
        raise ValidationError("Choose how to correct the termination.")
    if actor is not None:
        agreement._history_user = actor
    agreement.full_clean()
    agreement.save()
    return agreement


def agreement_archive(*, agreement: BusinessAssociateAgreement) -> BusinessAssociateAgreement:
    """Archive instead of delete: BAA records are kept 6 years (45 CFR 164.316(b)(2)(i))."""
    if agreement.status == AgreementStatus.EXECUTED:
        raise ValidationError("Terminate or supersede an executed agreement before archiving it.")
    agreement.archived_at = timezone.now()
    agreement.full_clean()
    agreement.save(update_fields=["archived_at"])
    return agreement


PDF_MAGIC = b"%PDF-"


def document_store(
    *,
    agreement: BusinessAssociateAgreement,
    upload: IO[bytes],
    original_name: str,
    uploaded_by,
    kind: str = DocumentKind.SIGNED_AGREEMENT,
    already_read: tuple[list[dict], str] | None = None,
) -> AgreementDocument:
    """Store a signed document with the SHA-256 of its bytes (integrity, 45 CFR 164.312(c)(1)).

    The file must start like a PDF (its first bytes), not merely be named so, and be within the size
    limit. It is stored quarantined: the worker checks it is a real PDF without active content, and
    reads it, before it is trusted (documents.services.document_read). ``already_read`` (the page
    events and the safety message) is for bytes the worker has checked and read already (a bulk-onboarding
    draft, onboarding.services.draft_confirm): they are recorded as read instead of read twice.
    """
    limit = settings.MAX_UPLOAD_MEGABYTES * 1024 * 1024
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    head = upload.read(len(PDF_MAGIC))
    if head != PDF_MAGIC:
        raise ValidationError(
            {"file": "This file is not a PDF (its content does not start with %PDF-). Upload the signed PDF."}
        )
    upload.seek(0)
    for chunk in iter(lambda: upload.read(1024 * 1024), b""):
        size += len(chunk)
        if size > limit:
            raise ValidationError({"file": f"The file is larger than {settings.MAX_UPLOAD_MEGABYTES} MB."})
        digest.update(chunk)
    upload.seek(0)
    document = AgreementDocument(
        agreement=agreement,
        kind=kind,
        original_name=original_name[:255],
        size_bytes=size,
        sha256=digest.hexdigest(),
        uploaded_by=uploaded_by,
    )
    document.file.save(original_name, File(upload), save=False)
    document.full_clean()
    document.save()
    # Quarantined until the worker has parsed it (documents.tasks.read_document): the web process
    # checks only the size and the magic bytes above.
    from documents.services import document_accept_read, document_quarantine

    if already_read is not None:
        events, safety_message = already_read
        document_accept_read(document=document, events=events, safety_message=safety_message)
    else:
        document_quarantine(document=document)
    return document


def renewal_date(expires_on: datetime.date, *, term_months: int | None, as_of: datetime.date) -> datetime.date:
    """The expiry date of an auto-renewing agreement on ``as_of``: rolled forward by whole terms
    until it is no longer in the past. Shared by the nightly roll-forward and the rules engine, so
    that the engine does not depend on the roll having run."""
    if not term_months or expires_on >= as_of:
        return expires_on
    terms = 1
    while expires_on + relativedelta(months=terms * term_months) < as_of:
        terms += 1
    # Counted from the original date, so that a 31st does not drift to the 28th after February.
    return expires_on + relativedelta(months=terms * term_months)


def renewal_notice_deadline(renews_on: datetime.date, *, notice_days: int | None) -> datetime.date:
    """The last day to give notice of non-renewal of an auto-renewing agreement that renews on
    ``renews_on`` (its term's notice period before it). Shared by the rules engine (rule 3) and the
    calendar feeds, so that both show the same deadline."""
    return renews_on - datetime.timedelta(days=notice_days or 0)


def agreements_apply_lapse(*, organization_id: int | None = None, as_of: datetime.date | None = None) -> dict[str, int]:
    """Bring statuses up to date with the calendar, nightly.

    An auto-renewing agreement past its expiry renews for its term (repeatedly, if the job did not
    run for a while); any other executed agreement past its expiry becomes expired. The rules engine
    does not depend on this (it reads the dates), but people and reports read the status.

    Safe next to a concurrent run and next to people editing agreements: under the organizations' row
    lock (the one run_compliance takes), each change is one conditional UPDATE of the one field this
    job owns (``status``, or ``expires_on`` for a renewal), on the condition that made it due, so a
    row someone changed meanwhile (terminated, given a later date) is left alone, and nothing else
    of the row (notes, dates, coverage) is written. The row is then re-read for its history record:
    one history row per real transition, never one for a run that lost the race.
    """
    as_of = as_of or timezone.localdate()
    renewed = expired = 0
    with transaction.atomic():
        organizations = Organization.objects.select_for_update()
        if organization_id is not None:
            organizations = organizations.filter(pk=organization_id)
        list(organizations.values_list("pk", flat=True))  # take the lock
        lapsed = BusinessAssociateAgreement.objects.filter(status=AgreementStatus.EXECUTED, expires_on__lt=as_of)
        if organization_id is not None:
            lapsed = lapsed.filter(organization_id=organization_id)
        due = list(lapsed.order_by("pk").values_list("pk", "auto_renews", "expires_on", "renewal_term_months"))
        for pk, auto_renews, expires_on, term_months in due:
            still_due = BusinessAssociateAgreement.objects.filter(
                pk=pk, status=AgreementStatus.EXECUTED, expires_on=expires_on, auto_renews=auto_renews
            )
            if auto_renews:
                new_date = renewal_date(expires_on, term_months=term_months, as_of=as_of)
                if new_date == expires_on or not still_due.update(expires_on=new_date):
                    continue
                renewed += 1
            else:
                if not still_due.update(status=AgreementStatus.EXPIRED):
                    continue
                expired += 1
            _record_history(pk, "expires_on" if auto_renews else "status")
    return {"renewed": renewed, "expired": expired}


def _record_history(pk: int, field: str) -> None:
    """The history row of a change a conditional UPDATE wrote (an UPDATE sends no post_save): the row
    re-read and its one changed field saved again as it is, under the row lock the UPDATE took, so
    django-simple-history records the row (and its coverage) as it now is."""
    agreement = BusinessAssociateAgreement.objects.get(pk=pk)
    agreement._change_reason = "nightly date roll"
    agreement.save(update_fields=[field])


def agreement_validate(*, agreement: BusinessAssociateAgreement, covered_facilities: list | None) -> None:
    """The refusals of agreement_save, for forms that want them as errors before saving (the admin).

    The vendor, every covered facility and the superseded agreement must belong to the agreement's
    organization: a BAA never crosses the tenant boundary.
    """
    _derive_breach_days(agreement)
    errors: dict[str, str] = {}
    if agreement.vendor_id and agreement.vendor.organization_id != agreement.organization_id:
        errors["vendor"] = "The vendor belongs to another organization."
    if agreement.supersedes_id and agreement.supersedes.organization_id != agreement.organization_id:
        errors["supersedes"] = "The superseded agreement belongs to another organization."
    facilities = covered_facilities
    if facilities and any(f.organization_id != agreement.organization_id for f in facilities):
        errors["covered_facilities"] = "A covered facility belongs to another organization."
    if facilities is not None and not agreement.covers_all_facilities and not facilities:
        errors["covered_facilities"] = "Choose the facilities this agreement covers, or make it cover all facilities."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def agreement_save(
    *,
    agreement: BusinessAssociateAgreement,
    covered_facilities: list | None = None,
    coverage_changed_on: datetime.date | None = None,
    actor=None,
) -> BusinessAssociateAgreement:
    """Create or update an agreement's terms and coverage (its status moves only by the lifecycle services).

    The vendor and every covered facility must belong to the agreement's organization: a BAA never
    crosses the tenant boundary. A user limited to some facilities changes coverage only of their own
    facilities: they may neither narrow an organization-wide agreement nor extend one to all
    facilities, nor add or remove a facility they do not manage (#15). A facility added to or removed
    from a signed agreement is covered from, or no longer covered from, ``coverage_changed_on``
    (default today), recorded in FacilityCoverage: adding a facility today does not cover its past
    (compliance/timeline.py).
    """
    facilities = list(covered_facilities) if covered_facilities is not None else None
    agreement_validate(agreement=agreement, covered_facilities=facilities)
    _check_coverage_change(agreement=agreement, covered_facilities=facilities, actor=actor)
    agreement.full_clean()
    creating = agreement.pk is None
    if creating:
        # One history entry for a new agreement, with its coverage (issue #18 item 7): the row and its
        # facilities are written without history, then recorded once, as created.
        agreement.skip_history_when_saving = True
    try:
        agreement.save()
        if facilities is not None:
            before = set() if creating else set(agreement.covered_facilities.values_list("pk", flat=True))
            after = set() if agreement.covers_all_facilities else {facility.pk for facility in facilities}
            agreement.covered_facilities.set([] if agreement.covers_all_facilities else facilities)
            _date_coverage_changes(agreement, added=after - before, removed=before - after, on=coverage_changed_on)
    finally:
        if creating:
            del agreement.skip_history_when_saving
    if creating:
        agreement.save(update_fields=["title"])  # records the row and its coverage as they now are
        agreement.history.filter(history_id=agreement.history.latest().history_id).update(history_type="+")
    return agreement


def _derive_breach_days(agreement: BusinessAssociateAgreement) -> None:
    """Keep breach_notification_days the maximum in calendar days of the window as stated
    (45 CFR 164.410(b) counts calendar days). A window given in days only is taken as calendar days."""
    unit = agreement.breach_notification_unit
    if unit == BreachWindowUnit.NOT_STATED:
        agreement.breach_notification_window = None
        agreement.breach_notification_days = None
    elif unit and agreement.breach_notification_window is not None:
        agreement.breach_notification_days = breach_window_max_days(agreement.breach_notification_window, unit)
    elif agreement.breach_notification_days is not None and agreement.breach_notification_window is None:
        agreement.breach_notification_window = agreement.breach_notification_days
        agreement.breach_notification_unit = BreachWindowUnit.CALENDAR_DAYS


def _check_coverage_change(*, agreement: BusinessAssociateAgreement, covered_facilities: list | None, actor) -> None:
    limited = _limited_facility_ids(actor)
    if limited is None:
        return
    before = BusinessAssociateAgreement.objects.filter(pk=agreement.pk).first() if agreement.pk else None
    was_all = before is not None and before.covers_all_facilities
    if agreement.covers_all_facilities and not was_all:
        raise ValidationError(
            {
                "covers_all_facilities": "You manage only some facilities: choose the facilities this agreement "
                "covers. An administrator can extend it to all facilities."
            }
        )
    if was_all and not agreement.covers_all_facilities:
        raise ValidationError(
            {
                "covers_all_facilities": "You manage only some facilities, and this agreement covers every facility: "
                "narrowing it would remove coverage from facilities you do not manage. An administrator or a "
                "compliance officer of all facilities can change it."
            }
        )
    if covered_facilities is None or agreement.covers_all_facilities:
        return
    old_ids = set(before.covered_facilities.values_list("pk", flat=True)) if before is not None else set()
    new_ids = {facility.pk for facility in covered_facilities}
    if (old_ids ^ new_ids) - limited:
        raise ValidationError(
            {"covered_facilities": "You can add or remove only facilities you manage; the others are kept as they are."}
        )


def _date_coverage_changes(
    agreement: BusinessAssociateAgreement, *, added: set[int], removed: set[int], on: datetime.date | None
) -> None:
    """Date the facilities added to and removed from a selective agreement's coverage.

    Before the agreement is signed a change dates nothing: its coverage begins with the agreement.
    """
    signed = agreement.status in SIGNED_STATUSES and agreement.executed_on is not None
    day = (on or timezone.localdate()) if signed else None
    rows = FacilityCoverage.objects.filter(agreement=agreement, removed_on__isnull=True)
    open_rows = {row.facility_id: row for row in rows.filter(facility_id__in=removed)}
    for pk in removed:
        row = open_rows.get(pk)
        if day is None or (row is not None and row.added_on is not None and row.added_on >= day):
            if row is not None:
                row.delete()  # it never covered a day: nothing to keep
            continue
        if row is None:  # listed from the agreement's start (see the migration)
            row = FacilityCoverage(agreement=agreement, facility_id=pk, added_on=None)
        row.removed_on = day
        row.full_clean()
        row.save()
    already = set(rows.filter(facility_id__in=added).values_list("facility_id", flat=True))
    FacilityCoverage.objects.bulk_create(
        FacilityCoverage(agreement=agreement, facility_id=pk, added_on=day) for pk in added - already
    )
