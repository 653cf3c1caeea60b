"""The alerts page says when mail goes out next, from the Celery beat schedule (issue #18 item 5)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from celery.schedules import crontab
from django.urls import reverse

from alerts.schedule import DAILY_DISPATCH, SEND_PENDING, alert_schedule, next_run_at
from organizations.models import Role
from tests import factories as f

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def test_it_reads_the_next_runs_from_the_beat_schedule(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        DAILY_DISPATCH: {"task": "alerts.tasks.dispatch_due_alerts", "schedule": crontab(hour=7, minute=0)},
        SEND_PENDING: {"task": "alerts.tasks.send_pending_alerts", "schedule": crontab(minute="*/10")},
    }
    now = datetime.datetime(2026, 12, 2, 8, 27, 55, tzinfo=NEW_YORK)

    schedule = alert_schedule(now)

    assert schedule.next_dispatch_at == datetime.datetime(2026, 12, 2, 8, 30, tzinfo=NEW_YORK)
    assert schedule.next_digest_at == datetime.datetime(2026, 12, 3, 7, 0, tzinfo=NEW_YORK)
    before_seven = datetime.datetime(2026, 12, 2, 6, 59, tzinfo=NEW_YORK)
    assert next_run_at(DAILY_DISPATCH, before_seven) == datetime.datetime(2026, 12, 2, 7, 0, tzinfo=NEW_YORK)


@pytest.mark.django_db
def test_the_alerts_page_says_when_the_next_dispatch_and_digest_run(client, settings):
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        DAILY_DISPATCH: {"task": "alerts.tasks.dispatch_due_alerts", "schedule": crontab(hour=6, minute=45)},
    }
    client.force_login(f.user(f.organization(), role=Role.COMPLIANCE_OFFICER))

    html = client.get(reverse("alerts:list")).content.decode()

    assert "No dispatch has run yet." in html
    assert "Next dispatch of new alerts and retries:" in html
    expected = alert_schedule()
    assert f'data-next="dispatch">{expected.next_dispatch_at:%Y-%m-%d %H:%M}' in html
    assert f'data-next="digest">{expected.next_digest_at:%Y-%m-%d} 06:45 ' in html
