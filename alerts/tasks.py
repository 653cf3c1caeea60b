"""Thin tasks: they take ids (and the day, for tests and back-fills), call a service, and are safe to
run twice or twice at once (late acknowledgement redelivers a task whose worker died).

Two kinds of re-run, besides beat's:

* A database error in the middle of a run (the server restarted, the session was killed): Celery
  retries the task with exponential backoff (2 s, 4 s, 8 s ... at most 10 min, 8 times). What the run
  recorded before the error stays recorded (each outcome is its own autocommitted UPDATE).
* Something due again soon: after a run, if an email becomes due within the frequent run's period
  (a retry after a connection-level failure, the one resend of an uncertain email, a claim that
  expires because its worker may be dead), the task sends itself again for that moment, so that
  delivery resumes within minutes, not at the next beat tick.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError

from alerts.services import DispatchSummary, alerts_dispatch

#: Beyond this, the next frequent run of beat (every 10 minutes) comes first.
FOLLOW_UP_HORIZON = datetime.timedelta(minutes=10)
_DATABASE_ERRORS = (OperationalError, InterfaceError)
_RETRY = {
    "autoretry_for": _DATABASE_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": False,
    "max_retries": 8,
}


def _day(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _moment(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def _follow_up(task, summary: DispatchSummary, *, organization_id: int | None, as_of: str | None, now: str | None):
    """Send the frequent run again for the moment something is due, if that is soon. A run whose time
    was given (``now``, tests and back-fills) gives the follow-up that moment, in the same time."""
    if task.request.is_eager or summary.next_check_at is None or summary.finished_at is None:
        return
    wait = max(summary.next_check_at - summary.finished_at, datetime.timedelta(0))
    if wait > FOLLOW_UP_HORIZON:
        return
    send_pending_alerts.apply_async(
        kwargs={
            "organization_id": organization_id,
            "as_of": as_of,
            "now": summary.next_check_at.isoformat() if now else None,
        },
        countdown=wait.total_seconds(),
    )


@shared_task(bind=True, name="alerts.tasks.dispatch_due_alerts", **_RETRY)
def dispatch_due_alerts(
    self, organization_id: int | None = None, as_of: str | None = None, now: str | None = None
) -> dict[str, int]:
    """The daily run: every alert due (expiry reminders at their lead times, first alerts and weekly
    reminders), and the daily digests. ``as_of`` (YYYY-MM-DD) and ``now`` (ISO 8601) set the time."""
    summary = alerts_dispatch(organization_id=organization_id, as_of=_day(as_of), now=_moment(now), daily=True)
    _follow_up(self, summary, organization_id=organization_id, as_of=as_of, now=now)
    return summary.as_dict()


@shared_task(bind=True, name="alerts.tasks.send_pending_alerts", **_RETRY)
def send_pending_alerts(
    self, organization_id: int | None = None, as_of: str | None = None, now: str | None = None
) -> dict[str, int]:
    """The frequent run: the first alert of a new finding as soon as it appears, retries whose time has
    come, resends of uncertain emails, and emails a dead worker had claimed."""
    summary = alerts_dispatch(organization_id=organization_id, as_of=_day(as_of), now=_moment(now), daily=False)
    _follow_up(self, summary, organization_id=organization_id, as_of=as_of, now=now)
    return summary.as_dict()
