from __future__ import annotations

from django.db import models
from django.db.models import Exists, OuterRef, Q
from simple_history.models import HistoricalRecords

from organizations.querysets import RestrictedQuerySet


class VendorCategory(models.TextChoices):
    PACS = "pacs", "PACS"
    NETWORK_CARRIER = "network_carrier", "Network carrier (ISP, telecom)"
    COURIER = "courier", "Courier (physical media transport)"
    TELERADIOLOGY = "teleradiology", "Teleradiology"
    AI_DIAGNOSTIC = "ai_diagnostic", "AI diagnostic software"
    CLOUD_DICOM_STORAGE = "cloud_dicom_storage", "Cloud DICOM storage"
    CLOUD_HOSTING = "cloud_hosting", "Cloud hosting"
    RIS = "ris", "RIS"
    BILLING = "billing", "Billing"
    REFERRING_PORTAL = "referring_portal", "Referring-provider portal"
    OTHER = "other", "Other"


#: The categories whose vendors can be a mere conduit: they only transport data, without access to
#: it. Storage is never transport: HHS's guidance on cloud computing says a cloud service provider
#: that creates, receives, maintains or transmits ePHI is a business associate even if it stores only
#: encrypted data and holds no key, so PACS, teleradiology, AI, cloud DICOM storage, cloud hosting,
#: RIS, billing and portal vendors cannot be conduits. "Other" stays allowed: it holds what the list
#: does not name (a carrier recorded before these categories existed).
CONDUIT_CATEGORIES = (VendorCategory.NETWORK_CARRIER, VendorCategory.COURIER, VendorCategory.OTHER)

CONDUIT_NOT_ALLOWED = (
    "A {category} vendor cannot be a mere conduit: it maintains or processes PHI, so it is a business "
    "associate. HHS's guidance on HIPAA and cloud computing: a cloud service provider that creates, "
    "receives, maintains or transmits ePHI is a business associate even if the data is encrypted and it "
    "holds no key. Only a network carrier or courier that merely transports data can be a conduit."
)


class VendorQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        # A vendor is visible where it serves one of the user's facilities, and while it serves none
        # (just created, not yet engaged), so that a facility-limited officer can set it up.
        engaged_anywhere = Engagement.objects.filter(vendor=OuterRef("pk"))
        engaged_here = engaged_anywhere.filter(facility__in=facility_ids)
        return Q(Exists(engaged_here)) | ~Q(Exists(engaged_anywhere))


class Vendor(models.Model):
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="vendors")
    legal_name = models.CharField(max_length=200)
    category = models.CharField(max_length=32, choices=VendorCategory.choices)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(blank=True)
    notes = models.TextField(blank=True)
    is_conduit = models.BooleanField(
        "mere conduit",
        default=False,
        help_text="Only transports data without access to it (e.g. an ISP): not a business associate.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = VendorQuerySet.as_manager()

    class Meta:
        ordering = ["legal_name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "legal_name"], name="vendor_name_unique_in_organization"),
            models.CheckConstraint(
                condition=Q(is_conduit=False) | Q(category__in=[c.value for c in CONDUIT_CATEGORIES]),
                name="vendor_conduit_only_for_transport_categories",
                violation_error_message="Only a network carrier or courier can be a mere conduit.",
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name

    def clean(self) -> None:
        super().clean()
        if self.is_conduit and self.category and self.category not in CONDUIT_CATEGORIES:
            from django.core.exceptions import ValidationError

            label = VendorCategory(self.category).label
            raise ValidationError({"is_conduit": CONDUIT_NOT_ALLOWED.format(category=label)})


class EngagementStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    OFFBOARDED = "offboarded", "Offboarded"


class EngagementQuerySet(RestrictedQuerySet):
    organization_lookup = "facility__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(facility__in=facility_ids)


PHI_VERB_FIELDS = ("phi_creates", "phi_receives", "phi_maintains", "phi_transmits")


class Engagement(models.Model):
    """A vendor's service at a facility, and what it does with PHI there.

    The four PHI verbs are the business-associate test of 45 CFR 160.103: a vendor that creates,
    receives, maintains or transmits PHI on the facility's behalf is a business associate.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="engagements")
    facility = models.ForeignKey("facilities.Facility", on_delete=models.PROTECT, related_name="engagements")
    service_description = models.CharField(max_length=300)
    phi_creates = models.BooleanField("creates PHI", default=False)
    phi_receives = models.BooleanField("receives PHI", default=False)
    phi_maintains = models.BooleanField("maintains PHI", default=False)
    phi_transmits = models.BooleanField("transmits PHI", default=False)
    phi_access_starts_on = models.DateField(
        "PHI access starts on", null=True, blank=True, help_text="Actual or planned first day the vendor touches PHI."
    )
    ends_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=EngagementStatus.choices, default=EngagementStatus.PLANNED)
    data_location = models.CharField(
        max_length=200, blank=True, help_text="Where the data lives, e.g. 'AWS us-east-1'."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["facility__name", "vendor__legal_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True)
                | Q(phi_access_starts_on__isnull=True)
                | Q(ends_on__gte=models.F("phi_access_starts_on")),
                name="engagement_ends_after_phi_start",
                violation_error_message="The engagement cannot end before PHI access starts.",
            ),
        ]
        indexes = [models.Index(fields=["vendor", "facility"])]

    def __str__(self) -> str:
        return f"{self.vendor} at {self.facility.name}: {self.service_description}"

    @property
    def has_phi_access(self) -> bool:
        return any(getattr(self, field) for field in PHI_VERB_FIELDS)

    @property
    def phi_verbs(self) -> list[str]:
        return [field.removeprefix("phi_") for field in PHI_VERB_FIELDS if getattr(self, field)]


class SubcontractorLinkQuerySet(RestrictedQuerySet):
    organization_lookup = "vendor__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(vendor__in=Vendor.objects.filter(VendorQuerySet(Vendor).facility_scope(facility_ids)))


class SubcontractorLink(models.Model):
    """A business associate's own subcontractor, e.g. the cloud host under a PACS vendor.

    45 CFR 164.502(e)(1)(ii) and 164.308(b)(2): a subcontractor that touches PHI must be bound by
    the business associate with a downstream BAA; the covered entity should obtain assurance of it.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="subcontractor_links")
    subcontractor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="serves_as_subcontractor")
    service_description = models.CharField(max_length=300, blank=True)
    touches_phi = models.BooleanField(default=True)
    downstream_baa_attested_on = models.DateField(
        null=True, blank=True, help_text="When the vendor attested that a BAA binds this subcontractor."
    )
    phi_access_starts_on = models.DateField(
        "PHI access starts on", null=True, blank=True, help_text="First day the subcontractor touches PHI."
    )
    downstream_baa_executed_on = models.DateField(
        "downstream BAA executed on", null=True, blank=True, help_text="The date of the vendor's BAA with it."
    )
    attestation_evidence = models.TextField(blank=True)
    attestation_file = models.FileField(upload_to="attestations/%Y/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = SubcontractorLinkQuerySet.as_manager()

    class Meta:
        ordering = ["vendor__legal_name", "subcontractor__legal_name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(vendor=models.F("subcontractor")),
                name="subcontractor_is_another_vendor",
                violation_error_message="A vendor cannot be its own subcontractor.",
            ),
            models.UniqueConstraint(fields=["vendor", "subcontractor"], name="subcontractor_link_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subcontractor} under {self.vendor}"
