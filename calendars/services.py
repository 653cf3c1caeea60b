"""Writes of the calendars app: a user's secret feed URL, and the record of every fetch."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from calendars.models import CalendarFeed
from organizations.models import AccessAction, AccessLogEntry
from organizations.selectors import active_membership

SECRET_PREFIX = "cal_"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def calendar_feed_create(*, user) -> tuple[CalendarFeed, str]:
    """A new secret feed URL for ``user``; the previous one, if any, stops working (one per user).

    Returns the feed and its secret, which is never stored (only its SHA-256)."""
    membership = active_membership(user)
    if membership is None:
        raise PermissionDenied("Only members of an organization have a calendar feed.")
    for feed in CalendarFeed.objects.filter(user=user).active():
        calendar_feed_revoke(feed=feed)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed(
        user=user,
        organization_id=membership.organization_id,
        prefix=secret[: len(SECRET_PREFIX) + 6],
        secret_hash=secret_digest(secret),
    )
    feed.full_clean()
    feed.save()
    return feed, secret


def calendar_feed_revoke(*, feed: CalendarFeed) -> CalendarFeed:
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed._change_reason = "Calendar feed revoked"
        feed.save(update_fields=["revoked_at"])
    return feed


def calendar_feed_fetched(*, feed: CalendarFeed, ip_address: str | None, events: int) -> None:
    """A calendar client fetched the feed: recorded in the access log (45 CFR 164.312(b)), as an export."""
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=timezone.now())
    AccessLogEntry.objects.create(
        organization_id=feed.organization_id,
        user_id=feed.user_id,
        action=AccessAction.EXPORT,
        object_type=CalendarFeed._meta.label_lower,
        object_id=str(feed.pk),
        description=f"Calendar feed fetched ({events} events, {feed.prefix}\u2026)",
        ip_address=ip_address,
    )
