"""Django admin for organizations, memberships and the access log, the admin base classes of every
app (history without revert, read-only records, no deletion), and the site's own rule: superusers only.

The admin is the operators' tool of the whole installation: it shows every organization's records and
does not pass the per-user gate (organizations/querysets.py). So nobody but a superuser may use it:
``is_staff`` and model permissions alone open nothing (#15). Members of an organization use the
application's pages, which go through the gate. Nothing a BAA, a finding or a report refers to is
deleted here (45 CFR 164.316(b)(2)(i): six years): deletion is refused for every model, and archive or
deactivate instead.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from simple_history.admin import SimpleHistoryAdmin

from organizations.models import AccessLogEntry, Membership, Organization


def superuser_only(request) -> bool:
    """The admin site's permission check: an active superuser, never staff status alone."""
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = superuser_only
admin.site.site_header = "BAA Tracker administration (superusers only)"
admin.site.site_title = "BAA Tracker administration"
admin.site.index_title = (
    "For the superusers who operate this installation: every organization's records. Staff status alone "
    "gives no access; members use the application's pages."
)
# Retention (45 CFR 164.316(b)(2)(i)): no bulk delete anywhere in the admin.
admin.site.disable_action("delete_selected")


class NoDeleteMixin:
    """Records kept six years (164.316(b)(2)(i)): archived or deactivated, never deleted here."""

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    """Change history (django-simple-history) to read, never to revert: a revert would write an old
    version back around the services (the BAA lifecycle, the checklist rules), so it is refused."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("Reverting to an old version is disabled; change the record instead.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnlyAdminMixin:
    """Records that only the application writes (the rules engine's findings, the access log)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(HistoryAdmin):
    list_display = ["name", "facility_count", "member_count", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                facility_count=Count("facilities", distinct=True), member_count=Count("memberships", distinct=True)
            )
        )

    @admin.display(description="facilities", ordering="facility_count")
    def facility_count(self, obj):
        return obj.facility_count

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj):
        return obj.member_count


@admin.register(Membership)
class MembershipAdmin(HistoryAdmin):
    list_display = ["user", "user_email", "organization", "role", "limited_to", "access_expires_on", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name", "organization__name"]
    autocomplete_fields = ["user", "organization"]
    filter_horizontal = ["facilities"]
    list_select_related = ["user", "organization"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("facilities")

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="limited to")
    def limited_to(self, obj):
        names = [facility.name for facility in obj.facilities.all()]
        return ", ".join(names) if names else "all facilities"


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail of reads (45 CFR 164.312(b)): append-only, so nobody edits or deletes it here."""

    list_display = ["at", "user", "action", "object_type", "object_id", "description", "ip_address", "organization"]
    list_filter = ["action", "object_type", "organization"]
    search_fields = ["description", "user__username", "object_id", "ip_address"]
    date_hierarchy = "at"
    list_select_related = ["user", "organization"]


class MembershipInline(admin.StackedInline):
    model = Membership
    can_delete = False
    extra = 0
    max_num = 1
    autocomplete_fields = ["organization"]
    filter_horizontal = ["facilities"]
    readonly_fields = ["created_at"]


User = get_user_model()


class BaaTrackerUserAdmin(NoDeleteMixin, UserAdmin):
    """The stock user admin, with the user's membership (organization, role, facilities) inline.

    A user is deactivated (``is_active``), never deleted: the history and the access log name them."""

    inlines = [*UserAdmin.inlines, MembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "membership_role", "is_staff", "is_active"]
    list_select_related = ["membership"]

    @admin.display(description="role", ordering="membership__role")
    def membership_role(self, obj):
        membership = getattr(obj, "membership", None)
        return membership.get_role_display() if membership else "-"


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, BaaTrackerUserAdmin)
