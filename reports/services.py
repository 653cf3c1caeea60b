"""Writes of the reports app: requesting, generating and storing audit reports.

A report is generated once, stored with the SHA-256 of its bytes, and never regenerated: asking
again makes a new report, so every copy ever handed to a surveyor can be verified later
(integrity of stored records, 45 CFR 164.312(c)(1)).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from pypdf import PdfReader

from facilities.models import Facility
from organizations.models import Organization
from organizations.selectors import active_membership
from reports.models import AuditReport, PaperSize, ReportStatus
from reports.selectors import facilities_reportable_by, may_report_on_organization, report_data

logger = logging.getLogger(__name__)

#: A report still "running" this long after it started lost its worker: it may be claimed again.
STALE_AFTER = datetime.timedelta(minutes=30)


def audit_report_request(
    *,
    requested_by,
    facility: Facility | None,
    paper_size: str = PaperSize.LETTER,
    include_signed_documents: bool = False,
    as_of: datetime.date | None = None,
) -> AuditReport:
    """Queue a new report of a facility (or, with no facility, of the whole organization).

    Anyone who may see the facility may ask for its report. An organization-wide report lists every
    facility, so only members not limited to some facilities may ask for one. Generation starts in
    the background once the transaction commits.
    """
    membership = active_membership(requested_by)
    if membership is None:
        raise PermissionDenied("No active membership.")
    if facility is not None:
        if not facilities_reportable_by(requested_by).filter(pk=facility.pk).exists():
            raise PermissionDenied("This facility is not visible to you.")
    elif not may_report_on_organization(requested_by):
        raise PermissionDenied("Only members who see every facility may ask for an organization-wide report.")
    report = AuditReport(
        organization_id=membership.organization_id,
        facility=facility,
        paper_size=paper_size,
        include_signed_documents=include_signed_documents,
        as_of=as_of or timezone.localdate(),
        generated_by=requested_by,
    )
    report.full_clean()
    report.save()
    _enqueue_on_commit(report.pk)
    return report


def _enqueue_on_commit(report_id: int) -> None:
    from reports.tasks import generate_audit_report

    transaction.on_commit(lambda: generate_audit_report.delay(report_id))


def audit_report_write(
    *,
    organization: Organization,
    facility: Facility | None,
    paper_size: str = PaperSize.LETTER,
    include_signed_documents: bool = False,
    as_of: datetime.date | None = None,
) -> AuditReport:
    """Generate a report now, with no user (the command line), and store it like any other.

    Stored so that the copy written to a file can be verified like one downloaded from the app.
    """
    if facility is not None and facility.organization_id != organization.pk:
        raise ValidationError({"facility": "The facility belongs to another organization."})
    report = AuditReport(
        organization=organization,
        facility=facility,
        paper_size=paper_size,
        include_signed_documents=include_signed_documents,
        as_of=as_of or timezone.localdate(),
        generated_by=None,
    )
    report.full_clean()
    report.save()
    return audit_report_generate(report_id=report.pk)


def audit_report_generate(*, report_id: int) -> AuditReport:
    """Generate and store a queued report. Idempotent: a report already done (or being generated
    by another worker) is left alone, so a task delivered twice never regenerates it.

    The report is claimed with a conditional UPDATE, so two workers never generate the same one; a
    report left running by a worker that died is claimed again after STALE_AFTER.
    """
    now = timezone.now()
    claimed = (
        AuditReport.objects.filter(pk=report_id)
        .filter(Q(status=ReportStatus.QUEUED) | Q(status=ReportStatus.RUNNING, started_at__lt=now - STALE_AFTER))
        .update(status=ReportStatus.RUNNING, started_at=now, progress=5, error="")
    )
    if not claimed:
        return AuditReport.objects.get(pk=report_id)
    mine = AuditReport.objects.filter(pk=report_id, status=ReportStatus.RUNNING, started_at=now)
    shown = [-1, -1]

    def progress(percent: int, pages: int | None = None) -> None:
        """While running, ``page_count`` is the number of pages laid out so far (WeasyPrint's page
        events): the detail page shows "page N", then the final count. One UPDATE per percent (35 to
        85 while laying out), so a packet of 1,000 pages costs no more writes than one of 10."""
        if percent == shown[0]:
            return
        shown[:] = [percent, pages]
        mine.update(progress=percent, **({} if pages is None else {"page_count": pages}))

    report = AuditReport.objects.select_related("organization", "facility", "generated_by").get(pk=report_id)
    try:
        pdf = _render(report, generated_at=now, progress=progress)
        page_count = len(PdfReader(io.BytesIO(pdf)).pages)
        report.file.save(report.download_name, ContentFile(pdf), save=False)
    except Exception as exc:
        logger.exception("Audit report %s failed", report_id)
        mine.update(status=ReportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now())
        report.refresh_from_db()
        return report

    finished = mine.update(
        status=ReportStatus.DONE,
        progress=100,
        file=report.file.name,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size_bytes=len(pdf),
        page_count=page_count,
        finished_at=timezone.now(),
    )
    if not finished:
        # Another worker claimed the report meanwhile (this one was thought dead): keep its result.
        report.file.storage.delete(report.file.name)
    report.refresh_from_db()
    return report


def _render(report: AuditReport, *, generated_at: datetime.datetime, progress) -> bytes:
    user = report.generated_by
    if user is not None:
        # The report shows what its requester may see, checked again now: access may have ended
        # (an auditor's end date) since the request.
        if report.facility_id is not None:
            if not facilities_reportable_by(user).filter(pk=report.facility_id).exists():
                raise PermissionDenied("The requesting user may no longer see this facility.")
        elif not may_report_on_organization(user):
            raise PermissionDenied("The requesting user may no longer see every facility.")
    data = report_data(
        organization=report.organization,
        facility=report.facility,
        as_of=report.as_of,
        user=user,
        generated_at=generated_at,
    )
    progress(30)
    # The last packet of the same scope tells how many pages to expect (the progress bar's scale).
    previous = (
        AuditReport.objects.filter(
            organization_id=report.organization_id,
            facility_id=report.facility_id,
            status=ReportStatus.DONE,
            paper_size=report.paper_size,
        )
        .exclude(pk=report.pk)
        .order_by("-finished_at")
        .values_list("page_count", flat=True)
        .first()
    )
    # Imported here: WeasyPrint loads Pango and its fonts (0.7 s of every web and worker process's start),
    # and only the process that writes a report needs it.
    from reports.pdf import build_pdf

    return build_pdf(
        data,
        paper_size=report.paper_size,
        report_number=report.pk,
        generated_by=report.generated_by_label,
        include_signed_documents=report.include_signed_documents,
        progress=progress,
        expected_pages=previous,
    )
