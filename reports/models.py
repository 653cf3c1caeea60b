from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from organizations.querysets import RestrictedQuerySet


class PaperSize(models.TextChoices):
    LETTER = "letter", "US Letter"
    A4 = "a4", "A4"


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Generating"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class AuditReportQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        # An organization-wide report (facility is NULL) lists every facility's vendors, so a member
        # limited to some facilities sees only the reports of those facilities.
        return Q(facility__in=facility_ids)

    def done(self) -> AuditReportQuerySet:
        return self.filter(status=ReportStatus.DONE)


class AuditReport(models.Model):
    """A BAA audit packet handed to a surveyor (OCR, CMS, the Joint Commission), stored as generated.

    The PDF is kept with its SHA-256 so that a copy handed over can later be verified, and it is never
    regenerated: asking again makes a new report. Kept like the agreements it documents (45 CFR
    164.316(b)(2)(i), 6 years), hence PROTECT everywhere.
    """

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="audit_reports"
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_reports",
        help_text="Empty for a report on the whole organization.",
    )
    paper_size = models.CharField(max_length=8, choices=PaperSize.choices, default=PaperSize.LETTER)
    as_of = models.DateField("as of", help_text="The day coverage is evaluated for.")
    include_signed_documents = models.BooleanField(
        "append the signed BAA PDFs",
        default=False,
        help_text="Append the signed agreements on file, so that the packet is complete.",
    )
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    error = models.TextField(blank=True)
    file = models.FileField(upload_to="reports/%Y/%m/", blank=True)
    sha256 = models.CharField("SHA-256", max_length=64, blank=True, db_index=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    #: Empty for a report written from the command line (manage.py audit_report).
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AuditReportQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="audit_report_progress_percent"),
            models.CheckConstraint(
                condition=~Q(status=ReportStatus.DONE) | (~Q(file="") & ~Q(sha256="") & Q(finished_at__isnull=False)),
                name="audit_report_done_has_file_and_checksum",
                violation_error_message="A finished report has its file, its SHA-256 and its finishing time.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-requested_at"])]

    def __str__(self) -> str:
        return f"Audit report {self.pk} ({self.scope_label})"

    @property
    def scope_label(self) -> str:
        return self.facility.name if self.facility_id else "all facilities"

    @property
    def generated_by_label(self) -> str:
        if self.generated_by_id is None:
            return "the command line (manage.py audit_report)"
        user = self.generated_by
        return user.get_full_name() or user.get_username()

    @property
    def is_finished(self) -> bool:
        return self.status in (ReportStatus.DONE, ReportStatus.FAILED)

    @property
    def download_name(self) -> str:
        return f"baa-audit-report-{self.pk}.pdf"
