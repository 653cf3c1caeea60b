"""Admin for BAAs and their documents.

A BAA is never deleted: records are kept 6 years from their last effective date (45 CFR
164.316(b)(2)(i), 164.530(j)(2)), so the admin archives instead. Documents are stored only by
agreements.services.document_store, which computes their SHA-256 (164.312(c)), so here they are
read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count

from agreements.models import AgreementDocument, BusinessAssociateAgreement, FacilityCoverage
from agreements.services import agreement_archive, agreement_save, agreement_validate
from organizations.admin import HistoryAdmin, ReadOnlyAdminMixin, ReadOnlyInline

DOCUMENT_FIELDS = ["kind", "original_name", "size_bytes", "sha256", "uploaded_by", "uploaded_at"]


class AgreementDocumentInline(ReadOnlyInline):
    model = AgreementDocument
    fields = DOCUMENT_FIELDS
    readonly_fields = DOCUMENT_FIELDS


class AgreementAdminForm(forms.ModelForm):
    class Meta:
        model = BusinessAssociateAgreement
        fields = "__all__"  # noqa: DJ007 - the admin shows every field of the agreement

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            # The refusals of agreements.services.agreement_save, as form errors instead of a failed save.
            try:
                agreement_validate(
                    agreement=self.instance, covered_facilities=list(self.cleaned_data.get("covered_facilities") or [])
                )
            except ValidationError as exc:
                self._update_errors(exc)


@admin.register(BusinessAssociateAgreement)
class BusinessAssociateAgreementAdmin(HistoryAdmin):
    form = AgreementAdminForm
    list_display = [
        "title",
        "vendor",
        "organization",
        "status",
        "executed_on",
        "effective_on",
        "expires_on",
        "breach_notification_days",
        "covers_all_facilities",
        "document_count",
        "archived_at",
    ]
    list_filter = [
        "status",
        "covers_all_facilities",
        "auto_renews",
        ("archived_at", admin.EmptyFieldListFilter),
        "vendor__category",
        "organization",
    ]
    search_fields = ["title", "vendor__legal_name", "ce_signatory", "ba_signatory", "notes"]
    autocomplete_fields = ["organization", "vendor", "supersedes"]
    filter_horizontal = ["covered_facilities"]
    list_select_related = ["vendor", "organization"]
    date_hierarchy = "expires_on"
    inlines = [AgreementDocumentInline]
    actions = ["archive_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(document_count=Count("documents"))

    def get_readonly_fields(self, request, obj=None):
        # The status moves only along the lifecycle of agreements.services (execute, renew, terminate);
        # a new record may start in any status to back-fill a paper agreement.
        readonly = ["archived_at", "created_at"]
        return [*readonly, "status"] if obj is not None else readonly

    @admin.display(description="documents", ordering="document_count")
    def document_count(self, obj):
        return obj.document_count

    def has_delete_permission(self, request, obj=None):
        return False  # 6-year retention: archive instead (45 CFR 164.316(b)(2)(i))

    def save_model(self, request, obj, form, change):
        # Through the service (tenant checks, full_clean, coverage), never a bare save().
        obj._history_user = request.user
        agreement_save(agreement=obj, covered_facilities=list(form.cleaned_data.get("covered_facilities") or []))

    def save_related(self, request, form, formsets, change):
        # The coverage was set by agreement_save; the document inline is read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Archive selected agreements (kept 6 years, never deleted)", permissions=["change"])
    def archive_selected(self, request, queryset):
        archived = 0
        for agreement in queryset:
            try:
                agreement_archive(agreement=agreement)
            except ValidationError as exc:
                self.message_user(request, f"{agreement}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                archived += 1
        if archived:
            self.message_user(request, f"Archived {archived} agreement(s).", messages.SUCCESS)


@admin.register(AgreementDocument)
class AgreementDocumentAdmin(HistoryAdmin):
    list_display = ["original_name", "agreement", "kind", "size_bytes", "sha256", "uploaded_by", "uploaded_at"]
    list_filter = ["kind", "agreement__organization"]
    search_fields = ["original_name", "sha256", "agreement__title", "agreement__vendor__legal_name"]
    list_select_related = ["agreement__vendor", "uploaded_by"]
    readonly_fields = ["agreement", *DOCUMENT_FIELDS]
    fields = ["agreement", *DOCUMENT_FIELDS]
    date_hierarchy = "uploaded_at"

    def has_add_permission(self, request):
        return False  # upload through the application: it checks the PDF and computes the SHA-256

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FacilityCoverage)
class FacilityCoverageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The dated coverage of a facility by a selective agreement (compliance/timeline.py reads it):
    written only by agreements.services.agreement_save when the covered facilities change, so the
    history of who was covered when cannot be rewritten here."""

    list_display = ["agreement", "facility", "added_on", "removed_on"]
    list_select_related = ["agreement__vendor", "facility"]
    search_fields = ["agreement__title", "agreement__vendor__legal_name", "facility__name"]
