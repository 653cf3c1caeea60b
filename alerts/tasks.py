"""Thin tasks: they take ids (and the day, for tests and back-fills), call a service, and are safe to
run twice or twice at once (late acknowledgement redelivers a task whose worker died).

Two kinds of re-run, besides beat's:

* A database error in the middle of a run (the server restarted, the session was killed): Celery
  retries the task with exponential backoff (2 s, 4 s, 8 s ... at most 10 min, 8 times). What the run
  recorded before the error stays recorded (each outcome is its own autocommitted UPDATE).
* Something due again soon: after a run, if an email becomes due within the frequent run's period
  (a retry after a connection-level failure, the one resend of an uncertain email, a claim that
  expires because its worker may be dead), the task sends itself again for that moment (at least 1 s
  later, at most 12 times in a row), so that delivery resumes within minutes, not at the next beat
  tick. A worker killed mid-run leaves its task unacknowledged: the broker delivers it again after
  CELERY_VISIBILITY_TIMEOUT (a prefork child's death requeues it at once), and that run schedules the
  follow-up for the dead worker's claim.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError

from alerts.services import DispatchSummary, alerts_dispatch

#: Beyond this, the next frequent run of beat (every 10 minutes) comes first.
FOLLOW_UP_HORIZON = datetime.timedelta(minutes=10)
MIN_FOLLOW_UP_WAIT = datetime.timedelta(seconds=1)
#: Enough for the backoff of a short outage (ALERT_RETRY_SECONDS doubling up to the horizon).
MAX_FOLLOW_UPS = 12
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


def _follow_up(
    task,
    summary: DispatchSummary,
    *,
    organization_id: int | None,
    as_of: str | None,
    now: str | None,
    follow_up: int,
) -> None:
    """Send the frequent run again for the moment something is due, if that is soon. A run whose time
    was given (``now``, tests and back-fills) gives the follow-up that moment, in the same time. At
    most MAX_FOLLOW_UPS in a row (something due that no run can take must not keep a worker busy):
    then beat's frequent run takes over."""
    if task.request.is_eager or summary.next_check_at is None or summary.finished_at is None:
        return
    if follow_up >= MAX_FOLLOW_UPS:
        return
    wait = max(summary.next_check_at - summary.finished_at, MIN_FOLLOW_UP_WAIT)
    if wait > FOLLOW_UP_HORIZON:
        return
    send_pending_alerts.apply_async(
        kwargs={
            "organization_id": organization_id,
            "as_of": as_of,
            "now": (summary.finished_at + wait).isoformat() if now else None,
            "follow_up": follow_up + 1,
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
    _follow_up(self, summary, organization_id=organization_id, as_of=as_of, now=now, follow_up=0)
    return summary.as_dict()


@shared_task(bind=True, name="alerts.tasks.send_pending_alerts", **_RETRY)
def send_pending_alerts(
    self,
    organization_id: int | None = None,
    as_of: str | None = None,
    now: str | None = None,
    follow_up: int = 0,
) -> dict[str, int]:
    """The frequent run: the first alert of a new finding as soon as it appears, retries whose time has
    come, resends of uncertain emails, and emails a dead worker had claimed. ``follow_up`` counts the
    runs this one follows in a row (see _follow_up)."""
    summary = alerts_dispatch(organization_id=organization_id, as_of=_day(as_of), now=_moment(now), daily=False)
    _follow_up(self, summary, organization_id=organization_id, as_of=as_of, now=now, follow_up=follow_up)
    return summary.as_dict()
