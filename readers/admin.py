"""Admin for the teleradiology readers: to read and correct records, with their change history. The
pages and imports are the usual way to record them (through readers.services)."""

from __future__ import annotations

from django.contrib import admin

from organizations.admin import HistoryAdmin
from readers.models import (
    ImlcLetter,
    Privilege,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
)


@admin.register(Radiologist)
class RadiologistAdmin(HistoryAdmin):
    list_display = ["last_name", "first_name", "npi", "vendor", "roster_starts_on", "roster_ends_on"]
    list_filter = ["vendor__organization"]
    search_fields = ["last_name", "first_name", "npi", "vendor__legal_name"]
    list_select_related = ["vendor"]
    raw_id_fields = ["vendor"]


@admin.register(StateLicense)
class StateLicenseAdmin(HistoryAdmin):
    list_display = ["radiologist", "state", "number", "status", "expires_on", "verified_on"]
    list_filter = ["state", "status", "verification_source"]
    search_fields = ["number", "radiologist__last_name", "radiologist__npi"]
    list_select_related = ["radiologist"]
    raw_id_fields = ["radiologist", "imlc_letter", "verified_by"]


@admin.register(ImlcLetter)
class ImlcLetterAdmin(HistoryAdmin):
    list_display = ["radiologist", "state_of_principal_license", "issued_on", "expires_on"]
    list_select_related = ["radiologist"]
    raw_id_fields = ["radiologist"]


@admin.register(ReadingAssignment)
class ReadingAssignmentAdmin(HistoryAdmin):
    list_display = ["radiologist", "engagement", "starts_on", "ends_on"]
    list_select_related = ["radiologist", "engagement__vendor", "engagement__facility"]
    raw_id_fields = ["radiologist", "engagement"]


@admin.register(Privilege)
class PrivilegeAdmin(HistoryAdmin):
    list_display = ["radiologist", "facility", "basis", "granted_on", "expires_on"]
    list_filter = ["basis"]
    list_select_related = ["radiologist", "facility"]
    raw_id_fields = ["radiologist", "facility"]


@admin.register(ProxyCredentialingAgreement)
class ProxyCredentialingAgreementAdmin(HistoryAdmin):
    list_display = ["distant_site_name", "facility", "vendor", "effective_on", "expires_on", "terminated_on"]
    list_select_related = ["facility", "vendor"]
    raw_id_fields = ["facility", "vendor"]
