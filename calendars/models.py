"""A user's secret calendar feed URL (iCalendar), stored only as a SHA-256 digest of its secret."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from organizations.querysets import Action, RestrictedQuerySet


class CalendarFeedQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q()  # the feed shows its owner's scope, evaluated at every fetch

    def restrict(self, user, action: str = Action.VIEW) -> CalendarFeedQuerySet:
        # Personal, like API tokens: only the owner sees or revokes their feed.
        return super().restrict(user, Action.VIEW).filter(user_id=getattr(user, "pk", None))

    def active(self) -> CalendarFeedQuerySet:
        return self.filter(revoked_at__isnull=True)


class CalendarFeed(models.Model):
    """Calendar clients cannot send a password, so the URL itself is the credential: a random secret
    shown once, revocable, acting as its owner (their organization, facilities and end date)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendar_feeds")
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    prefix = models.CharField(max_length=12)
    secret_hash = models.CharField("SHA-256 of the secret", max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_fetched_at"])

    objects = CalendarFeedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="calendar_feed_one_active_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"Calendar feed of {self.user} ({self.prefix}\u2026)"
