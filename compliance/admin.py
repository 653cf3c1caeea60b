"""Findings in the admin: read-only, since only the rules engine (compliance/rules.py, run by
compliance.services.run_compliance) opens and resolves them."""

from __future__ import annotations

from django.contrib import admin

from compliance.models import ComplianceRunState, Finding
from organizations.admin import ReadOnlyAdminMixin


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "kind",
        "regulation",
        "severity",
        "vendor",
        "facility",
        "due_on",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "acknowledged_at",
    ]
    list_filter = [OpenFilter, "kind", "severity", ("acknowledged_at", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["explanation", "vendor__legal_name", "facility__name", "subject_key"]
    list_select_related = ["vendor", "facility"]
    date_hierarchy = "first_seen_at"

    @admin.display(description="regulation")
    def regulation(self, finding: Finding) -> str:
        """The citation of the finding's kind (compliance/kinds.py)."""
        return finding.kind_spec.citation


@admin.register(ComplianceRunState)
class ComplianceRunStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """When each organization's findings were last asked for and last recomputed; written only by
    compliance.services (schedule_compliance_run, run_compliance)."""

    list_display = ["organization", "requested_at", "last_run_started_at"]
