"""Bulk onboarding (issue 12 item 4): signed BAAs uploaded many at a time become drafts in a review
queue. The worker reads each draft (the documents reader); the officer confirms each one, which
creates the agreement and its signed document through the agreement services."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from organizations.querysets import RestrictedQuerySet


class DraftState(models.TextChoices):
    QUEUED = "queued", "Waiting for the reader"
    READING = "reading", "Reading"
    READY = "ready", "Ready for review"
    REFUSED = "refused", "Refused by the safety check"
    FAILED = "failed", "Could not be read"
    CONFIRMED = "confirmed", "Confirmed: agreement created"
    DISCARDED = "discarded", "Discarded"


#: States a draft is still in the queue in.
OPEN_STATES = (DraftState.QUEUED, DraftState.READING, DraftState.READY, DraftState.REFUSED, DraftState.FAILED)


class DraftQuerySet(RestrictedQuerySet):
    organization_lookup = "organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        # As for agreements: a draft proposed for every facility, or for one of the user's facilities.
        proposed = OnboardingDraft.facilities.through.objects.filter(
            onboardingdraft=OuterRef("pk"), facility__in=facility_ids
        )
        return Q(covers_all_facilities=True) | Q(Exists(proposed))

    def open(self) -> DraftQuerySet:
        return self.filter(state__in=OPEN_STATES)


class OnboardingDraft(models.Model):
    """One uploaded signed PDF waiting to become an agreement. The reader's results are kept here
    (pages, provisions, key terms, parties) so that confirming does not read the file again."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    file = models.FileField(upload_to="onboarding/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=DraftState.choices, default=DraftState.QUEUED)
    safety_message = models.TextField(blank=True)
    error = models.TextField(blank=True)
    pages_total = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    #: The reader's page events ({number, text, method, confidence}), stored with the document on confirmation.
    pages = models.JSONField(default=list, blank=True)
    #: P1-P12: {pid: {found, quote, page, score}}.
    provisions = models.JSONField(default=dict, blank=True)
    #: The key terms proposed (documents.keyterms): {term: {value, quote, page}}.
    key_terms = models.JSONField(default=dict, blank=True)
    #: The vendor of the inventory that best matches a party of the document, and the rapidfuzz score.
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    vendor_score = models.PositiveSmallIntegerField(null=True, blank=True)
    #: The business associate's name as the document gives it: proposed as a new vendor without a match.
    proposed_vendor_name = models.CharField(max_length=255, blank=True)
    #: Terms from the spreadsheet of agreement terms (onboarding.terms), by column; they win over the reader's.
    sheet_terms = models.JSONField(default=dict, blank=True)
    covers_all_facilities = models.BooleanField(default=False)
    facilities = models.ManyToManyField("facilities.Facility", blank=True, related_name="+")
    agreement = models.OneToOneField(
        "agreements.BusinessAssociateAgreement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="onboarding_draft",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=DraftState.values), name="draft_state_valid"),
            # A confirmed draft has its agreement, and only a confirmed one.
            models.CheckConstraint(
                condition=Q(state=DraftState.CONFIRMED, agreement__isnull=False)
                | (~Q(state=DraftState.CONFIRMED) & Q(agreement__isnull=True)),
                name="draft_confirmed_has_agreement",
            ),
            models.CheckConstraint(condition=Q(pages_done__lte=models.F("pages_total")), name="draft_done_le_total"),
            models.CheckConstraint(
                condition=Q(vendor_score__isnull=True) | Q(vendor_score__lte=100), name="draft_score_le_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_state_display()})"

    @property
    def percent(self) -> int:
        if self.state not in (DraftState.QUEUED, DraftState.READING):
            return 100
        return int(100 * self.pages_done / self.pages_total) if self.pages_total else 0

    @property
    def provisions_found(self) -> int:
        return sum(1 for found in self.provisions.values() if found.get("found"))

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES
