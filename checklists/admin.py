"""Admin for the teleradiology checklists. Checklists are created with their engagement
(vendors.services.engagement_save); items are recorded through checklists.services.checklist_item_update,
which refuses items 1 to 3 (computed from the agreements and the readers' records) and a complete item
without its verifier or its next review date."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from checklists.models import (
    COMPUTED_ITEM_NUMBERS,
    DONE_STATUSES,
    TELERADIOLOGY_ITEMS,
    ChecklistItem,
    ItemStatus,
    TeleradiologyChecklist,
)
from checklists.services import COMPUTED_REFUSALS, NEXT_REVIEW_REQUIRED, checklist_item_update
from compliance.services import schedule_compliance_run
from organizations.admin import HistoryAdmin

ITEM_FIELDS = [
    "status",
    "evidence_note",
    "evidence_file",
    "not_applicable_reason",
    "verified_by",
    "verified_on",
    "next_review_on",
]


class ChecklistItemForm(forms.ModelForm):
    class Meta:
        model = ChecklistItem
        fields = ITEM_FIELDS

    def clean(self):
        cleaned = super().clean()
        # The refusals of checklist_item_update, as form errors instead of a failed save.
        if self.instance.pk and self.instance.is_computed and self.has_changed():
            raise ValidationError(COMPUTED_REFUSALS[self.instance.number])
        if cleaned.get("status") == ItemStatus.COMPLETE and not (
            cleaned.get("verified_by") and cleaned.get("verified_on")
        ):
            raise ValidationError("A complete item needs who verified it and when.")
        if cleaned.get("status") == ItemStatus.COMPLETE and not cleaned.get("next_review_on"):
            raise ValidationError({"next_review_on": NEXT_REVIEW_REQUIRED})
        return cleaned


def _record(item: ChecklistItem) -> ChecklistItem:
    """Save an item the admin form has filled in, through the service."""
    return checklist_item_update(
        item=item,
        status=item.status,
        evidence_note=item.evidence_note,
        not_applicable_reason=item.not_applicable_reason,
        verified_by=item.verified_by,
        verified_on=item.verified_on,
        next_review_on=item.next_review_on,
    )


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    form = ChecklistItemForm
    fields = ["number", "text", *ITEM_FIELDS]
    readonly_fields = ["number", "text"]
    autocomplete_fields = ["verified_by"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # the seven items are created with the checklist

    @admin.display(description="item")
    def text(self, obj):
        return obj.text


@admin.register(TeleradiologyChecklist)
class TeleradiologyChecklistAdmin(HistoryAdmin):
    list_display = ["engagement", "facility", "items_done", "created_at"]
    list_filter = ["engagement__facility__organization", "engagement__vendor", "engagement__facility__state"]
    search_fields = ["engagement__vendor__legal_name", "engagement__facility__name"]
    list_select_related = ["engagement__vendor", "engagement__facility"]
    readonly_fields = ["engagement", "created_at"]
    inlines = [ChecklistItemInline]

    def get_queryset(self, request):
        done = Count("items", filter=Q(items__status__in=DONE_STATUSES) & ~Q(items__number__in=COMPUTED_ITEM_NUMBERS))
        return super().get_queryset(request).annotate(items_done=done)

    @admin.display(description="facility", ordering="engagement__facility__name")
    def facility(self, obj):
        return obj.engagement.facility.name

    @admin.display(description="items 4-7 done", ordering="items_done")
    def items_done(self, obj):
        return f"{obj.items_done} of {len(TELERADIOLOGY_ITEMS) - len(COMPUTED_ITEM_NUMBERS)}"

    def has_add_permission(self, request):
        return False  # created with its teleradiology engagement (vendors.services.engagement_save)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_formset(self, request, form, formset, change):
        if formset.model is not ChecklistItem:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.deleted_objects, formset.changed_objects = [], [], []
        for item_form in formset.forms:
            if item_form.instance.pk and item_form.has_changed():
                item_form.instance._history_user = request.user
                formset.changed_objects.append((_record(item_form.instance), item_form.changed_data))
        if formset.changed_objects:
            schedule_compliance_run(organization_id=form.instance.engagement.facility.organization_id)


@admin.register(ChecklistItem)
class ChecklistItemAdmin(HistoryAdmin):
    form = ChecklistItemForm
    list_display = ["__str__", "checklist", "status", "verified_by", "verified_on", "next_review_on"]
    list_filter = ["status", "number", "checklist__engagement__facility__organization"]
    search_fields = [
        "checklist__engagement__vendor__legal_name",
        "checklist__engagement__facility__name",
        "evidence_note",
    ]
    list_select_related = ["checklist__engagement__vendor", "checklist__engagement__facility", "verified_by"]
    autocomplete_fields = ["verified_by"]
    fields = ["checklist", "number", "text", *ITEM_FIELDS]
    readonly_fields = ["checklist", "number", "text"]

    @admin.display(description="item")
    def text(self, obj):
        return obj.text

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        _record(obj)
        schedule_compliance_run(organization_id=obj.checklist.engagement.facility.organization_id)
