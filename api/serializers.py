"""What the API reads and writes. Output fields are plain; writes are validated by the pages' own forms
(``api.views`` passes the serializer's values to them) and saved by the same services."""

from __future__ import annotations

import datetime

from django.db import models
from django.urls import reverse
from rest_framework import serializers

from agreements.forms import CREATE_STATUSES
from agreements.models import AgreementDocument, BusinessAssociateAgreement, DocumentKind
from checklists.models import ChecklistItem, ItemStatus
from compliance.models import Finding
from facilities.models import Facility
from organizations.querysets import Action
from reports.models import AuditReport, PaperSize
from vendors.forms import EngagementForm
from vendors.models import Engagement, Vendor

#: Dates outside these years are typing mistakes, and date arithmetic (renewals, notice deadlines)
#: must never overflow on them.
EARLIEST_DATE = datetime.date(1970, 1, 1)
LATEST_DATE = datetime.date(2199, 12, 31)


#: Choice lists of the writes, named so that the schema's enums have names (settings.ENUM_NAME_OVERRIDES).
AGREEMENT_CREATE_STATUS_CHOICES = [(status.value, status.label) for status in CREATE_STATUSES]
ITEM_MANUAL_STATUS_CHOICES = [(status.value, status.label) for status in ItemStatus if status != ItemStatus.COMPUTED]


class BoundedDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise serializers.ValidationError(
                f"Give a date between {EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d}."
            )
        return day


class GatedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to another record, looked up through the gate of the requesting user (CHANGE for a
    write): a record outside their scope is reported as unknown, like a missing one."""

    def __init__(self, model, action: str = Action.CHANGE, **kwargs):
        self.gate_model = model
        self.gate_action = action
        kwargs.setdefault("queryset", model.objects.none())  # tells the schema the model; never queried
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return self.gate_model.objects.none()
        return self.gate_model.objects.restrict(request.user, self.gate_action)


class ApiModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        # Every model DateField, read and written, within the plausible years.
        models.DateField: BoundedDateField,
    }


# --- Facilities -------------------------------------------------------------------------------------


class FacilitySerializer(ApiModelSerializer):
    class Meta:
        model = Facility
        fields = ["id", "name", "kind", "state", "city", "active", "created_at"]
        read_only_fields = fields


# --- Vendors and engagements ---------------------------------------------------------------------------


class VendorSerializer(ApiModelSerializer):
    class Meta:
        model = Vendor
        fields = [
            "id",
            "legal_name",
            "category",
            "is_conduit",
            "contact_name",
            "contact_email",
            "contact_phone",
            "website",
            "notes",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class EngagementSerializer(ApiModelSerializer):
    vendor = GatedPrimaryKeyRelatedField(Vendor)
    facility = GatedPrimaryKeyRelatedField(Facility)

    class Meta:
        model = Engagement
        # The page's form decides what an engagement write may set (API writes go through that form).
        fields = ["id", "vendor", *EngagementForm.Meta.fields, "created_at"]
        read_only_fields = ["id", "created_at"]


class EngagementUpdateSerializer(EngagementSerializer):
    """An engagement stays with its vendor: to move a service to another vendor, record a new one."""

    class Meta(EngagementSerializer.Meta):
        read_only_fields = ["id", "vendor", "created_at"]


# --- Agreements and their documents ---------------------------------------------------------------


class DocumentSerializer(ApiModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = AgreementDocument
        fields = ["id", "agreement", "kind", "original_name", "size_bytes", "sha256", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, document: AgreementDocument) -> str:
        return reverse("api:document-download", args=[document.pk])


class DocumentUploadSerializer(serializers.Serializer):
    agreement = GatedPrimaryKeyRelatedField(BusinessAssociateAgreement)
    kind = serializers.ChoiceField(choices=DocumentKind.choices, default=DocumentKind.SIGNED_AGREEMENT)
    file = serializers.FileField(help_text="The signed PDF (checked by content, not by name).")


class DocumentSummarySerializer(DocumentSerializer):
    class Meta(DocumentSerializer.Meta):
        fields = ["id", "kind", "original_name", "size_bytes", "sha256", "uploaded_at", "download_url"]
        read_only_fields = fields


class AgreementSerializer(ApiModelSerializer):
    vendor = GatedPrimaryKeyRelatedField(Vendor)
    covered_facilities = GatedPrimaryKeyRelatedField(
        Facility,
        many=True,
        required=False,
        # Read from the prefetched facilities the user may see (api.views.AgreementViewSet).
        source="visible_covered_facilities",
        help_text="Facilities covered when covers_all_facilities is false; only those you may see are listed.",
    )
    status = serializers.ChoiceField(
        choices=AGREEMENT_CREATE_STATUS_CHOICES,
        required=False,
        help_text="Only when the agreement is recorded; afterwards it moves through the transition endpoint.",
    )
    in_force = serializers.BooleanField(read_only=True, help_text="Executed, effective and not lapsed today.")
    documents = DocumentSummarySerializer(many=True, read_only=True)

    class Meta:
        model = BusinessAssociateAgreement
        fields = [
            "id",
            "vendor",
            "title",
            "status",
            "in_force",
            "covers_all_facilities",
            "covered_facilities",
            "executed_on",
            "effective_on",
            "expires_on",
            "auto_renews",
            "renewal_term_months",
            "renewal_notice_days",
            "breach_notification_days",
            "ce_signatory",
            "ba_signatory",
            "amended_on",
            "terminated_on",
            "supersedes",
            "notes",
            "archived_at",
            "created_at",
            "documents",
        ]
        read_only_fields = ["id", "terminated_on", "supersedes", "archived_at", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["status"] = instance.status  # any status on the way out, not only the creatable ones
        return data


class AgreementUpdateSerializer(AgreementSerializer):
    class Meta(AgreementSerializer.Meta):
        read_only_fields = [*AgreementSerializer.Meta.read_only_fields, "vendor", "status"]


class AgreementTransitionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=[
            ("send", "Mark sent for signature"),
            ("negotiate", "Mark in negotiation"),
            ("draft", "Back to draft"),
            ("execute", "Executed (give executed_on)"),
            ("terminate", "Terminated (give terminated_on)"),
            ("archive", "Archive (never deleted: 45 CFR 164.316(b)(2)(i))"),
        ]
    )
    executed_on = BoundedDateField(required=False)
    effective_on = BoundedDateField(required=False)
    terminated_on = BoundedDateField(required=False)


# --- Findings ---------------------------------------------------------------------------------------


class FindingSerializer(ApiModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "kind",
            "kind_label",
            "severity",
            "is_open",
            "vendor",
            "facility",
            "engagement",
            "agreement",
            "subcontractor_link",
            "explanation",
            "due_on",
            "first_seen_at",
            "last_seen_at",
            "resolved_at",
            "acknowledged_at",
            "acknowledgement_note",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, help_text="What is being done about it, and by whom.")


# --- Checklist items --------------------------------------------------------------------------------


class ChecklistItemSerializer(ApiModelSerializer):
    engagement = serializers.IntegerField(source="checklist.engagement_id", read_only=True)
    text = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=ItemStatus.choices)
    verified_by = serializers.SerializerMethodField()
    has_evidence_file = serializers.SerializerMethodField()

    class Meta:
        model = ChecklistItem
        fields = [
            "id",
            "engagement",
            "number",
            "text",
            "status",
            "not_applicable_reason",
            "evidence_note",
            "verified_by",
            "verified_on",
            "next_review_on",
            "has_evidence_file",
        ]
        read_only_fields = ["id", "engagement", "number", "text", "verified_by", "has_evidence_file"]

    def get_verified_by(self, item: ChecklistItem) -> str | None:
        user = item.verified_by
        return (user.get_full_name() or user.get_username()) if user is not None else None

    def get_has_evidence_file(self, item: ChecklistItem) -> bool:
        return bool(item.evidence_file)


class ChecklistItemUpdateSerializer(ChecklistItemSerializer):
    status = serializers.ChoiceField(
        choices=ITEM_MANUAL_STATUS_CHOICES,
        help_text="Complete needs verified_on; you are recorded as the verifier.",
    )


# --- Reports ----------------------------------------------------------------------------------------


class ReportSerializer(ApiModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = AuditReport
        fields = [
            "id",
            "facility",
            "paper_size",
            "as_of",
            "include_signed_documents",
            "status",
            "progress",
            "error",
            "sha256",
            "size_bytes",
            "page_count",
            "requested_at",
            "finished_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, report: AuditReport) -> str | None:
        return reverse("api:report-download", args=[report.pk]) if report.sha256 else None


class ReportRequestSerializer(serializers.Serializer):
    facility = GatedPrimaryKeyRelatedField(
        Facility,
        action=Action.VIEW,
        required=False,
        allow_null=True,
        help_text="Empty for an organization-wide report (only for members who see every facility).",
    )
    paper_size = serializers.ChoiceField(choices=PaperSize.choices, default=PaperSize.LETTER)
    include_signed_documents = serializers.BooleanField(default=False)
