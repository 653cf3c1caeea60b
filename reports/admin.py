from django.contrib import admin

from reports.models import AuditReport


@admin.register(AuditReport)
class AuditReportAdmin(admin.ModelAdmin):
    """Read-only: a report is generated once and kept as generated."""

    list_display = ["pk", "organization", "facility", "as_of", "status", "generated_by", "requested_at", "sha256"]
    list_filter = ["status", "paper_size"]
    search_fields = ["sha256"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
