"""Thin tasks: they take ids (and the day, for tests and back-fills), call a service, and are safe to
run twice or twice at once (late acknowledgement redelivers a task whose worker died)."""

from __future__ import annotations

import datetime

from celery import shared_task

from alerts.services import alerts_dispatch


def _day(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _moment(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


@shared_task(name="alerts.tasks.dispatch_due_alerts")
def dispatch_due_alerts(
    organization_id: int | None = None, as_of: str | None = None, now: str | None = None
) -> dict[str, int]:
    """The daily run: every alert due (expiry reminders at their lead times, first alerts and weekly
    reminders), and the daily digests. ``as_of`` (YYYY-MM-DD) and ``now`` (ISO 8601) set the time."""
    return alerts_dispatch(organization_id=organization_id, as_of=_day(as_of), now=_moment(now), daily=True).as_dict()


@shared_task(name="alerts.tasks.send_pending_alerts")
def send_pending_alerts(
    organization_id: int | None = None, as_of: str | None = None, now: str | None = None
) -> dict[str, int]:
    """The frequent run: the first alert of a new finding as soon as it appears, retries whose time has
    come, and emails a dead worker had claimed."""
    return alerts_dispatch(organization_id=organization_id, as_of=_day(as_of), now=_moment(now), daily=False).as_dict()
