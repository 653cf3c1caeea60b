"""When the alert jobs run next, read from the one Celery beat schedule (settings.CELERY_BEAT_SCHEDULE),
so that the alerts page says when mail goes out (issue #18 item 5) without a second copy of the times."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

#: The beat entries of the alert jobs (keys of settings.CELERY_BEAT_SCHEDULE).
DAILY_DISPATCH = "alerts-dispatch-daily"  # due alerts, reminders and the daily digests
SEND_PENDING = "alerts-send-pending-every-10-minutes"  # first alerts of new findings, retries


def next_run_at(entry: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """The next time the beat entry runs after ``now``, in the current time zone, to the minute."""
    now = timezone.localtime(now)
    schedule = settings.CELERY_BEAT_SCHEDULE[entry]["schedule"]
    # The first firing after ``now`` (taken as the last run): start + delta, whatever the real clock says.
    start, delta, _ = schedule.remaining_delta(now.replace(second=0, microsecond=0))
    return timezone.localtime(start + delta).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class AlertSchedule:
    next_dispatch_at: datetime.datetime
    next_digest_at: datetime.datetime


def alert_schedule(now: datetime.datetime | None = None) -> AlertSchedule:
    """New alerts are sent by the frequent job; digests go out with the daily dispatch."""
    return AlertSchedule(
        next_dispatch_at=next_run_at(SEND_PENDING, now), next_digest_at=next_run_at(DAILY_DISPATCH, now)
    )
