from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from simple_history.models import HistoricalRecords

from organizations.querysets import RestrictedQuerySet


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent for signature"
    IN_NEGOTIATION = "in_negotiation", "In negotiation"
    EXECUTED = "executed", "Executed"
    EXPIRED = "expired", "Expired"
    TERMINATED = "terminated", "Terminated"
    SUPERSEDED = "superseded", "Superseded"


# The legal lifecycle. Anything else is refused by agreements.services.agreement_transition.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    AgreementStatus.DRAFT: frozenset({AgreementStatus.SENT, AgreementStatus.EXECUTED}),
    AgreementStatus.SENT: frozenset({AgreementStatus.IN_NEGOTIATION, AgreementStatus.EXECUTED, AgreementStatus.DRAFT}),
    AgreementStatus.IN_NEGOTIATION: frozenset({AgreementStatus.SENT, AgreementStatus.EXECUTED}),
    AgreementStatus.EXECUTED: frozenset(
        {AgreementStatus.EXPIRED, AgreementStatus.TERMINATED, AgreementStatus.SUPERSEDED}
    ),
    AgreementStatus.EXPIRED: frozenset({AgreementStatus.SUPERSEDED}),
    AgreementStatus.TERMINATED: frozenset(),
    AgreementStatus.SUPERSEDED: frozenset(),
}

#: Statuses of an agreement that was signed at some point (it carries an execution date).
SIGNED_STATUSES = (
    AgreementStatus.EXECUTED,
    AgreementStatus.EXPIRED,
    AgreementStatus.TERMINATED,
    AgreementStatus.SUPERSEDED,
)


class BreachWindowUnit(models.TextChoices):
    """The unit a BAA states its breach-notification window in (issue 12: "four (4) hours" is not 0 days,
    and "45 business days" is more than 60 calendar days)."""

    HOURS = "hours", "Hours"
    CALENDAR_DAYS = "calendar_days", "Calendar days"
    BUSINESS_DAYS = "business_days", "Business days"
    NOT_STATED = "not_stated", "Not stated in the document"


def breach_window_max_days(value: int | None, unit: str) -> int | None:
    """The most calendar days a window can span, for the 60-calendar-day limit of 45 CFR 164.410(b).

    Hours round up to whole days; n business days count from a discovery on a Friday evening, so the
    weekends inside are counted (public holidays are not).
    """
    if value is None or unit in ("", BreachWindowUnit.NOT_STATED):
        return None
    if unit == BreachWindowUnit.HOURS:
        return -(-value // 24)
    if unit == BreachWindowUnit.BUSINESS_DAYS:
        return ((value - 1) // 5) * 7 + ((value - 1) % 5) + 3 if value > 0 else 0
    return value


class AgreementQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        covered = BusinessAssociateAgreement.covered_facilities.through.objects.filter(
            businessassociateagreement=OuterRef("pk"), facility__in=facility_ids
        )
        return Q(covers_all_facilities=True) | Q(Exists(covered))

    def not_archived(self) -> AgreementQuerySet:
        return self.filter(archived_at__isnull=True)


class BusinessAssociateAgreement(models.Model):
    """A BAA between the organization (covered entity) and a vendor (business associate).

    Never hard-deleted: BAA records are kept 6 years from their last effective date
    (45 CFR 164.316(b)(2)(i), 164.530(j)(2)), so they are archived instead (on_delete=PROTECT).
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="agreements")
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="agreements")
    title = models.CharField(max_length=200, help_text="e.g. 'Business Associate Agreement 2024'.")
    status = models.CharField(max_length=20, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT)
    covers_all_facilities = models.BooleanField(
        default=True, help_text="Covers every facility of the organization, present and future."
    )
    covered_facilities = models.ManyToManyField(
        "facilities.Facility",
        blank=True,
        related_name="agreements",
        help_text="Used when not all facilities are covered.",
    )
    executed_on = models.DateField(null=True, blank=True, help_text="The day the last party signed.")
    effective_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True, help_text="Leave empty for an evergreen agreement.")
    auto_renews = models.BooleanField(default=False)
    renewal_term_months = models.PositiveSmallIntegerField(null=True, blank=True)
    renewal_notice_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Notice needed before expiry to stop an automatic renewal."
    )
    breach_notification_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days the vendor has to report a breach after discovery; 45 CFR 164.410(b) allows 60 at most.",
    )
    # The window as the document states it; breach_notification_days above is its maximum in calendar
    # days (what the rules compare with 60), derived by agreements.services.agreement_save.
    breach_notification_window = models.PositiveSmallIntegerField(
        "breach-notification window", null=True, blank=True, help_text="The number the BAA states, in its unit."
    )
    breach_notification_unit = models.CharField("unit", max_length=16, choices=BreachWindowUnit.choices, blank=True)
    ce_signatory = models.CharField("covered entity signatory", max_length=200, blank=True)
    ba_signatory = models.CharField("business associate signatory", max_length=200, blank=True)
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        help_text="The earlier agreement this one renews or replaces.",
    )
    amended_on = models.DateField(null=True, blank=True, help_text="Last amendment, e.g. for the 2013 Omnibus rule.")
    terminated_on = models.DateField(null=True, blank=True)
    termination_reason = models.TextField(
        blank=True, help_text="Why it was terminated (agreements.services.agreement_terminate asks for it)."
    )
    notes = models.TextField(blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(m2m_fields=[covered_facilities])

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["vendor__legal_name", "-effective_on"]
        verbose_name = "business associate agreement"
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(effective_on__isnull=True)
                | Q(expires_on__gt=models.F("effective_on")),
                name="baa_expires_after_effective",
                violation_error_message="The expiry date must be after the effective date.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=SIGNED_STATUSES) | Q(executed_on__isnull=False, effective_on__isnull=False),
                name="baa_signed_has_dates",
                violation_error_message="An executed agreement needs its execution date and effective date.",
            ),
            models.CheckConstraint(
                condition=~Q(status=AgreementStatus.TERMINATED) | Q(terminated_on__isnull=False),
                name="baa_terminated_has_date",
                violation_error_message="A terminated agreement needs its termination date.",
            ),
            models.CheckConstraint(
                # isnull spelled out: "NULL > 0" is unknown, and a CHECK passes on unknown.
                condition=~Q(auto_renews=True)
                | Q(renewal_term_months__isnull=False, renewal_term_months__gt=0, expires_on__isnull=False),
                name="baa_auto_renewal_has_term",
                violation_error_message="An auto-renewing agreement needs an expiry date and a renewal term.",
            ),
            models.CheckConstraint(
                condition=Q(archived_at__isnull=True) | ~Q(status=AgreementStatus.EXECUTED),
                name="baa_executed_not_archived",
                violation_error_message="Terminate or supersede an executed agreement before archiving it.",
            ),
            models.CheckConstraint(
                condition=~Q(supersedes=models.F("pk")),
                name="baa_does_not_supersede_itself",
            ),
        ]
        indexes = [models.Index(fields=["organization", "vendor", "status"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.vendor})"


class FacilityCoverageQuerySet(RestrictedQuerySet):
    organization_lookup = "agreement__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(facility__in=facility_ids)


class FacilityCoverage(models.Model):
    """When a facility was added to, or removed from, a selective agreement's coverage.

    A facility is covered by an agreement from the day it was added to it, not from the agreement's
    own date (see compliance/timeline.py). ``covered_facilities`` lists the facilities covered today;
    these rows date the changes: an open row (no ``removed_on``) dates when a listed facility began to
    be covered; a closed row keeps the period of a facility removed since. A listed facility without
    an open row is covered from the agreement's start (what the migration recorded for existing data).
    """

    agreement = models.ForeignKey(
        BusinessAssociateAgreement, on_delete=models.PROTECT, related_name="facility_coverage"
    )
    facility = models.ForeignKey("facilities.Facility", on_delete=models.PROTECT, related_name="agreement_coverage")
    added_on = models.DateField(
        null=True, blank=True, help_text="First day covered; empty: from the agreement's effective date."
    )
    removed_on = models.DateField(null=True, blank=True, help_text="First day no longer covered.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FacilityCoverageQuerySet.as_manager()

    class Meta:
        ordering = ["agreement", "facility", "added_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(removed_on__isnull=True)
                | Q(added_on__isnull=True)
                | Q(removed_on__gt=models.F("added_on")),
                name="facility_coverage_removed_after_added",
                violation_error_message="A facility is removed from coverage after it was added.",
            ),
            models.UniqueConstraint(
                fields=["agreement", "facility"],
                condition=Q(removed_on__isnull=True),
                name="facility_coverage_one_open_row",
            ),
        ]
        indexes = [models.Index(fields=["agreement", "facility"])]

    def __str__(self) -> str:
        until = f" until {self.removed_on:%Y-%m-%d}" if self.removed_on else ""
        since = f"{self.added_on:%Y-%m-%d}" if self.added_on else "the agreement's start"
        return f"{self.facility} covered by {self.agreement} from {since}{until}"


class DocumentKind(models.TextChoices):
    SIGNED_AGREEMENT = "signed", "Signed agreement"
    AMENDMENT = "amendment", "Signed amendment"
    OTHER = "other", "Other"


class AgreementDocumentQuerySet(RestrictedQuerySet):
    organization_lookup = "agreement__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(
            agreement__in=BusinessAssociateAgreement.objects.filter(
                AgreementQuerySet(BusinessAssociateAgreement).facility_scope(facility_ids)
            )
        )


class AgreementDocument(models.Model):
    """A stored document of an agreement, with the SHA-256 computed at upload (integrity, 164.312(c))."""

    agreement = models.ForeignKey(BusinessAssociateAgreement, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=16, choices=DocumentKind.choices, default=DocumentKind.SIGNED_AGREEMENT)
    file = models.FileField(upload_to="agreements/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = AgreementDocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"
