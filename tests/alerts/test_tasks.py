"""Alerts through the real components: a Celery worker subprocess on a real Redis broker, sending to a
real SMTP server on loopback (aiosmtpd), with time set by the tests (``as_of``/``now`` go through the
task into the services; nothing waits for a date).

Each fault scenario counts what the SMTP server received per Message-ID (every alert and digest keeps
its Message-ID at every attempt): alerts expected, delivered, duplicated (must be 0) and lost (must be
0). The table is printed at the end of the run (tests/alerts/conftest.py).
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import zoneinfo
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from alerts.emails import message_id
from alerts.models import Alert, AlertPreference, DeliveryMode, Digest, DispatchRun, SendStatus
from alerts.services import claim_timeout, retry_base_delay
from alerts.tasks import dispatch_due_alerts, send_pending_alerts
from tests import factories as f
from tests.alerts.conftest import make_world, record_scenario, run_rules
from tests.support import wait_until
from tests.support.celery_worker import start_worker as start_worker_process
from tests.support.celery_worker import worker_database_url

pytestmark = pytest.mark.services

LEAD_DAYS = (90, 60, 30, 14, 7, 1)


def at_seven(day: datetime.date) -> datetime.datetime:
    """The daily dispatch time (settings.ALERT_DISPATCH_AT) on ``day``, in the organization's time zone."""
    return datetime.datetime.combine(day, datetime.time(7, 0), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


T0 = at_seven(f.TODAY)


SITE_URL = "https://baa.example.org"


@pytest.fixture(autouse=True)
def same_site_url(settings):
    """The worker and the test process agree on the site (links, and the domain of the Message-IDs)."""
    settings.SITE_URL = SITE_URL


def start(celery_worker_factory, smtp_server, **env):
    return celery_worker_factory(extra_env={"EMAIL_URL": smtp_server.url, "SITE_URL": SITE_URL, **env})


def dispatch(as_of: datetime.date, now: datetime.datetime, *, daily: bool = True) -> None:
    task = dispatch_due_alerts if daily else send_pending_alerts
    task.delay(as_of=as_of.isoformat(), now=now.isoformat())


def finished_runs(count: int, *workers) -> None:
    wait_until(
        lambda: DispatchRun.objects.filter(finished_at__isnull=False).count() >= count,
        timeout=90,
        message=lambda: "\n".join(worker.log_tail() for worker in workers),
    )


def expected_deliveries() -> dict[int, str]:
    """Every alert that should go out, and the Message-ID of the email carrying it (its own or its
    digest's)."""
    alerts = Alert.objects.select_related("digest").order_by("pk")
    return {alert.pk: message_id(alert.digest if alert.digest_id else alert) for alert in alerts}


def assert_exactly_once(row: dict, *, alerts: int, emails: int) -> None:
    assert (row["expected"], row["emails_expected"]) == (alerts, emails), row
    assert (row["delivered"], row["duplicated"], row["lost"]) == (alerts, 0, 0), row
    assert (row["emails_received"], row["unexpected_emails"]) == (emails, 0), row


# --- What is sent, to whom, when -------------------------------------------------------------------------------


def test_it_sends_one_expiry_reminder_per_recipient_at_each_lead_time_and_none_before(
    celery_worker_factory, smtp_server
):
    world = make_world(expires_in=100)
    worker = start(celery_worker_factory, smtp_server)
    expires_on = world.agreement.expires_on
    runs = 0
    for days_left in (91, 90, 89, 61, 60, 59, 31, 30, 29, 15, 14, 13, 8, 7, 6, 2, 1, 0):
        as_of = expires_on - datetime.timedelta(days=days_left)
        run_rules(world, as_of)
        before = len(smtp_server.received)
        dispatch(as_of, at_seven(as_of))
        runs += 1
        finished_runs(runs, worker)
        new = smtp_server.received[before:]
        if days_left in LEAD_DAYS:
            assert sorted(address for received in new for address in received.to) == sorted(world.expiry_recipients)
            assert all(f"in {days_left} day" in received.subject for received in new), [r.subject for r in new]
        else:
            assert new == [], (days_left, [received.subject for received in new])

    per_recipient = Counter(address for received in smtp_server.received for address in received.to)
    assert per_recipient == {address: len(LEAD_DAYS) for address in world.expiry_recipients}
    thresholds = sorted(Alert.objects.filter(recipient=world.admin).values_list("threshold", flat=True))
    assert thresholds == sorted(LEAD_DAYS)
    assert Counter(smtp_server.count_by_message_id().values()) == {1: 3 * len(LEAD_DAYS)}
    # Reached through Redis by the worker process, not run in the test process.
    assert "Connected to redis://" in worker.log()
    assert "alerts.tasks.dispatch_due_alerts" in worker.log()


def test_it_mails_content_that_names_the_vendor_facility_agreement_date_and_action(celery_worker_factory, smtp_server):
    world = make_world(expires_in=30, pacs_name="<b>Sectra</b> & Co <script>alert(1)</script>")
    run_rules(world, f.TODAY)
    worker = start(celery_worker_factory, smtp_server)

    dispatch(f.TODAY, T0)
    finished_runs(1, worker)

    received = smtp_server.to(world.center_officer.email)
    assert len(received) == 1
    mail = received[0]
    assert "<b>Sectra</b> & Co" in mail.subject and "2026-12-22" in mail.subject and "30 days" in mail.subject
    for text in (mail.text, mail.html):
        assert "Lakeside Imaging Center" in text
        assert "Sectra BAA 2024" in text
        assert "2026-12-22" in text
        assert "Execute a renewal or successor BAA" in text
        assert "Lakeside Imaging Network" in text
        assert "You receive this because you are a compliance officer of Lakeside Imaging Network" in text
        assert "https://baa.example.org/alerts/unsubscribe/" in text
    assert "<b>Sectra</b> & Co <script>alert(1)</script>" in mail.text  # plain text: nothing to escape
    assert "&lt;b&gt;Sectra&lt;/b&gt; &amp;amp; Co &lt;script&gt;alert(1)&lt;/script&gt;" not in mail.html
    assert "&lt;b&gt;Sectra&lt;/b&gt; &amp; Co &lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>" not in mail.html and "<b>Sectra" not in mail.html
    alert = Alert.objects.get(recipient=world.center_officer)
    finding_url = f"https://baa.example.org/findings/{alert.finding_id}/"
    assert finding_url in mail.text and finding_url in mail.html
    assert str(mail.message["List-Unsubscribe"]).strip().startswith("<https://baa.example.org/alerts/unsubscribe/")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


# --- Fault scenarios -----------------------------------------------------------------------------------------


def _fault_world():
    """4 vendors with PHI access and no BAA: 4 missing-BAA findings x 2 immediate recipients = 8 alerts,
    plus one recipient who takes a daily digest (1 digest carrying 4 alerts): 9 emails."""
    world = make_world(missing=4)
    AlertPreference.objects.create(user=world.center_officer, delivery=DeliveryMode.DIGEST)
    run_rules(world, f.TODAY)
    return world


def test_it_delivers_each_alert_once_when_the_dispatch_runs_twice(celery_worker_factory, smtp_server):
    _fault_world()
    worker = start(celery_worker_factory, smtp_server)

    dispatch(f.TODAY, T0)
    finished_runs(1, worker)
    dispatch(f.TODAY, T0 + datetime.timedelta(minutes=1))
    finished_runs(2, worker)

    row = record_scenario(
        "dispatch run twice", expected=expected_deliveries(), counts=smtp_server.count_by_message_id()
    )
    assert_exactly_once(row, alerts=12, emails=9)
    first, second = DispatchRun.objects.order_by("started_at")
    assert (first.inserted, first.sent) == (12, 12)  # counted in alerts: the digest carries 4
    assert (second.inserted, second.sent, second.failed) == (0, 0, 0)
    assert set(Alert.objects.values_list("status", flat=True)) == {SendStatus.SENT}


def test_it_delivers_each_alert_once_with_two_workers_at_once(celery_worker_factory, smtp_server):
    _fault_world()
    smtp_server.handler.mail_delay = 0.15  # long enough for the two runs to overlap
    first_worker = start(celery_worker_factory, smtp_server)
    second_worker = start(celery_worker_factory, smtp_server)

    dispatch(f.TODAY, T0)
    dispatch(f.TODAY, T0)
    finished_runs(2, first_worker, second_worker)

    row = record_scenario(
        "two workers at once", expected=expected_deliveries(), counts=smtp_server.count_by_message_id()
    )
    assert_exactly_once(row, alerts=12, emails=9)
    one, other = DispatchRun.objects.order_by("started_at")
    assert one.started_at < other.finished_at and other.started_at < one.finished_at, "the runs did not overlap"
    assert one.sent + other.sent == 12
    for worker in (first_worker, second_worker):
        assert "Task alerts.tasks.dispatch_due_alerts[" in worker.log(), worker.log_tail()


def test_it_records_failures_while_smtp_is_down_and_delivers_each_once_when_it_is_back(
    celery_worker_factory, smtp_server
):
    _fault_world()
    worker = start(celery_worker_factory, smtp_server)
    smtp_server.stop()

    dispatch(f.TODAY, T0)
    finished_runs(1, worker)
    alerts = list(Alert.objects.filter(delivery=DeliveryMode.IMMEDIATE))
    assert len(alerts) == 8
    assert {alert.status for alert in alerts} == {SendStatus.RETRYING}
    assert all(
        "Connection refused" in alert.last_error or "could not be reached" in alert.last_error for alert in alerts
    )
    assert all(alert.next_attempt_at >= T0 + retry_base_delay() for alert in alerts)
    digest = Digest.objects.get()
    assert digest.status == SendStatus.RETRYING and digest.last_error
    run = DispatchRun.objects.get()
    assert (run.failed, run.deferred) == (1, 11)  # one attempt; the others deferred without a try
    failed_while_down = run.failed + run.deferred

    smtp_server.start()
    dispatch(f.TODAY, T0 + datetime.timedelta(minutes=1), daily=False)  # before the backoff: nothing
    finished_runs(2, worker)
    assert smtp_server.received == []

    dispatch(f.TODAY, T0 + datetime.timedelta(minutes=30), daily=False)
    finished_runs(3, worker)
    row = record_scenario(
        "SMTP down, then back (runs by hand)",
        expected=expected_deliveries(),
        counts=smtp_server.count_by_message_id(),
        note=f"{failed_while_down} alerts recorded as failed or deferred while down",
    )
    assert_exactly_once(row, alerts=12, emails=9)
    assert set(Alert.objects.values_list("status", flat=True)) == {SendStatus.SENT}


def test_it_loses_and_duplicates_nothing_when_the_worker_is_killed_mid_dispatch(celery_worker_factory, smtp_server):
    _fault_world()
    smtp_server.handler.mail_delay = 0.6  # the server answers MAIL FROM slowly: the kill lands mid-batch
    doomed = start(celery_worker_factory, smtp_server)

    dispatch(f.TODAY, T0)
    # Kill it while it waits for the server on an email it has claimed, after some were sent.
    wait_until(
        lambda: (
            Alert.objects.filter(status=SendStatus.SENT).count() >= 3
            and Alert.objects.filter(status=SendStatus.SENDING).exists()
        ),
        timeout=60,
        interval=0.05,
        message=doomed.log_tail,
    )
    doomed.kill()
    assert doomed.process.returncode == -9
    statuses = Counter(Alert.objects.values_list("status", flat=True))
    assert statuses[SendStatus.SENDING] == 1 and statuses[SendStatus.PENDING] >= 1, statuses
    assert not DispatchRun.objects.get().finished_at
    delivered_before_the_kill = len(smtp_server.received)
    assert delivered_before_the_kill == statuses[SendStatus.SENT]

    smtp_server.handler.mail_delay = 0
    survivor = start(celery_worker_factory, smtp_server)
    # The next run, a minute later: sends what was never claimed, leaves the dead worker's fresh claim.
    dispatch(f.TODAY, T0 + datetime.timedelta(minutes=1))
    finished_runs(1, survivor)
    assert Alert.objects.filter(status=SendStatus.SENDING).count() == 1
    # After the claim timeout, the claim is taken over and the last email goes out.
    dispatch(f.TODAY, T0 + claim_timeout() + datetime.timedelta(minutes=1), daily=False)
    finished_runs(2, survivor)

    row = record_scenario(
        "worker SIGKILLed mid-dispatch (runs by hand)",
        expected=expected_deliveries(),
        counts=smtp_server.count_by_message_id(),
        note=f"killed after {delivered_before_the_kill} emails, with 1 claimed and {statuses[SendStatus.PENDING]} "
        "alerts not yet claimed",
    )
    assert_exactly_once(row, alerts=12, emails=9)
    assert set(Alert.objects.values_list("status", flat=True)) == {SendStatus.SENT}


# --- The schedule ---------------------------------------------------------------------------------------------


def test_it_schedules_the_alert_runs_next_to_the_nightly_compliance_run():
    from baatracker.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    daily = schedule["alerts-dispatch-daily"]["schedule"]
    nightly = schedule["compliance-run-nightly"]["schedule"]
    frequent = schedule["alerts-send-pending-every-10-minutes"]["schedule"]
    assert (daily.hour, daily.minute) == ({settings.ALERT_DISPATCH_AT[0]}, {settings.ALERT_DISPATCH_AT[1]})
    assert sorted(daily.hour) > sorted(nightly.hour)  # reminders go out after the night's findings exist
    assert frequent.minute == set(range(0, 60, 10)) and len(frequent.hour) == 24
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


# --- The embedded default --------------------------------------------------------------------------------------


def test_it_runs_the_same_task_on_the_embedded_broker_and_writes_mail_files(transactional_db, tmp_path, monkeypatch):
    """No Redis, no SMTP: kombu's filesystem broker under var/ and email files under var/mail."""
    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    for name in ("EMAIL_URL", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "BAATRACKER_VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "filesystem://",
        "EMAIL_URL": "",
        "SITE_URL": SITE_URL,
    }
    worker = start_worker_process(
        broker_url="filesystem://",
        queue=f"embedded-{tmp_path.name}",
        database_url=worker_database_url(connection.settings_dict),
        hostname=f"embedded-{tmp_path.name}@localhost",
        log_path=tmp_path / "worker.log",
        extra_env=env,
    )
    try:
        wait_until(lambda: "ready." in worker.log(), timeout=60, message=worker.log_tail)
        enqueue = (
            "from alerts.tasks import dispatch_due_alerts; "
            f"dispatch_due_alerts.delay(as_of='{f.TODAY.isoformat()}', now='{T0.isoformat()}')"
        )
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", enqueue],
            cwd=settings.BASE_DIR,
            env=worker.env,
            check=True,
            capture_output=True,
        )
        finished_runs(1, worker)
    finally:
        worker.stop()
    mail = "".join(path.read_text() for path in (tmp_path / "mail").glob("*.log"))
    assert mail.count("Message-ID: <baa-alert-") == 3
    assert mail.count("Unsigned AI Tool 1 has PHI access at Lakeside Imaging Center") >= 3
    assert Alert.objects.filter(status=SendStatus.SENT).count() == 3
    assert "filesystem" in worker.log()
