from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from simple_history.models import HistoricalRecords

from compliance import kinds
from compliance.kinds import Severity
from organizations.querysets import RestrictedQuerySet

__all__ = [
    "SEVERITY_RANK",
    "AssessmentOutcome",
    "BreachRiskAssessment",
    "ComplianceRunState",
    "Finding",
    "FindingKind",
    "FindingQuerySet",
    "Severity",
]


#: The finding kinds as an enum (``FindingKind.MISSING_BAA``), built from the registry
#: (compliance/kinds.py), where each kind is declared once.
FindingKind = models.TextChoices("FindingKind", [(spec.name, (spec.value, spec.label)) for spec in kinds.BUILTIN])


#: Sort order, most urgent first.
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class FindingQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        from agreements.models import AgreementQuerySet, BusinessAssociateAgreement
        from readers.models import Radiologist, RadiologistQuerySet
        from vendors.models import SubcontractorLink, SubcontractorLinkQuerySet

        visible_agreements = BusinessAssociateAgreement.objects.filter(
            AgreementQuerySet(BusinessAssociateAgreement).facility_scope(facility_ids), pk=OuterRef("agreement")
        )
        visible_links = SubcontractorLink.objects.filter(
            SubcontractorLinkQuerySet(SubcontractorLink).facility_scope(facility_ids), pk=OuterRef("subcontractor_link")
        )
        visible_radiologists = Radiologist.objects.filter(
            RadiologistQuerySet(Radiologist).facility_scope(facility_ids), pk=OuterRef("radiologist")
        )
        # Agreement, subcontractor and license findings carry no facility: they are visible where the
        # agreement, the subcontractor's vendor or the radiologist's vendor is.
        return (
            Q(facility__in=facility_ids)
            | (Q(facility__isnull=True) & Q(Exists(visible_agreements)))
            | (Q(facility__isnull=True) & Q(Exists(visible_links)))
            | (Q(facility__isnull=True) & Q(Exists(visible_radiologists)))
        )

    def open(self) -> FindingQuerySet:
        return self.filter(resolved_at__isnull=True)


class Finding(models.Model):
    """What the rules engine (compliance/rules.py) found. Only the engine opens and resolves findings.

    A finding is identified by its kind and subject; while it stays detected it is kept open and its
    last_seen_at moves; when it is no longer detected it gets resolved_at; if it comes back, a new
    finding is opened, so the history of each problem is kept.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="findings")
    kind = models.CharField(max_length=32, choices=kinds.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    #: "<model>:<pk>" of the subject, so that one open finding per kind and subject is a constraint.
    subject_key = models.CharField(max_length=64)
    engagement = models.ForeignKey(
        "vendors.Engagement", on_delete=models.PROTECT, null=True, blank=True, related_name="findings"
    )
    agreement = models.ForeignKey(
        "agreements.BusinessAssociateAgreement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="findings",
    )
    subcontractor_link = models.ForeignKey(
        "vendors.SubcontractorLink", on_delete=models.PROTECT, null=True, blank=True, related_name="findings"
    )
    #: Findings about a teleradiology reader (readers app): the radiologist concerned.
    radiologist = models.ForeignKey(
        "readers.Radiologist", on_delete=models.PROTECT, null=True, blank=True, related_name="findings"
    )
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="findings")
    facility = models.ForeignKey(
        "facilities.Facility", on_delete=models.PROTECT, null=True, blank=True, related_name="findings"
    )
    explanation = models.TextField()
    #: The date the finding is about, where it has one (e.g. the expiry date).
    due_on = models.DateField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["resolved_at", "-first_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_key"],
                condition=Q(resolved_at__isnull=True),
                name="finding_one_open_per_kind_and_subject",
            ),
            models.CheckConstraint(
                condition=Q(engagement__isnull=False)
                | Q(agreement__isnull=False)
                | Q(subcontractor_link__isnull=False)
                | Q(radiologist__isnull=False),
                name="finding_has_subject",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("first_seen_at")),
                name="finding_resolved_after_first_seen",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "resolved_at", "kind"]),
            models.Index(fields=["facility", "resolved_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.explanation[:80]}"

    def get_kind_display(self) -> str:
        """The kind's label from the registry (also for a kind registered at run time)."""
        return kinds.label(self.kind)

    @property
    def kind_spec(self) -> kinds.FindingKindSpec:
        return kinds.get(self.kind)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def subject(self):
        return self.engagement or self.agreement or self.subcontractor_link or self.radiologist


class AssessmentOutcome(models.TextChoices):
    LOW_PROBABILITY = "low_probability", "Low probability that the PHI has been compromised (not a breach)"
    BREACH = "breach", "Breach: notification required (45 CFR 164.404-164.408)"


class BreachRiskAssessmentQuerySet(RestrictedQuerySet):
    organization_lookup = "engagement__facility__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(engagement__facility__in=facility_ids)


class BreachRiskAssessment(models.Model):
    """The documented risk assessment of a period in which PHI was disclosed without a BAA in force.

    A disclosure to a business associate without a BAA is impermissible (45 CFR 164.502(e)) and is
    presumed a breach unless a risk assessment of the four factors of 164.402(2) shows a low
    probability that the PHI has been compromised; the assessment is kept (164.530(j)). Recording one
    whose period spans a past uncovered period closes that period's finding. Never deleted.
    """

    engagement = models.ForeignKey(
        "vendors.Engagement", on_delete=models.PROTECT, related_name="breach_risk_assessments"
    )
    period_starts_on = models.DateField(help_text="First day of the uncovered period assessed.")
    period_ends_on = models.DateField(help_text="Last day of the uncovered period assessed.")
    # 45 CFR 164.402(2)(i)-(iv): the four factors.
    nature_and_extent = models.TextField(
        help_text="The nature and extent of the PHI involved (identifiers, likelihood of re-identification)."
    )
    unauthorized_person = models.TextField(help_text="The unauthorized person who used the PHI or to whom it went.")
    acquired_or_viewed = models.TextField(help_text="Whether the PHI was actually acquired or viewed.")
    mitigation = models.TextField(help_text="The extent to which the risk to the PHI has been mitigated.")
    outcome = models.CharField(max_length=32, choices=AssessmentOutcome.choices)
    assessed_on = models.DateField()
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    document = models.FileField(upload_to="assessments/%Y/", help_text="The signed assessment (PDF).")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = BreachRiskAssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["engagement", "period_starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_ends_on__gte=models.F("period_starts_on")),
                name="assessment_period_ends_after_start",
                violation_error_message="The period assessed ends on or after the day it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"Risk assessment of {self.period_starts_on:%Y-%m-%d} to {self.period_ends_on:%Y-%m-%d}"


class ComplianceRunStateQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q()  # the organization's run state; it names no facility


class ComplianceRunState(models.Model):
    """When the engine was last asked to re-run for an organization after an edit, and when the last
    run that reached it started: the pages say "findings are being updated" while a request is newer
    than the start of the last run, and refresh their findings when it is not (issue #18 item 2).

    Two instants rather than a flag, so that a run which started before an edit committed does not
    count as having seen it.
    """

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.CASCADE, primary_key=True, related_name="compliance_run_state"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    last_run_started_at = models.DateTimeField(null=True, blank=True)

    objects = ComplianceRunStateQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Compliance runs of organization {self.organization_id}"

    @property
    def is_pending(self) -> bool:
        return self.requested_at is not None and (
            self.last_run_started_at is None or self.last_run_started_at < self.requested_at
        )
