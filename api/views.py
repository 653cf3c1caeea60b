"""The REST API, /api/v1/. Every viewset is a ``RestrictedViewSet`` (the gate by construction); every
write is validated by the page's own form and saved by the page's service, in a transaction that
schedules the compliance run, exactly as the page does, so it lands in the same change history."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from agreements.forms import AgreementForm
from agreements.models import AgreementDocument, BusinessAssociateAgreement
from agreements.services import (
    agreement_archive,
    agreement_execute,
    agreement_save,
    agreement_transition,
    document_store,
)
from agreements.views import SIMPLE_TRANSITIONS
from api import serializers as s
from api.base import RestrictedViewSet
from checklists.forms import ChecklistItemForm
from checklists.models import ChecklistItem
from checklists.services import COMPUTED_REFUSALS
from compliance.forms import FindingAcknowledgeForm
from compliance.models import Finding, FindingKind, Severity
from compliance.rules import agreements_in_force
from compliance.selectors import findings_by_urgency
from compliance.services import finding_acknowledge
from facilities.models import Facility, FacilityKind
from organizations.models import AccessAction
from organizations.querysets import Action
from organizations.selectors import active_membership
from reports.forms import AuditReportForm
from reports.models import AuditReport, ReportStatus
from reports.services import audit_report_request
from vendors.forms import EngagementForm, VendorForm
from vendors.models import Engagement, EngagementStatus, Vendor, VendorCategory
from vendors.services import engagement_save, vendor_save

# --- Writes through the pages' forms ----------------------------------------------------------------


def _form_value(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple, models.QuerySet)):
        return [_form_value(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else value


def form_data(current: dict, changes: dict) -> dict:
    """The form's data: the record's current values (for a partial update), overlaid with the request's."""
    return {name: _form_value(value) for name, value in {**current, **changes}.items()}


def valid_form(form):
    """The page's form, validated: its messages become the API's 400, field by field."""
    if not form.is_valid():
        raise serializers.ValidationError(
            {("non_field_errors" if name == "__all__" else name): list(errors) for name, errors in form.errors.items()}
        )
    return form


class WriteThroughForms:
    """Create and update with the page's form and service. Subclasses give ``form_for`` and ``save``."""

    form_fields: tuple[str, ...] = ()

    def current_values(self, instance) -> dict:
        return model_to_dict(instance, fields=self.form_fields) if instance is not None else {}

    def write(self, request, instance, *, partial: bool):
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        self.new_vendor = values.get("vendor")
        if "visible_covered_facilities" in values:  # the serializer reads the visible ones, writes the field
            values["covered_facilities"] = values.pop("visible_covered_facilities")
        changes = {k: v for k, v in values.items() if k in self.form_fields}
        data = form_data(self.current_values(instance) if partial or instance is not None else {}, changes)
        form = valid_form(self.form_for(request, instance, data))
        with transaction.atomic():
            saved = self.save(request, form)
        saved = self.get_queryset_for_output().get(pk=saved.pk)
        return Response(
            self.get_serializer(saved).data,
            status=status.HTTP_200_OK if instance is not None else status.HTTP_201_CREATED,
        )

    def get_queryset_for_output(self):
        return self.base_queryset().restrict(self.request.user, Action.VIEW)


class FormCreate(WriteThroughForms):
    def create(self, request, *args, **kwargs):
        return self.write(request, None, partial=False)


class FormUpdate(WriteThroughForms):
    def update(self, request, *args, **kwargs):
        return self.write(request, self.get_object(), partial=False)

    def partial_update(self, request, *args, **kwargs):
        return self.write(request, self.get_object(), partial=True)


class IdFilter(django_filters.NumberFilter):
    """A record's id: a whole number within the database's range (anything else is a 400, not a crash)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class ListRetrieve(mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    lookup_value_regex = r"[0-9]+"


# --- Facilities -------------------------------------------------------------------------------------


class FacilityFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=FacilityKind.choices)
    state = django_filters.CharFilter(max_length=2)
    active = django_filters.BooleanFilter()
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=100, label="Name contains")


class FacilityViewSet(ListRetrieve):
    """Facilities you may see. Read only: facilities are set up on the pages by administrators."""

    serializer_class = s.FacilitySerializer
    filterset_class = FacilityFilter
    ordering_fields = ["name", "state", "created_at"]

    def base_queryset(self):
        return Facility.objects.order_by("name", "pk")


# --- Vendors ----------------------------------------------------------------------------------------


class VendorFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=VendorCategory.choices)
    is_conduit = django_filters.BooleanFilter()
    q = django_filters.CharFilter(
        field_name="legal_name", lookup_expr="icontains", max_length=200, label="Name contains"
    )


class VendorViewSet(FormCreate, FormUpdate, ListRetrieve):
    serializer_class = s.VendorSerializer
    filterset_class = VendorFilter
    ordering_fields = ["legal_name", "created_at"]
    form_fields = tuple(VendorForm._meta.fields)

    def base_queryset(self):
        return Vendor.objects.order_by("legal_name", "pk")

    def form_for(self, request, instance, data):
        membership = active_membership(request.user)
        instance = instance or Vendor(organization_id=membership.organization_id)
        return VendorForm(data, instance=instance, organization_id=membership.organization_id)

    def save(self, request, form):
        return vendor_save(vendor=form.instance)


# --- Engagements ------------------------------------------------------------------------------------


class EngagementFilter(django_filters.FilterSet):
    vendor = IdFilter(field_name="vendor_id")
    facility = IdFilter(field_name="facility_id")
    status = django_filters.ChoiceFilter(choices=EngagementStatus.choices)


class EngagementViewSet(FormCreate, FormUpdate, ListRetrieve):
    new_vendor: Vendor | None = None

    serializer_class = s.EngagementSerializer
    filterset_class = EngagementFilter
    ordering_fields = ["created_at", "phi_access_starts_on"]
    form_fields = ("vendor", *EngagementForm._meta.fields)

    def get_serializer_class(self):
        return s.EngagementUpdateSerializer if self.action in ("update", "partial_update") else s.EngagementSerializer

    def base_queryset(self):
        return Engagement.objects.select_related("vendor", "facility").order_by(
            "facility__name", "vendor__legal_name", "pk"
        )

    def form_for(self, request, instance, data):
        data.pop("vendor", None)
        # A new engagement's vendor is the one the serializer found through the gate (CHANGE).
        instance = instance or Engagement(vendor=self.new_vendor)
        return EngagementForm(data, instance=instance, user=request.user)

    def save(self, request, form):
        return engagement_save(engagement=form.instance)


# --- Agreements -------------------------------------------------------------------------------------


class AgreementFilter(django_filters.FilterSet):
    vendor = IdFilter(field_name="vendor_id")
    status = django_filters.ChoiceFilter(choices=BusinessAssociateAgreement._meta.get_field("status").choices)
    archived = django_filters.BooleanFilter(field_name="archived_at", lookup_expr="isnull", exclude=True)
    expires_before = django_filters.DateFilter(field_name="expires_on", lookup_expr="lt")
    expires_after = django_filters.DateFilter(field_name="expires_on", lookup_expr="gte")


@extend_schema_view(
    transition=extend_schema(request=s.AgreementTransitionSerializer, responses=s.AgreementSerializer),
)
class AgreementViewSet(FormCreate, FormUpdate, ListRetrieve):
    """Business associate agreements with their documents' metadata. Never deleted (45 CFR
    164.316(b)(2)(i)): archive one through the transition endpoint."""

    filterset_class = AgreementFilter
    ordering_fields = ["expires_on", "effective_on", "created_at"]
    form_fields = tuple(AgreementForm._meta.fields)

    def get_serializer_class(self):
        if self.action == "transition":
            return s.AgreementTransitionSerializer
        return s.AgreementUpdateSerializer if self.action in ("update", "partial_update") else s.AgreementSerializer

    def base_queryset(self):
        user = self.request.user
        today = timezone.localdate()
        return (
            BusinessAssociateAgreement.objects.select_related("vendor")
            .annotate(in_force=Exists(agreements_in_force(today).filter(pk=OuterRef("pk"))))
            .prefetch_related(
                Prefetch(
                    "covered_facilities",
                    queryset=Facility.objects.restrict(user, Action.VIEW).order_by("name"),
                    to_attr="visible_covered_facilities",
                ),
                Prefetch("documents", queryset=AgreementDocument.objects.order_by("-uploaded_at", "-pk")),
            )
            .order_by("vendor__legal_name", "-effective_on", "pk")
        )

    def current_values(self, instance):
        values = super().current_values(instance)
        if instance is not None:
            changeable = Facility.objects.restrict(self.request.user, Action.CHANGE)
            values["covered_facilities"] = list(changeable.filter(agreements=instance).values_list("pk", flat=True))
        return values

    def form_for(self, request, instance, data):
        membership = active_membership(request.user)
        instance = instance or BusinessAssociateAgreement(organization_id=membership.organization_id)
        if instance.pk is None:
            data.setdefault("status", "draft")
        return AgreementForm(data, instance=instance, user=request.user, membership=membership)

    def save(self, request, form):
        return agreement_save(agreement=form.instance, covered_facilities=form.covered_facilities_to_save())

    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """One lifecycle step, as the detail page's buttons: send, negotiate, draft, execute, terminate, archive."""
        agreement = self.get_object()
        serializer = s.AgreementTransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        step = data["action"]
        with transaction.atomic():
            if step in SIMPLE_TRANSITIONS:
                agreement_transition(agreement=agreement, to_status=SIMPLE_TRANSITIONS[step][0])
            elif step == "execute":
                if "executed_on" not in data:
                    raise serializers.ValidationError({"executed_on": "Give the date both parties had signed."})
                if data["executed_on"] > timezone.localdate():
                    raise serializers.ValidationError({"executed_on": "The execution date is in the future."})
                agreement_execute(
                    agreement=agreement, executed_on=data["executed_on"], effective_on=data.get("effective_on")
                )
            elif step == "terminate":
                agreement_transition(
                    agreement=agreement, to_status="terminated", terminated_on=data.get("terminated_on")
                )
            else:
                agreement_archive(agreement=agreement)
        agreement = self.get_queryset_for_output().get(pk=agreement.pk)
        return Response(s.AgreementSerializer(agreement, context=self.get_serializer_context()).data)


# --- Documents --------------------------------------------------------------------------------------


class DocumentFilter(django_filters.FilterSet):
    agreement = IdFilter(field_name="agreement_id")


@extend_schema_view(
    create=extend_schema(
        request={"multipart/form-data": s.DocumentUploadSerializer}, responses={201: s.DocumentSerializer}
    ),
    download=extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY}),
)
class DocumentViewSet(ListRetrieve):
    """Agreements' stored documents: metadata, download (recorded in the access log) and upload."""

    serializer_class = s.DocumentSerializer
    filterset_class = DocumentFilter
    parser_classes = [MultiPartParser, FormParser]
    access_actions = {"download": AccessAction.DOWNLOAD}

    def base_queryset(self):
        return AgreementDocument.objects.select_related("agreement").order_by("-uploaded_at", "-pk")

    def get_serializer_class(self):
        return s.DocumentUploadSerializer if self.action == "create" else s.DocumentSerializer

    def create(self, request, *args, **kwargs):
        upload = s.DocumentUploadSerializer(data=request.data, context=self.get_serializer_context())
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        with transaction.atomic():
            document = document_store(
                agreement=data["agreement"],
                upload=data["file"],
                original_name=data["file"].name,
                uploaded_by=request.user,
                kind=data["kind"],
            )
        return Response(s.DocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        document = self.get_object()
        try:
            handle = document.file.open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404("The stored file is missing.") from exc
        response = FileResponse(
            handle, as_attachment=True, filename=document.original_name, content_type="application/pdf"
        )
        response["Cache-Control"] = "no-store"
        response.logged_object = document
        response.logged_description = (
            f"Downloaded {document.original_name} of \u201c{document.agreement.title}\u201d through the API "
            f"(SHA-256 {document.sha256[:12]})"
        )
        return response


# --- Findings ---------------------------------------------------------------------------------------


class FindingFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=FindingKind.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    open = django_filters.BooleanFilter(field_name="resolved_at", lookup_expr="isnull")
    vendor = IdFilter(field_name="vendor_id")
    facility = IdFilter(field_name="facility_id")
    agreement = IdFilter(field_name="agreement_id")


@extend_schema_view(acknowledge=extend_schema(request=s.AcknowledgeSerializer, responses=s.FindingSerializer))
class FindingViewSet(ListRetrieve):
    """What the rules engine found. Read only but for acknowledging: only the engine resolves findings."""

    serializer_class = s.FindingSerializer
    filterset_class = FindingFilter
    ordering_fields = ["first_seen_at", "due_on", "severity"]

    def base_queryset(self):
        return findings_by_urgency(Finding.objects.all())  # the findings page's order: most urgent first

    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        finding = self.get_object()
        serializer = s.AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not finding.is_open:
            raise serializers.ValidationError({"detail": "This finding is resolved; there is nothing to acknowledge."})
        form = valid_form(FindingAcknowledgeForm(serializer.validated_data))
        finding = finding_acknowledge(finding=finding, user=request.user, note=form.cleaned_data["note"])
        return Response(s.FindingSerializer(finding).data)


# --- Checklist items --------------------------------------------------------------------------------


class ChecklistItemFilter(django_filters.FilterSet):
    engagement = IdFilter(field_name="checklist__engagement_id")
    status = django_filters.ChoiceFilter(choices=ChecklistItem._meta.get_field("status").choices)
    review_due_before = django_filters.DateFilter(field_name="next_review_on", lookup_expr="lt")


class ChecklistItemViewSet(FormUpdate, ListRetrieve):
    """The teleradiology checklist items. Items 1-3 are computed (from the agreements, the readers' licenses
    and their privileges) and cannot be written."""

    filterset_class = ChecklistItemFilter
    form_fields = ("status", "not_applicable_reason", "evidence_note", "verified_by", "verified_on", "next_review_on")

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return s.ChecklistItemUpdateSerializer
        return s.ChecklistItemSerializer

    def base_queryset(self):
        return ChecklistItem.objects.select_related("checklist", "verified_by").order_by("checklist_id", "number")

    def current_values(self, instance):
        values = super().current_values(instance)
        if instance.is_computed:
            raise serializers.ValidationError({"detail": COMPUTED_REFUSALS[instance.number]})
        return values

    def form_for(self, request, instance, data):
        if data.get("verified_on"):
            data["verified_by"] = request.user.pk  # whoever records a verification through the API did it
        return ChecklistItemForm(
            data, instance=instance, organization_id=active_membership(request.user).organization_id
        )

    def save(self, request, form):
        return form.record()


# --- Reports ----------------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(request=s.ReportRequestSerializer, responses={201: s.ReportSerializer}),
    download=extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: OpenApiResponse()}),
)
class ReportViewSet(ListRetrieve):
    """Audit reports: request one (generated in the background), poll it, download the PDF."""

    serializer_class = s.ReportSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    #: As on the page: anyone who may see a facility may ask for its report (a report changes no record).
    write_action = Action.VIEW
    access_actions = {"create": AccessAction.GENERATE, "download": AccessAction.DOWNLOAD}

    def base_queryset(self):
        return AuditReport.objects.order_by("-requested_at", "-pk")

    def create(self, request, *args, **kwargs):
        serializer = s.ReportRequestSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = {**serializer.validated_data}
        data["facility"] = data.get("facility")
        form = valid_form(AuditReportForm(form_data({}, data), user=request.user))
        report = audit_report_request(
            requested_by=request.user,
            facility=form.cleaned_data["facility"],
            paper_size=form.cleaned_data["paper_size"],
            include_signed_documents=form.cleaned_data["include_signed_documents"],
        )
        response = Response(s.ReportSerializer(report).data, status=status.HTTP_201_CREATED)
        response.logged_object = report
        response.logged_description = (
            f"Requested audit report {report.pk} ({report.scope_label}, as of {report.as_of:%Y-%m-%d}) through the API"
        )
        return response

    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        report = self.get_object()
        if report.status != ReportStatus.DONE:
            raise Http404("This report is not ready.")
        response = FileResponse(
            report.file.open("rb"), as_attachment=True, filename=report.download_name, content_type="application/pdf"
        )
        response["Cache-Control"] = "no-store"
        response.logged_object = report
        response.logged_description = (
            f"Downloaded audit report {report.pk} through the API, SHA-256 {report.sha256[:12]}"
        )
        return response
