from __future__ import annotations

import datetime
from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from organizations.querysets import Action, RestrictedQuerySet


class OrganizationQuerySet(RestrictedQuerySet):
    organization_lookup = "pk"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q()  # a user limited to some facilities still belongs to the organization


class Organization(models.Model):
    """The covered entity (a health network, an imaging-center company): the tenant boundary."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    VIEWER = "viewer", "Viewer"
    AUDITOR = "auditor", "Auditor"


# 45 CFR 164.312(b) audit controls and 164.308(a)(1)(ii)(D) information system activity review: the
# audit log is read by administrators, compliance officers and (time-limited) auditors, not by viewers.
ROLE_ACTIONS: dict[str, set[str]] = {
    Role.ADMIN: {Action.VIEW, Action.CHANGE, Action.ADMINISTER, Action.AUDIT},
    Role.COMPLIANCE_OFFICER: {Action.VIEW, Action.CHANGE, Action.AUDIT},
    Role.VIEWER: {Action.VIEW},
    Role.AUDITOR: {Action.VIEW, Action.AUDIT},
}


def access_in_force_q(day: datetime.date) -> Q:
    """The membership grants access on ``day``: an auditor's access stops after its end date,
    ``access_expires_on`` (the last day it is in force)."""
    return Q(access_expires_on__isnull=True) | Q(access_expires_on__gte=day)


class Membership(models.Model):
    """A user's role in one organization, optionally limited to some of its facilities."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.VIEWER)
    facilities = models.ManyToManyField(
        "facilities.Facility",
        blank=True,
        related_name="limited_memberships",
        help_text="Leave empty for all of the organization's facilities.",
    )
    access_expires_on = models.DateField(
        null=True, blank=True, help_text="Access stops after this date. Required for auditors."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(m2m_fields=[facilities])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(role=Role.AUDITOR) | Q(access_expires_on__isnull=False),
                name="membership_auditor_has_end_date",
                violation_error_message="An auditor's access needs an end date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"

    def access_in_force_on(self, day: datetime.date) -> bool:
        """The Python form of access_in_force_q, for a membership already loaded."""
        return self.access_expires_on is None or self.access_expires_on >= day

    def allows(self, action: str) -> bool:
        return action in ROLE_ACTIONS[self.role]

    @cached_property
    def limited_facility_ids(self) -> list[int] | None:
        """None when the member sees every facility of the organization. Admins are never limited."""
        if self.role == Role.ADMIN:
            return None
        ids = list(self.facilities.values_list("pk", flat=True))
        return ids or None


class AccessAction(models.TextChoices):
    DOWNLOAD = "download", "Downloaded"
    EXPORT = "export", "Exported"
    VIEW = "view", "Viewed"
    GENERATE = "generate", "Generated"
    VERIFY = "verify", "Verified"
    API = "api", "Used the API"


class AccessLogQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(user__in=[])  # the access log is for unrestricted members (admins) only


class AccessLogEntry(models.Model):
    """Who downloaded, exported or viewed what, and when: audit controls of 45 CFR 164.312(b).

    Changes to records are kept by django-simple-history; this log keeps reads of documents and
    exports, which change nothing.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="access_log")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=AccessAction.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=300)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "access log entries"
        indexes = [models.Index(fields=["organization", "-at"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.user} {self.get_action_display().lower()} {self.description}"
