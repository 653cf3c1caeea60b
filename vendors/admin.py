"""Admin for vendors, engagements and subcontractor links. Saves go through vendors.services, and
the rules engine re-runs for the organization once the change is committed."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from organizations.admin import HistoryAdmin, ReadOnlyInline
from vendors.models import Engagement, SubcontractorLink, Vendor
from vendors.services import engagement_save, engagement_validate, subcontractor_link_save, vendor_save


class EngagementInline(ReadOnlyInline):
    model = Engagement
    fields = ["facility", "service_description", "status", "phi_access_starts_on", "ends_on"]
    readonly_fields = fields


class SubcontractorLinkInline(ReadOnlyInline):
    model = SubcontractorLink
    fk_name = "vendor"
    verbose_name = "subcontractor"
    verbose_name_plural = "subcontractors (their own business associates)"
    fields = ["subcontractor", "service_description", "touches_phi", "downstream_baa_attested_on"]
    readonly_fields = fields


class VendorAdminForm(forms.ModelForm):
    website = forms.URLField(required=False, max_length=200, assume_scheme="https")  # Django 6's default

    class Meta:
        model = Vendor
        fields = "__all__"  # noqa: DJ007 - the admin shows every field of the vendor

    def clean(self):
        cleaned = super().clean()
        # The refusal of vendors.services.vendor_save, as a form error instead of a failed save.
        if cleaned.get("is_conduit") and self.instance.pk:
            with_phi = [e for e in self.instance.engagements.all() if e.has_phi_access]
            if with_phi:
                raise ValidationError(
                    {"is_conduit": "This vendor has PHI access in an engagement: a business associate, not a conduit."}
                )
        return cleaned


@admin.register(Vendor)
class VendorAdmin(HistoryAdmin):
    form = VendorAdminForm
    list_display = ["legal_name", "organization", "category", "is_conduit", "contact_name", "contact_email"]
    list_filter = ["category", "is_conduit", "organization"]
    search_fields = ["legal_name", "contact_name", "contact_email"]
    autocomplete_fields = ["organization"]
    list_select_related = ["organization"]
    readonly_fields = ["created_at"]
    inlines = [EngagementInline, SubcontractorLinkInline]

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        vendor_save(vendor=obj)


class EngagementAdminForm(forms.ModelForm):
    class Meta:
        model = Engagement
        fields = "__all__"  # noqa: DJ007 - the admin shows every field of the engagement

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                engagement_validate(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)


@admin.register(Engagement)
class EngagementAdmin(HistoryAdmin):
    form = EngagementAdminForm
    list_display = [
        "vendor",
        "facility",
        "service_description",
        "status",
        "phi_access",
        "phi_access_starts_on",
        "ends_on",
    ]
    list_filter = ["status", "vendor__category", "facility__state", "facility__organization"]
    search_fields = ["vendor__legal_name", "facility__name", "service_description", "data_location"]
    autocomplete_fields = ["vendor", "facility"]
    list_select_related = ["vendor", "facility"]
    readonly_fields = ["created_at"]
    date_hierarchy = "phi_access_starts_on"

    @admin.display(description="PHI access (45 CFR 160.103)")
    def phi_access(self, obj):
        return ", ".join(obj.phi_verbs) or "none"

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        engagement_save(engagement=obj)  # a teleradiology engagement gets its checklist


class SubcontractorLinkAdminForm(forms.ModelForm):
    class Meta:
        model = SubcontractorLink
        fields = "__all__"  # noqa: DJ007 - the admin shows every field of the link

    def clean(self):
        cleaned = super().clean()
        vendor, subcontractor = cleaned.get("vendor"), cleaned.get("subcontractor")
        # The refusal of vendors.services.subcontractor_link_save, as a form error.
        if vendor and subcontractor and vendor.organization_id != subcontractor.organization_id:
            raise ValidationError({"subcontractor": "The subcontractor must be a vendor of the same organization."})
        return cleaned


@admin.register(SubcontractorLink)
class SubcontractorLinkAdmin(HistoryAdmin):
    form = SubcontractorLinkAdminForm
    list_display = ["subcontractor", "vendor", "service_description", "touches_phi", "downstream_baa_attested_on"]
    list_filter = ["touches_phi", ("downstream_baa_attested_on", admin.EmptyFieldListFilter), "vendor__organization"]
    search_fields = ["vendor__legal_name", "subcontractor__legal_name", "service_description"]
    autocomplete_fields = ["vendor", "subcontractor"]
    list_select_related = ["vendor", "subcontractor"]
    readonly_fields = ["created_at"]

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        subcontractor_link_save(link=obj)
