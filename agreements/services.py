"""Writes of the agreements app: the BAA lifecycle, signed documents, and the nightly date roll."""

from __future__ import annotations

import datetime
import hashlib
from typing import IO

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agreements.models import (
    ALLOWED_TRANSITIONS,
    SIGNED_STATUSES,
    AgreementDocument,
    AgreementStatus,
    BusinessAssociateAgreement,
    DocumentKind,
    FacilityCoverage,
)


class IllegalTransition(ValidationError):
    pass


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
) -> BusinessAssociateAgreement:
    """Start a renewal: a new draft agreement that will supersede ``previous`` once executed.

    The new agreement copies the coverage and terms; the old one stays in force until the new one
    is executed (see agreement_execute_renewal).
    """
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
) -> AgreementDocument:
    """Store a signed document with the SHA-256 of its bytes (integrity, 45 CFR 164.312(c)(1)).

    The file must be a PDF by content (its first bytes), not merely by name, and within the size
    limit.
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


def agreements_apply_lapse(*, organization_id: int | None = None, as_of: datetime.date | None = None) -> dict[str, int]:
    """Bring statuses up to date with the calendar, nightly.

    An auto-renewing agreement past its expiry renews for its term (repeatedly, if the job did not
    run for a while); any other executed agreement past its expiry becomes expired. Each change is
    saved with its history. The rules engine does not depend on this (it reads the dates), but
    people and reports read the status.
    """
    as_of = as_of or timezone.localdate()
    lapsed = BusinessAssociateAgreement.objects.filter(status=AgreementStatus.EXECUTED, expires_on__lt=as_of)
    if organization_id is not None:
        lapsed = lapsed.filter(organization_id=organization_id)
    renewed = expired = 0
    for agreement in lapsed.filter(Q(auto_renews=True)):
        agreement.expires_on = renewal_date(
            agreement.expires_on, term_months=agreement.renewal_term_months, as_of=as_of
        )
        agreement.save(update_fields=["expires_on"])
        renewed += 1
    for agreement in lapsed.filter(auto_renews=False):
        agreement_transition(agreement=agreement, to_status=AgreementStatus.EXPIRED)
        expired += 1
    return {"renewed": renewed, "expired": expired}


@transaction.atomic
def agreement_save(
    *,
    agreement: BusinessAssociateAgreement,
    covered_facilities: list | None = None,
    coverage_changed_on: datetime.date | None = None,
) -> BusinessAssociateAgreement:
    """Create or update an agreement's terms and coverage (its status moves only by the lifecycle services).

    The vendor and every covered facility must belong to the agreement's organization: a BAA never
    crosses the tenant boundary. A facility added to or removed from a signed agreement is covered
    from, or no longer covered from, ``coverage_changed_on`` (default today), recorded in
    FacilityCoverage: adding a facility today does not cover its past (compliance/timeline.py).
    """
    errors: dict[str, str] = {}
    if agreement.vendor_id and agreement.vendor.organization_id != agreement.organization_id:
        errors["vendor"] = "The vendor belongs to another organization."
    facilities = list(covered_facilities) if covered_facilities is not None else None
    if facilities and any(f.organization_id != agreement.organization_id for f in facilities):
        errors["covered_facilities"] = "A covered facility belongs to another organization."
    if facilities is not None and not agreement.covers_all_facilities and not facilities:
        errors["covered_facilities"] = "Choose the facilities this agreement covers, or make it cover all facilities."
    if errors:
        raise ValidationError(errors)
    is_new = agreement.pk is None
    agreement.full_clean()
    agreement.save()
    if facilities is not None:
        before = set() if is_new else set(agreement.covered_facilities.values_list("pk", flat=True))
        after = set() if agreement.covers_all_facilities else {facility.pk for facility in facilities}
        agreement.covered_facilities.set([] if agreement.covers_all_facilities else facilities)
        _date_coverage_changes(agreement, added=after - before, removed=before - after, on=coverage_changed_on)
    return agreement


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
