"""The fault suite of issue #16: alert delivery under faults, with the real components (a Celery worker
subprocess on Redis, aiosmtpd on loopback, the test database) and time made short through the worker's
settings (2 s SMTP timeout, 6 s claim timeout, 1 s first retry, 10 s broker visibility timeout).

Each scenario measures at the SMTP server, per alert: due, delivered, duplicates, lost, uncertain and
max delay (tests/support/fault_table.py prints the table at the end of the run), and asserts:

* 0 lost;
* duplicates only for alerts whose outcome was uncertain, and at most 1 each;
* the other recipients are not delayed by one message's error (they go out in the same run);
* delivery resumes by itself (the task's follow-up runs, Celery's redelivery), with no beat and no
  dispatch by the test after the fault; after a worker kill, within 2 minutes.
"""

from __future__ import annotations

import datetime
import io
import os
import random
import time
import zoneinfo
from collections import Counter

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from alerts.emails import message_id
from alerts.models import Alert, AlertPreference, DeliveryMode, Digest, DispatchRun, SendStatus
from alerts.tasks import dispatch_due_alerts
from compliance.models import Finding, FindingKind
from compliance.services import evaluate_compliance
from compliance.tasks import run_compliance_checks
from organizations.models import Role
from tests import factories as f
from tests.alerts.conftest import SmtpServer, make_world, record_scenario, run_rules
from tests.support import wait_until

pytestmark = pytest.mark.services

SITE_URL = "https://baa.example.org"
T0 = datetime.datetime.combine(f.TODAY, datetime.time(7, 0), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
#: Short times for the worker: a claim timeout of 6 s (more than 2 x the SMTP timeout), retries after
#: 1 s, 2 s, 4 s ..., a killed worker's task delivered again after 10 s.
FAULT_ENV = {"ALERT_CLAIM_TIMEOUT": "6", "ALERT_RETRY_SECONDS": "1", "CELERY_VISIBILITY_TIMEOUT": "10"}
RECOVERY_LIMIT = 120  # seconds: after a worker kill, everything due has arrived within 2 minutes


@pytest.fixture(autouse=True)
def same_site_url(settings):
    settings.SITE_URL = SITE_URL


@pytest.fixture
def smtp():
    """The SMTP server with a 2-second client timeout in the worker's EMAIL_URL."""
    server = SmtpServer(timeout=2)
    server.start()
    yield server
    server.stop()


def start(celery_worker_factory, server: SmtpServer, **env):
    return celery_worker_factory(extra_env={"EMAIL_URL": server.url, "SITE_URL": SITE_URL, **FAULT_ENV, **env})


def fault_world(missing: int = 4):
    """``missing`` vendors without a BAA: ``missing`` findings x 2 immediate recipients (admin, officer),
    plus a recipient of the daily digest (the center officer): 3 x ``missing`` alerts, 2 x ``missing``
    + 1 emails."""
    world = make_world(missing=missing)
    AlertPreference.objects.create(user=world.center_officer, delivery=DeliveryMode.DIGEST)
    run_rules(world, f.TODAY)
    return world


def dispatch() -> float:
    dispatch_due_alerts.delay(as_of=f.TODAY.isoformat(), now=T0.isoformat())
    return time.monotonic()


def first_run(*workers) -> DispatchRun:
    wait_until(
        lambda: DispatchRun.objects.filter(finished_at__isnull=False).exists(),
        timeout=60,
        message=lambda: "\n".join(worker.log_tail() for worker in workers),
    )
    return DispatchRun.objects.filter(finished_at__isnull=False).order_by("started_at").first()


#: Still to do: waiting, claimed, retrying, or due for its one resend.
WAITING = Q(status__in=(SendStatus.PENDING, SendStatus.SENDING, SendStatus.RETRYING)) | Q(
    status=SendStatus.UNCERTAIN, next_attempt_at__isnull=False
)


def settled() -> bool:
    return not Alert.objects.filter(WAITING).exists() and not Digest.objects.filter(WAITING).exists()


def wait_settled(*workers, timeout: float = 90) -> None:
    wait_until(
        settled,
        timeout=timeout,
        interval=0.1,
        message=lambda: (
            "\n".join(worker.log_tail() for worker in workers)
            + f"\n{Counter(Alert.objects.values_list('status', flat=True))}"
        ),
    )


def deliveries(alerts=None) -> dict[int, str]:
    """The alerts that should arrive, and the Message-ID of the email carrying each."""
    alerts = (alerts if alerts is not None else Alert.objects.all()).select_related("digest").order_by("pk")
    return {alert.pk: message_id(alert.digest if alert.digest_id else alert) for alert in alerts}


def uncertain_alerts() -> set[int]:
    return set(Alert.objects.filter(uncertain_at__isnull=False).values_list("pk", flat=True))


def measure(name: str, smtp: SmtpServer, started_at: float, *, expected=None, note: str = "") -> dict:
    row = record_scenario(
        name,
        expected=expected if expected is not None else deliveries(),
        counts=smtp.count_by_message_id(),
        uncertain=uncertain_alerts(),
        started_at=started_at,
        arrivals=smtp.first_arrivals(),
        note=note,
    )
    assert row["lost"] == 0, row
    assert row["unexpected_emails"] == 0, row
    return row


def assert_duplicates_only_where_uncertain(smtp: SmtpServer, expected: dict[int, str]) -> None:
    counts = smtp.count_by_message_id()
    uncertain = uncertain_alerts()
    for alert_pk, message in expected.items():
        copies = counts[message]
        assert copies >= 1, (alert_pk, "lost")
        if alert_pk in uncertain:
            assert copies <= 2, (alert_pk, copies)
        else:
            assert copies == 1, (alert_pk, copies, "a duplicate of an alert whose outcome was never uncertain")


# --- Errors of one message: the others go out in the same run ------------------------------------------------


def test_it_refuses_one_message_and_goes_on_with_the_others(celery_worker_factory, smtp):
    """A refused recipient (550), an address that cannot be written in SMTP, and a message the server
    finds too large (552 after the content): those alerts are refused with the reason; every other
    alert goes out in the same run, nothing is deferred."""
    world = fault_world()
    world.admin.email = "ada@@example.org"  # not an address: Django's sanitizing raises ValueError
    world.admin.save(update_fields=["email"])
    fine = f.user(world.org, role=Role.COMPLIANCE_OFFICER, username="fiona")
    run_rules(world, f.TODAY)
    smtp.handler.refuse.add(world.officer.email)
    smtp.handler.refuse_message = lambda received: "digest" in received.subject.lower()
    worker = start(celery_worker_factory, smtp)

    started_at = dispatch()
    run = first_run(worker)

    fine_alerts = Alert.objects.filter(recipient=fine)
    row = measure("per-message errors (550, bad address, 552)", smtp, started_at, expected=deliveries(fine_alerts))
    assert (row["expected"], row["delivered"], row["duplicated"]) == (4, 4, 0)
    assert (run.sent, run.refused, run.deferred, run.failed, run.uncertain) == (4, 12, 0, 0, 0)
    assert set(fine_alerts.values_list("status", flat=True)) == {SendStatus.SENT}
    errors = {
        user.username: set(Alert.objects.filter(recipient=user).values_list("status", "last_error"))
        for user in (world.admin, world.officer, world.center_officer)
    }
    assert all(status == SendStatus.REFUSED for rows in errors.values() for status, _ in rows), errors
    assert all("Invalid address" in error for _, error in errors[world.admin.username])
    assert all("550" in error and "User unknown" in error for _, error in errors[world.officer.username])
    assert all("552" in error and "too big" in error for _, error in errors[world.center_officer.username])
    assert Digest.objects.get().status == SendStatus.REFUSED


# --- As-of never writes (#16 item 5, #11): a run about another day creates nothing alerts pick up --------


def _stored_findings() -> list[tuple]:
    return list(
        Finding.objects.order_by("pk").values_list("pk", "kind", "subject_key", "resolved_at", "acknowledged_at")
    )


def test_it_mails_nothing_from_an_as_of_run_for_a_future_or_a_past_day(celery_worker_factory, smtp):
    """``check_compliance --as-of`` a day after the PACS BAA expires finds it lapsed (a finding today's
    run does not have), and a day before PHI access began finds none of today's missing BAAs (stored,
    that run would resolve them, and the next one reopen them without their acknowledgements and mail
    them again). Neither writes, so the next dispatch mails today's alerts only; the nightly task
    refuses a day other than today instead of writing its findings."""
    fault_world()
    before = _stored_findings()
    stored_kinds = {kind for _, kind, *_ in before}
    future, past = f.days(200), f.days(-400)
    assert FindingKind.BAA_LAPSED in {d.kind for d in evaluate_compliance(as_of=future)} - stored_kinds
    assert FindingKind.MISSING_BAA in stored_kinds - {d.kind for d in evaluate_compliance(as_of=past)}
    for day in (future, past):
        call_command("check_compliance", "--as-of", day.isoformat(), stdout=io.StringIO())
        with pytest.raises(ValueError, match="today"):
            run_compliance_checks(as_of=day.isoformat())
    assert _stored_findings() == before, "an as-of run wrote findings"
    worker = start(celery_worker_factory, smtp)

    started_at = dispatch()
    first_run(worker)
    wait_settled(worker)

    row = measure("check_compliance --as-of a future and a past day", smtp, started_at, note="read-only")
    assert (row["expected"], row["delivered"], row["duplicated"]) == (12, 12, 0)
    assert set(Alert.objects.values_list("finding_id", flat=True)) <= {finding[0] for finding in before}
    # Today's findings are the same rows, still open (the worker's own run for today may add others).
    assert set(before) <= set(_stored_findings())
    assert not Finding.objects.filter(kind=FindingKind.BAA_LAPSED).exists()


# --- Outcomes that cannot be known: resent once, with the same Message-ID ------------------------------------


def _first_immediate_alert() -> Alert:
    return Alert.objects.filter(delivery=DeliveryMode.IMMEDIATE).order_by("pk").first()


def test_it_resends_once_an_email_whose_connection_dropped_after_data(celery_worker_factory, smtp):
    fault_world()
    smtp.handler.drop_after_data = 1
    worker = start(celery_worker_factory, smtp)

    started_at = dispatch()
    run = first_run(worker)
    assert (run.sent, run.uncertain, run.deferred) == (11, 1, 0), "the others went out in the same run"
    wait_settled(worker)  # the task's own follow-up resends it, a second later

    row = measure("connection dropped after DATA, once", smtp, started_at)
    assert (row["delivered"], row["duplicated"], row["uncertain"]) == (12, 1, 1)
    dropped = _first_immediate_alert()
    assert dropped.status == SendStatus.SENT and dropped.uncertain_at is not None and dropped.attempts == 2
    assert_duplicates_only_where_uncertain(smtp, deliveries())


def test_it_sends_no_more_than_two_copies_when_every_connection_drops_after_data(celery_worker_factory, smtp):
    fault_world()
    smtp.handler.drop_after_data = -1
    worker = start(celery_worker_factory, smtp)

    started_at = dispatch()
    run = first_run(worker)
    assert (run.uncertain, run.deferred) == (12, 0)
    wait_settled(worker)

    row = measure("dropped after every DATA", smtp, started_at)
    assert set(smtp.count_by_message_id().values()) == {2}, "each email exactly twice, never more"
    assert (row["duplicated"], row["uncertain"]) == (12, 12)
    assert set(Alert.objects.values_list("status", "next_attempt_at")) == {(SendStatus.UNCERTAIN, None)}
    assert all("Outcome unknown twice" in error for error in Alert.objects.values_list("last_error", flat=True))
    assert_duplicates_only_where_uncertain(smtp, deliveries())


def test_it_resends_once_an_email_whose_reply_came_after_the_timeout(celery_worker_factory, smtp):
    fault_world()
    smtp.handler.pause_data, smtp.handler.pause_seconds = 1, 2.6  # the client gives up after 2 s
    worker = start(celery_worker_factory, smtp)

    started_at = dispatch()
    run = first_run(worker)
    assert (run.sent, run.uncertain, run.deferred) == (11, 1, 0)
    wait_settled(worker)

    row = measure("server replies after the timeout", smtp, started_at)
    assert (row["delivered"], row["duplicated"], row["uncertain"]) == (12, 1, 1)
    assert "timed out" in _first_immediate_alert().last_error or _first_immediate_alert().status == SendStatus.SENT
    assert_duplicates_only_where_uncertain(smtp, deliveries())


# --- The server is down: the rest is deferred, and the task comes back by itself -----------------------------


def test_it_defers_the_rest_while_the_server_is_down_and_resumes_by_itself(celery_worker_factory, smtp):
    fault_world()
    worker = start(celery_worker_factory, smtp)
    smtp.stop()

    started_at = dispatch()
    run = first_run(worker)
    assert (run.sent, run.failed, run.deferred) == (0, 1, 11), "one attempt, the others deferred untried"
    assert all(
        "could not be reached" in error or "Connection refused" in error
        for error in Alert.objects.values_list("last_error", flat=True)
    )
    smtp.start()
    back_at = time.monotonic()
    wait_settled(worker, timeout=60)  # no dispatch from the test: the task's follow-up runs

    row = measure("SMTP down, then back", smtp, started_at, note="resumed by the task's follow-up, no beat")
    assert row["duplicated"] == 0
    assert max(smtp.first_arrivals().values()) - back_at < 30
    assert set(Alert.objects.values_list("status", flat=True)) == {SendStatus.SENT}


# --- Worker kills --------------------------------------------------------------------------------------------


def test_it_recovers_by_itself_within_two_minutes_when_the_worker_is_killed_mid_send(celery_worker_factory, smtp):
    fault_world()
    smtp.handler.mail_delay = 0.6  # the kill lands while the worker waits for the server on a claimed email
    doomed = start(celery_worker_factory, smtp)

    started_at = dispatch()
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
    killed_at = time.monotonic()
    smtp.handler.mail_delay = 0
    # The replacement worker (a supervisor's restart) takes the killed task up again after the visibility
    # timeout; its run sends what was never claimed and comes back when the dead claim expires.
    survivor = start(celery_worker_factory, smtp)
    wait_settled(doomed, survivor, timeout=RECOVERY_LIMIT)
    recovery = max(smtp.first_arrivals().values()) - killed_at

    row = measure(
        "worker SIGKILLed mid-send", smtp, started_at, note=f"recovered {recovery:.0f} s after the kill, by itself"
    )
    assert recovery < RECOVERY_LIMIT
    assert row["delivered"] == 12
    assert_duplicates_only_where_uncertain(smtp, deliveries())


def test_it_loses_nothing_and_duplicates_only_uncertain_alerts_under_random_kills(celery_worker_factory, smtp):
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(10_000))
    rng = random.Random(seed)
    fault_world(missing=10)  # 30 alerts, 21 emails
    smtp.handler.mail_delay = 0.05
    workers = [start(celery_worker_factory, smtp)]

    started_at = dispatch()
    thresholds = sorted(rng.sample(range(2, 20), 3))
    kills = []
    for threshold in thresholds:
        wait_until(
            lambda threshold=threshold: len(smtp.received) >= threshold,
            timeout=RECOVERY_LIMIT,
            interval=0.01,
            message=lambda: "\n".join(worker.log_tail() for worker in workers),
        )
        workers[-1].kill()
        kills.append((len(smtp.received), time.monotonic()))
        workers.append(start(celery_worker_factory, smtp))
    wait_settled(*workers, timeout=RECOVERY_LIMIT)
    recovery = max(smtp.first_arrivals().values()) - kills[-1][1]

    row = measure(
        "3 SIGKILLs at random points",
        smtp,
        started_at,
        note=f"seed {seed} (FAULT_SEED), killed after {[count for count, _ in kills]} emails; "
        f"recovered {recovery:.0f} s after the last kill",
    )
    assert row["delivered"] == 30
    assert recovery < RECOVERY_LIMIT
    assert_duplicates_only_where_uncertain(smtp, deliveries())


# --- The database session killed ------------------------------------------------------------------------------


def _terminate_worker_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgresql_only
def test_it_survives_the_database_session_killed_while_waiting_for_smtp(celery_worker_factory):
    """Killed twice with pg_terminate_backend: while the worker waits for the server's answer to MAIL FROM
    (the next write fails: the task fails and Celery retries it 2 s later), and while it waits for the
    final reply to a message (the server accepts it; the record of the success reconnects, so it stays
    sent and is not sent again)."""
    smtp = SmtpServer(timeout=3)
    smtp.start()
    try:
        fault_world()
        smtp.handler.pause_mail = smtp.handler.pause_data = 1
        smtp.handler.pause_seconds = 1.5
        worker = start(celery_worker_factory, smtp, ALERT_CLAIM_TIMEOUT="8")

        started_at = dispatch()
        wait_until(lambda: smtp.handler.pausing == "MAIL", timeout=60, interval=0.02, message=worker.log_tail)
        first_kill = _terminate_worker_sessions()
        wait_until(lambda: smtp.handler.pausing == "DATA", timeout=60, interval=0.02, message=worker.log_tail)
        second_kill = _terminate_worker_sessions()
        wait_settled(worker)

        row = measure("PostgreSQL session killed twice mid-send", smtp, started_at, note="pg_terminate_backend")
        assert (first_kill, second_kill) >= (1, 1)
        assert (row["delivered"], row["duplicated"]) == (12, 0)
        assert "Retry in 2s" in worker.log(), worker.log_tail()
        assert set(Alert.objects.values_list("status", flat=True)) == {SendStatus.SENT}
    finally:
        smtp.stop()
