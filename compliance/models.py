from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from organizations.querysets import RestrictedQuerySet


class FindingKind(models.TextChoices):
    MISSING_BAA = "missing_baa", "Missing BAA"
    BAA_LAPSED = "baa_lapsed", "BAA expired or terminated while PHI access continues"
    BAA_EXPIRING = "baa_expiring", "BAA expiring with no executed successor"
    PHI_BEFORE_BAA = "phi_before_baa", "PHI access before the BAA was executed"
    NO_SIGNED_DOCUMENT = "no_signed_document", "Executed BAA with no signed document on file"
    BREACH_WINDOW_TOO_LONG = "breach_window_too_long", "Breach-notification window longer than 60 days"
    PRE_OMNIBUS_BAA = "pre_omnibus_baa", "Pre-Omnibus BAA never updated"
    CHECKLIST_INCOMPLETE = "checklist_incomplete", "Teleradiology checklist incomplete"
    CHECKLIST_REVIEW_OVERDUE = "checklist_review_overdue", "Teleradiology checklist review overdue"
    SUBCONTRACTOR_GAP = "subcontractor_gap", "Subcontractor touching PHI without a downstream BAA"
    # Teleradiology readers (readers app; rules in the "Teleradiology readers" section of rules.py).
    READER_UNLICENSED = "reader_unlicensed", "Radiologist reading without a license in the facility's state"
    READER_LICENSE_EXPIRING = "reader_license_expiring", "Radiologist's state license expiring"
    READER_BOARD_EXPIRING = "reader_board_expiring", "Radiologist's board certification expiring"
    READER_PRIVILEGE_EXPIRING = "reader_privilege_expiring", "Radiologist's privileges at a facility expiring"
    READER_NOT_PRIVILEGED = "reader_not_privileged", "Radiologist reading without privileges at the facility"
    READER_PROXY_WITHOUT_AGREEMENT = "reader_proxy_no_agreement", "Privileges by proxy without a written agreement"
    READER_LICENSE_NOT_REVERIFIED = "reader_license_not_reverified", "State license not re-verified"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


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
    kind = models.CharField(max_length=32, choices=FindingKind.choices)
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

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def subject(self):
        return self.engagement or self.agreement or self.subcontractor_link or self.radiologist
