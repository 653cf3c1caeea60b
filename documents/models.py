"""What the reader learned from a stored document: its safety verdict and reading progress, its text
per page, the provision review of its agreement and the key terms proposed from it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from agreements.models import AgreementDocumentQuerySet, AgreementQuerySet, BusinessAssociateAgreement
from documents.provisions import PROVISIONS
from organizations.querysets import RestrictedQuerySet


class Safety(models.TextChoices):
    QUARANTINED = "quarantined", "Quarantined: waiting for the safety check"
    ACCEPTED = "accepted", "Accepted: a PDF without active content"
    REFUSED = "refused", "Refused"


class ReadingState(models.TextChoices):
    QUEUED = "queued", "Queued"
    READING = "reading", "Reading"
    DONE = "done", "Read"
    FAILED = "failed", "Failed"


class ExtractionMethod(models.TextChoices):
    TEXT_LAYER = "text_layer", "Text layer"
    OCR = "ocr", "OCR (Tesseract)"


class _ThroughDocument(RestrictedQuerySet):
    organization_lookup = "document__agreement__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        from agreements.models import AgreementDocument

        return Q(
            document__in=AgreementDocument.objects.filter(
                AgreementDocumentQuerySet(AgreementDocument).facility_scope(facility_ids)
            )
        )


class DocumentReading(models.Model):
    """One per stored document. The web process creates it quarantined; only the worker's reader
    (documents.services.document_read) accepts or refuses it, reads it and records progress."""

    document = models.OneToOneField("agreements.AgreementDocument", on_delete=models.PROTECT, related_name="reading")
    safety = models.CharField(max_length=16, choices=Safety.choices, default=Safety.QUARANTINED)
    safety_message = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=ReadingState.choices, default=ReadingState.QUEUED)
    pages_total = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = _ThroughDocument.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(pages_done__lte=models.F("pages_total")), name="reading_done_le_total"),
        ]

    def __str__(self) -> str:
        return f"{self.document}: {self.get_safety_display()}, {self.get_state_display()}"

    @property
    def percent(self) -> int:
        if self.state == ReadingState.DONE:
            return 100
        return int(100 * self.pages_done / self.pages_total) if self.pages_total else 0


class DocumentPage(models.Model):
    document = models.ForeignKey("agreements.AgreementDocument", on_delete=models.PROTECT, related_name="pages")
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    #: Lower-case, whitespace collapsed: what full-text search matches (a phrase across line breaks).
    search_text = models.TextField(blank=True)
    method = models.CharField(max_length=16, choices=ExtractionMethod.choices)
    ocr_confidence = models.FloatField(null=True, blank=True, help_text="Mean word confidence, 0-100.")

    objects = _ThroughDocument.as_manager()

    class Meta:
        ordering = ["document", "number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="page_unique_per_document"),
            models.CheckConstraint(
                condition=Q(method="ocr") | Q(ocr_confidence__isnull=True), name="page_confidence_only_for_ocr"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} page {self.number}"


Provision = models.TextChoices("Provision", {pid: (pid, f"{pid}: {label}") for pid, (label, _) in PROVISIONS.items()})


class OfficerVerdict(models.TextChoices):
    NOT_REVIEWED = "", "Not reviewed"
    PRESENT = "present", "Confirmed present"
    MISSING = "missing", "Confirmed missing"


class _ThroughAgreement(RestrictedQuerySet):
    organization_lookup = "agreement__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(
            agreement__in=BusinessAssociateAgreement.objects.filter(
                AgreementQuerySet(BusinessAssociateAgreement).facility_scope(facility_ids)
            )
        )


class ProvisionReview(models.Model):
    """One of P1-P12 for one agreement: what the reader detected in its signed document, and the
    officer's confirmation or override with a note (history kept). compliance.rules reads this."""

    agreement = models.ForeignKey(
        BusinessAssociateAgreement, on_delete=models.PROTECT, related_name="provision_reviews"
    )
    provision = models.CharField(max_length=3, choices=Provision.choices)
    document = models.ForeignKey(
        "agreements.AgreementDocument", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detected = models.BooleanField(default=False)
    quote = models.TextField(blank=True)
    page_number = models.PositiveIntegerField(null=True, blank=True)
    score = models.FloatField(default=0)
    officer_verdict = models.CharField(max_length=8, choices=OfficerVerdict.choices, blank=True, default="")
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    objects = _ThroughAgreement.as_manager()

    class Meta:
        ordering = ["agreement", "provision"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "provision"], name="provision_review_unique"),
            models.CheckConstraint(condition=Q(officer_verdict="") | ~Q(note=""), name="provision_verdict_has_note"),
        ]

    def __str__(self) -> str:
        return f"{self.provision} of {self.agreement_id}: {'present' if self.present else 'missing'}"

    @property
    def present(self) -> bool:
        if self.officer_verdict:
            return self.officer_verdict == OfficerVerdict.PRESENT
        return self.detected

    @property
    def label(self) -> str:
        return PROVISIONS[self.provision][0]

    @property
    def citation(self) -> str:
        return PROVISIONS[self.provision][1]


class KeyTerm(models.TextChoices):
    BREACH_WINDOW = "breach_window", "Breach-notification window"
    SECURITY_INCIDENT_WINDOW = "security_incident_window", "Security-incident reporting window"
    EFFECTIVE_ON = "effective_on", "Effective date"
    EXPIRES_ON = "expires_on", "Expiry date"
    TERM_MONTHS = "term_months", "Term"
    AUTO_RENEWAL = "auto_renewal", "Automatic renewal and notice"
    PARTIES = "parties", "Parties"
    FLOW_DOWN = "flow_down", "Subcontractor flow-down present"
    RETURN_OR_DESTROY = "return_or_destroy", "Return or destruction at termination present"


class SuggestionState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACCEPTED = "accepted", "Accepted"
    CORRECTED = "corrected", "Corrected"
    DISMISSED = "dismissed", "Dismissed"


class KeyTermSuggestion(models.Model):
    """A term read from the document, proposed to the officer. Nothing is written to the agreement
    until the officer accepts or corrects it (documents.services.key_term_decide)."""

    agreement = models.ForeignKey(BusinessAssociateAgreement, on_delete=models.PROTECT, related_name="key_terms")
    document = models.ForeignKey("agreements.AgreementDocument", on_delete=models.PROTECT, related_name="+")
    term = models.CharField(max_length=32, choices=KeyTerm.choices)
    value = models.JSONField(default=dict)
    quote = models.TextField(blank=True)
    page_number = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=SuggestionState.choices, default=SuggestionState.PROPOSED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    objects = _ThroughAgreement.as_manager()

    class Meta:
        ordering = ["agreement", "term"]
        constraints = [models.UniqueConstraint(fields=["agreement", "document", "term"], name="key_term_unique")]

    def __str__(self) -> str:
        return f"{self.get_term_display()} ({self.get_state_display()})"
