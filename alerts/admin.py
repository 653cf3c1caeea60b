"""Alerts in the admin: the records the dispatcher writes are read-only (their outcome is history);
preferences can be corrected for a user."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import PREFERENCE_FIELD, Alert, AlertPreference, Digest, DispatchRun
from organizations.admin import ReadOnlyAdminMixin


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "kind",
        "threshold",
        "recipient",
        "email",
        "delivery",
        "status",
        "attempts",
        "planned_on",
        "sent_at",
    ]
    list_filter = ["status", "kind", "delivery", "organization"]
    search_fields = ["email", "recipient__username", "finding__vendor__legal_name", "last_error"]
    list_select_related = ["recipient"]
    date_hierarchy = "planned_on"


@admin.register(Digest)
class DigestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "recipient", "email", "status", "attempts", "sent_at"]
    list_filter = ["status", "organization"]
    search_fields = ["email", "recipient__username"]
    list_select_related = ["recipient"]
    date_hierarchy = "day"


@admin.register(DispatchRun)
class DispatchRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "started_at",
        "finished_at",
        "as_of",
        "daily",
        "organization",
        "inserted",
        "sent",
        "refused",
        "uncertain",
        "deferred",
        "failed",
        "skipped",
    ]
    list_filter = ["daily"]
    date_hierarchy = "started_at"


@admin.register(AlertPreference)
class AlertPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "delivery", *PREFERENCE_FIELD.values()]
    list_filter = ["delivery"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
