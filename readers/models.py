"""Teleradiology readers: the radiologists of a teleradiology vendor, their state licenses and their
privileges at the facilities they read for.

The practice of medicine happens where the patient is: a radiologist reading a study from a facility
needs a license of the facility's state (Interstate Medical Licensure Compact: still one license per
state), and privileges at the facility, granted directly or by proxy under a written agreement with
the distant-site hospital or telemedicine entity (42 CFR 482.22(a)(3)-(4), 482.12(a)(8); critical
access hospitals 485.616(c)). See shared/domain/hipaa-baa.md, "Teleradiology licensure and
credentialing".

Every fact is dated (from/until); what holds on a day is derived from the dates by the rules
(compliance/rules.py, "Teleradiology readers"), never stored as a status of today.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from facilities.models import USState
from organizations.querysets import RestrictedQuerySet
from readers.npi import validate_npi


def _vendor_scope(facility_ids: list[int], vendor_lookup: str) -> Q:
    """Visible where the vendor is (the vendors' own rule of the gate)."""
    from vendors.models import Vendor, VendorQuerySet

    return Q(**{f"{vendor_lookup}__in": Vendor.objects.filter(VendorQuerySet(Vendor).facility_scope(facility_ids))})


class RadiologistQuerySet(RestrictedQuerySet):
    organization_lookup = "vendor__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return _vendor_scope(facility_ids, "vendor")


class Radiologist(models.Model):
    """A reading radiologist on a teleradiology vendor's roster, from ``roster_starts_on`` until
    ``roster_ends_on`` (removed from the roster: they no longer read, and nothing about them is due)."""

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="radiologists")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    npi = models.CharField(
        "NPI", max_length=10, validators=[validate_npi], help_text="10 digits; the last one is a check digit."
    )
    board = models.CharField("certifying board", max_length=200, blank=True, default="American Board of Radiology")
    board_certified_on = models.DateField("board certified on", null=True, blank=True)
    board_certification_expires_on = models.DateField("board certification expires on", null=True, blank=True)
    roster_starts_on = models.DateField("on the roster from")
    roster_ends_on = models.DateField("removed from the roster on", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = RadiologistQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "npi"], name="radiologist_npi_unique_per_vendor"),
            models.CheckConstraint(
                condition=Q(board_certification_expires_on__isnull=True)
                | Q(board_certified_on__isnull=True)
                | Q(board_certification_expires_on__gt=F("board_certified_on")),
                name="radiologist_board_expires_after_certified",
                violation_error_message="The board certification must expire after it was granted.",
            ),
            models.CheckConstraint(
                condition=Q(roster_ends_on__isnull=True) | Q(roster_ends_on__gte=F("roster_starts_on")),
                name="radiologist_roster_ends_after_start",
                violation_error_message="A radiologist cannot leave the roster before joining it.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}, NPI {self.npi}"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class RadiologistChildQuerySet(RestrictedQuerySet):
    organization_lookup = "radiologist__vendor__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return _vendor_scope(facility_ids, "radiologist__vendor")


class LicenseStatus(models.TextChoices):
    """As the state board reports it. Only an active (or active with conditions) license allows reading."""

    ACTIVE = "active", "Active"
    ACTIVE_RESTRICTED = "active_restricted", "Active with conditions"
    INACTIVE = "inactive", "Inactive"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"
    SURRENDERED = "surrendered", "Surrendered"


#: Statuses under which the holder may practise in the state.
PRACTISING_STATUSES = (LicenseStatus.ACTIVE, LicenseStatus.ACTIVE_RESTRICTED)


class VerificationSource(models.TextChoices):
    STATE_BOARD = "state_board", "State medical board (primary source)"
    FSMB_DOCINFO = "fsmb_docinfo", "FSMB DocInfo"
    NPPES = "nppes", "NPPES NPI registry"
    VENDOR_ROSTER = "vendor_roster", "Vendor's roster (not verified)"


class ImlcLetter(models.Model):
    """An Interstate Medical Licensure Compact letter of qualification. It makes licenses in member
    states quicker to get, but it is not a license: each state still issues its own (StateLicense)."""

    radiologist = models.ForeignKey(Radiologist, on_delete=models.PROTECT, related_name="imlc_letters")
    state_of_principal_license = models.CharField(max_length=2, choices=USState.choices)
    issued_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    document = models.FileField(upload_to="readers/imlc/%Y/", blank=True)
    history = HistoricalRecords()

    objects = RadiologistChildQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on"]
        verbose_name = "IMLC letter of qualification"
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("issued_on")),
                name="imlc_letter_expires_after_issue",
                violation_error_message="The letter must expire after it was issued.",
            ),
        ]

    def __str__(self) -> str:
        return f"IMLC letter of {self.radiologist.name} ({self.state_of_principal_license})"


class StateLicense(models.Model):
    """A state medical license: practising in the state from ``issued_on`` through ``expires_on``
    while its status is active. Without an expiry date it does not count (not verified yet)."""

    radiologist = models.ForeignKey(Radiologist, on_delete=models.PROTECT, related_name="licenses")
    state = models.CharField("state", max_length=2, choices=USState.choices)
    number = models.CharField("license number", max_length=40)
    status = models.CharField(max_length=20, choices=LicenseStatus.choices, default=LicenseStatus.ACTIVE)
    issued_on = models.DateField(null=True, blank=True)
    #: Unknown (e.g. imported from NPPES, which lists numbers and states but no dates): the license
    #: does not count as practising until the date is recorded from the state board.
    expires_on = models.DateField(null=True, blank=True)
    imlc_letter = models.ForeignKey(
        ImlcLetter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="licenses",
        verbose_name="issued through the IMLC letter",
    )
    verification_source = models.CharField(
        max_length=20, choices=VerificationSource.choices, default=VerificationSource.STATE_BOARD
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_on = models.DateField("last verified on", null=True, blank=True)
    document = models.FileField(upload_to="readers/licenses/%Y/", blank=True)
    history = HistoricalRecords()

    objects = RadiologistChildQuerySet.as_manager()

    class Meta:
        ordering = ["state", "-expires_on"]
        constraints = [
            models.UniqueConstraint(fields=["radiologist", "state", "number"], name="state_license_unique_number"),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(issued_on__isnull=True) | Q(expires_on__gt=F("issued_on")),
                name="state_license_expires_after_issue",
                violation_error_message="The license must expire after it was issued.",
            ),
        ]
        indexes = [models.Index(fields=["radiologist", "state", "expires_on"])]

    def __str__(self) -> str:
        return f"{self.get_state_display()} license {self.number}"


class ReadingAssignmentQuerySet(RestrictedQuerySet):
    organization_lookup = "engagement__facility__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(engagement__facility__in=facility_ids)


class ReadingAssignment(models.Model):
    """A radiologist reads for an engagement (the vendor's service at one facility) from
    ``starts_on`` until ``ends_on``."""

    radiologist = models.ForeignKey(Radiologist, on_delete=models.PROTECT, related_name="assignments")
    engagement = models.ForeignKey("vendors.Engagement", on_delete=models.PROTECT, related_name="reading_assignments")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    objects = ReadingAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["engagement", "radiologist"]
        constraints = [
            models.UniqueConstraint(
                fields=["radiologist", "engagement", "starts_on"], name="reading_assignment_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="reading_assignment_ends_after_start",
                violation_error_message="The assignment cannot end before it starts.",
            ),
        ]
        indexes = [models.Index(fields=["engagement", "radiologist"])]

    def __str__(self) -> str:
        return f"{self.radiologist.name} reads for {self.engagement_id}"


class DistantSiteKind(models.TextChoices):
    HOSPITAL = "hospital", "Distant-site hospital"
    TELEMEDICINE_ENTITY = "telemedicine_entity", "Distant-site telemedicine entity"


class ProxyAgreementQuerySet(RestrictedQuerySet):
    organization_lookup = "facility__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(facility__in=facility_ids)


class ProxyCredentialingAgreement(models.Model):
    """The written agreement under which a facility credentials and privileges the vendor's
    radiologists by proxy, relying on the distant site's decisions (42 CFR 482.22(a)(3)-(4),
    482.12(a)(8); critical access hospitals 485.616(c)). The distant site is a Medicare-participating
    hospital, or a telemedicine entity; it keeps the list of privileges current, and the facility
    sends it periodic feedback on the radiologists' performance."""

    facility = models.ForeignKey("facilities.Facility", on_delete=models.PROTECT, related_name="proxy_agreements")
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="proxy_agreements")
    distant_site_name = models.CharField(max_length=200)
    distant_site_kind = models.CharField(max_length=24, choices=DistantSiteKind.choices)
    medicare_participating = models.BooleanField(
        "Medicare-participating hospital",
        default=False,
        help_text="42 CFR 482.22(a)(3): a distant-site hospital must participate in Medicare.",
    )
    effective_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    terminated_on = models.DateField(null=True, blank=True)
    document = models.FileField("signed agreement", upload_to="readers/proxy/%Y/", blank=True)
    last_feedback_on = models.DateField(
        "last feedback sent on",
        null=True,
        blank=True,
        help_text="42 CFR 482.22(a)(4)(iv): the facility's periodic review of the radiologists sent to the distant "
        "site.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ProxyAgreementQuerySet.as_manager()

    class Meta:
        ordering = ["facility", "-effective_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("effective_on")),
                name="proxy_agreement_expires_after_effective",
                violation_error_message="The agreement must expire after it takes effect.",
            ),
            models.CheckConstraint(
                condition=Q(terminated_on__isnull=True) | Q(terminated_on__gte=F("effective_on")),
                name="proxy_agreement_terminated_after_effective",
                violation_error_message="The agreement cannot be terminated before it takes effect.",
            ),
        ]

    def __str__(self) -> str:
        return f"Proxy credentialing with {self.distant_site_name}"


class PrivilegeBasis(models.TextChoices):
    DIRECT = "direct", "Credentialed directly by the facility"
    PROXY = "proxy", "By proxy (distant site's decision)"


class PrivilegeQuerySet(RestrictedQuerySet):
    organization_lookup = "facility__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(facility__in=facility_ids)


class Privilege(models.Model):
    """Clinical privileges of a radiologist at a facility, from ``granted_on`` until ``expires_on``
    (the end of the appointment; reappointment on the medical staff's cycle, commonly two years)."""

    radiologist = models.ForeignKey(Radiologist, on_delete=models.PROTECT, related_name="privileges")
    facility = models.ForeignKey("facilities.Facility", on_delete=models.PROTECT, related_name="reader_privileges")
    basis = models.CharField(max_length=16, choices=PrivilegeBasis.choices)
    scope = models.CharField(max_length=200, default="Diagnostic radiology, teleradiology interpretation")
    granted_on = models.DateField()
    expires_on = models.DateField()
    next_reappointment_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    objects = PrivilegeQuerySet.as_manager()

    class Meta:
        ordering = ["facility", "-expires_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("granted_on")),
                name="privilege_expires_after_grant",
                violation_error_message="The privileges must end after they were granted.",
            ),
            models.CheckConstraint(
                condition=Q(next_reappointment_on__isnull=True) | Q(next_reappointment_on__gt=F("granted_on")),
                name="privilege_reappointment_after_grant",
                violation_error_message="The next reappointment must come after the grant.",
            ),
            models.UniqueConstraint(
                fields=["radiologist", "facility", "granted_on"], name="privilege_unique_grant_per_day"
            ),
        ]
        indexes = [models.Index(fields=["radiologist", "facility", "expires_on"])]

    def __str__(self) -> str:
        return f"Privileges of {self.radiologist.name} at {self.facility.name}"
