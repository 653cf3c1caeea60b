from __future__ import annotations

from django.contrib import admin

from facilities.models import Facility
from organizations.admin import HistoryAdmin


@admin.register(Facility)
class FacilityAdmin(HistoryAdmin):
    list_display = ["name", "organization", "kind", "state", "city", "active", "created_at"]
    list_filter = ["kind", "state", "active", "organization"]
    search_fields = ["name", "city", "organization__name"]
    autocomplete_fields = ["organization"]
    list_select_related = ["organization"]
    readonly_fields = ["created_at"]
