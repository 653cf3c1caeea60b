"""The alert services in the test process: planning from findings, recipients, reminders, digests,
claims, failures and retries. Email goes to Django's in-memory outbox, or to the real loopback SMTP
server where the test is about what a server answers. Time is passed in (``as_of``, ``now``)."""

from __future__ import annotations

import datetime
import smtplib
import zoneinfo
from collections import Counter

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.models import AgreementStatus
from alerts.models import Alert, AlertKind, AlertPreference, DeliveryMode, Digest, DispatchRun, SendStatus
from alerts.services import (
    MAX_ATTEMPTS,
    alert_preference_unsubscribe,
    alert_retry,
    alerts_dispatch,
    alerts_plan,
    claim_timeout,
    classify_error,
    expiry_threshold,
    reminder_number,
    retry_base_delay,
    retry_delay,
)
from compliance.models import Finding, FindingKind
from organizations.models import Role
from tests import factories as f
from tests.alerts.conftest import make_world, run_rules

pytestmark = pytest.mark.django_db

LEAD_DAYS = [90, 60, 30, 14, 7, 1]


def at_seven(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(7), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def dispatch(day: datetime.date, *, daily: bool = True, now: datetime.datetime | None = None):
    return alerts_dispatch(as_of=day, now=now or at_seven(day), daily=daily)


def first_seen_on(day: datetime.date) -> None:
    """The rules ran on ``day`` (first_seen_at is the real time of the run; the tests set the day)."""
    Finding.objects.update(first_seen_at=at_seven(day) - datetime.timedelta(hours=5))


def recipients(outbox) -> list[str]:
    return sorted(address for message in outbox for address in message.to)


# --- Building blocks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "threshold"),
    [
        (120, None),
        (91, None),
        (90, 90),
        (61, 90),
        (60, 60),
        (45, 60),
        (30, 30),
        (8, 14),
        (7, 7),
        (2, 7),
        (1, 1),
        (0, 1),
    ],
)
def test_it_picks_the_nearest_lead_time(days_left, threshold):
    assert expiry_threshold(days_left, LEAD_DAYS) == threshold


def test_it_numbers_reminders_by_week():
    day = f.TODAY
    assert [reminder_number(day, day + datetime.timedelta(days=n), 7) for n in (-1, 0, 6, 7, 13, 14, 22)] == [
        0,
        0,
        0,
        1,
        1,
        2,
        3,
    ]


def test_it_backs_off_exponentially_up_to_a_cap():
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [retry_base_delay() * k for k in (1, 2, 4, 8)]
    assert retry_delay(30) == datetime.timedelta(hours=6)


# --- Expiry reminders -----------------------------------------------------------------------------------------


def test_it_sends_one_expiry_reminder_per_recipient_at_each_lead_time_day_by_day():
    world = make_world(expires_in=100)
    expires_on = world.agreement.expires_on
    sent_on: dict[int, list[str]] = {}
    for offset in range(0, 101):
        day = f.TODAY + datetime.timedelta(days=offset)
        run_rules(world, day)
        mail.outbox.clear()
        dispatch(day)
        if mail.outbox:
            sent_on[(expires_on - day).days] = recipients(mail.outbox)
    assert sorted(sent_on, reverse=True) == LEAD_DAYS
    assert all(addresses == sorted(world.expiry_recipients) for addresses in sent_on.values())
    assert Alert.objects.count() == len(LEAD_DAYS) * 3
    assert set(Alert.objects.values_list("status", flat=True)) == {SendStatus.SENT}


def test_it_sends_only_the_nearest_lead_time_for_a_baa_recorded_late():
    world = make_world(expires_in=20)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    assert set(Alert.objects.values_list("threshold", flat=True)) == {30}
    assert len(mail.outbox) == 3 and all("in 20 days" in message.subject for message in mail.outbox)


def test_it_reminds_before_the_notice_deadline_of_an_auto_renewing_baa():
    world = make_world(expires_in=300)
    world.agreement.expires_on = f.days(100)
    world.agreement.auto_renews = True
    world.agreement.renewal_term_months = 12
    world.agreement.renewal_notice_days = 60
    world.agreement.save()
    run_rules(world, f.TODAY)  # the notice deadline is in 40 days: the 60-day reminder is due

    dispatch(f.TODAY)

    assert set(Alert.objects.values_list("threshold", "due_on")) == {(60, f.days(40))}
    message = mail.outbox[0]
    assert message.subject.startswith("[Lakeside Imaging Network] Notice deadline for the BAA with Sectra PACS")
    assert f"in 40 days ({f.days(40):%Y-%m-%d})" in message.subject
    assert f"renews automatically on {f.days(100):%Y-%m-%d}" in message.body
    assert "Notice deadline: " in message.body


def test_it_does_not_repeat_a_reminder_when_the_finding_is_reopened_for_the_same_date():
    world = make_world(expires_in=30)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    successor = f.agreement(world.pacs, title="Sectra BAA 2027", status=AgreementStatus.DRAFT)
    successor.supersedes = world.agreement
    successor.status = AgreementStatus.EXECUTED
    successor.executed_on = successor.effective_on = f.TODAY
    successor.save()
    run_rules(world, f.TODAY)  # resolved: an executed successor supersedes it
    successor.status = AgreementStatus.TERMINATED
    successor.terminated_on = f.TODAY
    successor.save()
    run_rules(world, f.days(1))  # a new finding for the same agreement and expiry date
    assert Finding.objects.filter(kind=FindingKind.BAA_EXPIRING).count() == 2
    mail.outbox.clear()

    dispatch(f.days(1))

    assert mail.outbox == []


# --- Who gets what --------------------------------------------------------------------------------------------


def test_it_alerts_the_admins_and_officers_who_see_the_finding_and_have_an_email():
    world = make_world(expires_in=30)
    hospital_vendor = f.vendor(world.org, legal_name="Riverside Billing Co")
    f.engagement(hospital_vendor, world.hospital)
    run_rules(world, f.TODAY)

    dispatch(f.TODAY)

    by_finding = {
        kind: sorted(Alert.objects.filter(finding__kind=kind).values_list("recipient__username", flat=True))
        for kind in (FindingKind.BAA_EXPIRING, FindingKind.MISSING_BAA)
    }
    # The BAA covers the imaging center: the hospital's officer does not see it. The missing BAA is at the
    # hospital: the center's officer does not see it. Never the viewer, the officer without an email, the
    # deactivated officer or the other organization's admin.
    assert by_finding == {
        FindingKind.BAA_EXPIRING: ["ada", "cora", "olivia"],
        FindingKind.MISSING_BAA: ["ada", "hal", "olivia"],
    }
    assert len(mail.outbox) == 6


def test_it_follows_the_permission_gate_for_subcontractor_gaps():
    world = make_world()
    f.subcontractor_link(world.pacs, subcontractor=f.vendor(world.org, legal_name="Amazon Web Services"))
    run_rules(world, f.TODAY)

    dispatch(f.TODAY, daily=False)

    gap = Alert.objects.filter(kind=AlertKind.SUBCONTRACTOR_GAP)
    # Visible where the vendor is engaged (the imaging center): not to the hospital's officer.
    assert sorted(gap.values_list("recipient__username", flat=True)) == ["ada", "cora", "olivia"]
    subjects = {message.subject for message in mail.outbox}
    assert (
        "[Lakeside Imaging Network] No downstream BAA: Amazon Web Services, subcontractor of Sectra PACS Services"
        in (subjects)
    )


def test_it_leaves_out_kinds_a_recipient_turned_off():
    world = make_world(expires_in=30, missing=1)
    AlertPreference.objects.create(user=world.officer, expiry_reminders=False)
    run_rules(world, f.TODAY)

    dispatch(f.TODAY)

    kinds = set(Alert.objects.filter(recipient=world.officer).values_list("kind", flat=True))
    assert kinds == {AlertKind.MISSING_BAA}


def test_it_turns_everything_off_for_one_user_only():
    world = make_world()
    alert_preference_unsubscribe(user_id=world.officer.pk)
    assert AlertPreference.objects.get(user=world.officer).receives_nothing
    assert not AlertPreference.objects.filter(user=world.admin).exists()


# --- Missing BAAs: at once, then weekly ------------------------------------------------------------------------


def test_it_alerts_a_missing_baa_at_once_then_every_week_until_it_is_resolved():
    world = make_world(missing=1, expires_in=400)
    run_rules(world, f.TODAY)
    first_seen_on(f.TODAY)

    dispatch(f.TODAY, daily=False)  # the frequent run, minutes after the finding appeared
    assert recipients(mail.outbox) == sorted(world.expiry_recipients)
    assert all(message.subject.startswith("[Lakeside Imaging Network] Missing BAA: ") for message in mail.outbox)

    sent_on = {}
    for offset in range(1, 15):
        day = f.days(offset)
        run_rules(world, day)
        mail.outbox.clear()
        dispatch(day, daily=False)
        assert mail.outbox == []  # reminders wait for the daily run
        dispatch(day)
        if mail.outbox:
            sent_on[offset] = [message.subject for message in mail.outbox]
    assert sorted(sent_on) == [7, 14]
    assert all(subject.startswith("[Lakeside Imaging Network] Reminder: Missing BAA") for subject in sent_on[7])

    f.agreement(world.missing_vendors[0], title="Signed at last", executed_on=f.days(15))
    run_rules(world, f.days(15))
    mail.outbox.clear()
    dispatch(f.days(21))
    assert mail.outbox == []
    assert sorted(set(Alert.objects.values_list("threshold", flat=True))) == [0, 1, 2]


def test_it_alerts_a_checklist_review_that_fell_due():
    from checklists.models import ItemStatus
    from checklists.services import checklist_item_update
    from vendors.models import Engagement, VendorCategory
    from vendors.services import engagement_save

    world = make_world()
    telerad = f.vendor(world.org, legal_name="NightHawk Reads", category=VendorCategory.TELERADIOLOGY)
    f.agreement(telerad, title="NightHawk BAA", executed_on=f.days(-400))
    engagement = engagement_save(
        engagement=Engagement(
            vendor=telerad,
            facility=world.center,
            service_description="Overnight reads",
            status="active",
            phi_receives=True,
            phi_access_starts_on=f.days(-300),
        )
    )
    checklist_item_update(
        item=engagement.teleradiology_checklist.items.get(number=4),
        status=ItemStatus.COMPLETE,
        evidence_note="VPN and MFA checked",
        verified_by=world.officer,
        verified_on=f.days(-370),
        next_review_on=f.days(-5),
    )
    run_rules(world, f.TODAY)

    dispatch(f.TODAY, daily=False)

    subjects = [m.subject for m in mail.outbox if "checklist review" in m.subject]
    assert len(subjects) == 3
    assert subjects[0] == (
        "[Lakeside Imaging Network] Teleradiology checklist review due: NightHawk Reads at Lakeside Imaging Center "
        f"(since {f.days(-5):%Y-%m-%d})"
    )


def test_it_reminds_of_a_radiologist_license_on_the_license_calendar():
    """A license expiring in 100 days: one reminder per recipient 90, 60, 30, 14, 7 and 1 days before."""
    from vendors.models import VendorCategory

    world = make_world()
    telerad = f.vendor(world.org, legal_name="NightHawk Reads", category=VendorCategory.TELERADIOLOGY)
    person = f.radiologist(telerad, first_name="Grace", last_name="Hopper")
    license_ = f.state_license(person, "TX", expires_on=f.days(100), number="TX-42")
    sent_on: dict[int, list[str]] = {}
    for offset in range(0, 101):
        day = f.TODAY + datetime.timedelta(days=offset)
        run_rules(world, day)
        mail.outbox.clear()
        dispatch(day)
        licence_mail = [m for m in mail.outbox if "Radiologist credential expiring" in m.subject]
        if licence_mail:
            sent_on[(license_.expires_on - day).days] = recipients(licence_mail)
            assert "TX-42 of Grace Hopper" in licence_mail[0].body

    assert sorted(sent_on, reverse=True) == LEAD_DAYS
    alerts = Alert.objects.filter(kind=AlertKind.READER_CREDENTIAL)
    assert sorted(set(alerts.values_list("threshold", flat=True)), reverse=True) == LEAD_DAYS


# --- Exactly once ---------------------------------------------------------------------------------------------


def test_it_sends_nothing_the_second_time():
    world = make_world(expires_in=30, missing=2)
    run_rules(world, f.TODAY)
    first = dispatch(f.TODAY)
    second = dispatch(f.TODAY, now=at_seven(f.TODAY) + datetime.timedelta(minutes=1))
    assert (first.inserted, first.sent) == (9, 9)
    assert (second.inserted, second.sent, second.failed, second.skipped) == (0, 0, 0, 0)
    assert len(mail.outbox) == 9
    assert Counter(message.extra_headers["Message-ID"] for message in mail.outbox).most_common(1)[0][1] == 1


def test_it_plans_each_alert_once_even_if_planned_twice():
    world = make_world(missing=2)
    run_rules(world, f.TODAY)
    assert alerts_plan(as_of=f.TODAY) == 6
    assert alerts_plan(as_of=f.TODAY) == 0
    assert Alert.objects.count() == 6 and set(Alert.objects.values_list("status", flat=True)) == {"pending"}


def test_it_takes_over_a_claim_only_after_the_claim_timeout():
    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    claimed_at = at_seven(f.TODAY)
    dead = Alert.objects.filter(recipient=world.admin)
    dead.update(status=SendStatus.SENDING, claimed_at=claimed_at, attempts=1)  # a worker died mid-send

    dispatch(f.TODAY, now=claimed_at + claim_timeout() - datetime.timedelta(seconds=5))
    assert recipients(mail.outbox) == ["cora@example.org", "olivia@example.org"]
    assert dead.get().status == SendStatus.SENDING

    dispatch(f.TODAY, now=claimed_at + claim_timeout() + datetime.timedelta(seconds=5), daily=False)
    assert recipients(mail.outbox) == ["ada@example.org", "cora@example.org", "olivia@example.org"]
    assert (dead.get().status, dead.get().attempts) == (SendStatus.SENT, 2)


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, no except clause catches it."""


def test_it_resends_with_the_same_message_id_if_killed_between_acceptance_and_recording(smtp_settings, monkeypatch):
    """The instant where the outcome cannot be known: the server has accepted the email, the row is not
    yet marked sent. The message had been handed over, so the takeover of the claim makes the alert
    uncertain and resends it once, with the same Message-ID, so the copy is recognisable."""
    import alerts.services

    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    real_record_sent = alerts.services._record_sent

    def killed_after_acceptance(*args, **kwargs):
        raise WorkerKilled

    monkeypatch.setattr(alerts.services, "_record_sent", killed_after_acceptance)
    with pytest.raises(WorkerKilled):
        dispatch(f.TODAY)
    monkeypatch.setattr(alerts.services, "_record_sent", real_record_sent)
    assert Alert.objects.filter(status=SendStatus.SENDING).count() == 1
    assert len(smtp_settings.received) == 1

    dispatch(f.TODAY, now=at_seven(f.TODAY) + claim_timeout() + datetime.timedelta(minutes=1))

    counts = smtp_settings.count_by_message_id()
    assert sorted(counts.values()) == [1, 1, 2]  # the one caught in that instant arrived twice, same Message-ID
    assert set(Alert.objects.values_list("status", flat=True)) == {SendStatus.SENT}
    resent = Alert.objects.get(uncertain_at__isnull=False)
    assert resent.handed_over_at is not None and resent.attempts == 2


def test_it_skips_an_alert_whose_finding_was_resolved_before_it_went_out():
    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    f.agreement(world.missing_vendors[0], executed_on=f.days(-1))
    run_rules(world, f.TODAY)

    summary = dispatch(f.TODAY)

    assert mail.outbox == []
    assert (summary.sent, summary.skipped) == (0, 3)
    assert set(Alert.objects.values_list("status", "last_error")) == {
        (SendStatus.SKIPPED, "Not sent: the finding was resolved before the alert went out.")
    }


def test_it_skips_an_alert_whose_recipient_left_before_it_went_out():
    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    membership = world.officer.membership
    membership.role = Role.VIEWER
    membership.save()

    summary = dispatch(f.TODAY)

    assert (summary.sent, summary.skipped) == (2, 1)
    assert Alert.objects.get(recipient=world.officer).status == SendStatus.SKIPPED


# --- Digests --------------------------------------------------------------------------------------------------


def test_it_sends_one_digest_per_recipient_per_day_grouped_by_urgency():
    world = make_world(expires_in=30, missing=1)
    AlertPreference.objects.create(user=world.officer, delivery=DeliveryMode.DIGEST)
    run_rules(world, f.TODAY)

    dispatch(f.TODAY, daily=False)  # the frequent run: the officer's first alert waits for the digest
    assert "olivia@example.org" not in recipients(mail.outbox)
    dispatch(f.TODAY)
    dispatch(f.TODAY, now=at_seven(f.TODAY) + datetime.timedelta(hours=1))

    digests = [message for message in mail.outbox if message.to == ["olivia@example.org"]]
    assert len(digests) == 1
    digest = digests[0]
    assert digest.subject == (
        f"[Lakeside Imaging Network] BAA Tracker digest for {f.TODAY:%Y-%m-%d}: 2 items, 1 critical"
    )
    body = digest.body
    assert body.index("== Critical (1) ==") < body.index("Unsigned AI Tool 1") < body.index("== High (1) ==")
    assert body.index("== High (1) ==") < body.index("Sectra BAA 2024")
    html = digest.alternatives[0][0]
    assert html.index(">Critical (1)<") < html.index(">High (1)<")
    assert Digest.objects.get().alerts.count() == 2
    assert set(Alert.objects.filter(recipient=world.officer).values_list("status", flat=True)) == {SendStatus.SENT}


def test_it_carries_alerts_that_came_after_the_days_digest_to_the_next_one():
    world = make_world(missing=1)
    AlertPreference.objects.create(user=world.officer, delivery=DeliveryMode.DIGEST)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    late = f.vendor(world.org, legal_name="Late Vendor")
    f.engagement(late, world.center)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY, daily=False, now=at_seven(f.TODAY) + datetime.timedelta(hours=5))
    dispatch(f.TODAY, now=at_seven(f.TODAY) + datetime.timedelta(hours=6))  # the day's digest is gone
    assert Digest.objects.count() == 1

    dispatch(f.days(1))

    digests = [message for message in mail.outbox if message.to == ["olivia@example.org"]]
    assert len(digests) == 2 and "Late Vendor" in digests[1].body and "Unsigned AI Tool 1" not in digests[1].body
    assert Digest.objects.get(day=f.days(1)).alerts.get().finding.vendor == late


# --- Failures, with the real SMTP server ----------------------------------------------------------------------


def test_it_marks_a_permanently_refused_address_and_does_not_retry_it(smtp_settings):
    world = make_world(missing=1)
    smtp_settings.handler.refuse.add(world.officer.email)
    run_rules(world, f.TODAY)

    summary = dispatch(f.TODAY)

    refused = Alert.objects.get(recipient=world.officer)
    assert refused.status == SendStatus.REFUSED and refused.next_attempt_at is None
    assert "550" in refused.last_error and "User unknown" in refused.last_error
    assert (summary.sent, summary.refused, summary.failed, summary.deferred) == (2, 1, 0, 0)
    assert len(smtp_settings.received) == 2
    dispatch(f.TODAY, now=at_seven(f.TODAY) + datetime.timedelta(days=1), daily=False)
    assert Alert.objects.get(recipient=world.officer).attempts == 1


def test_it_retries_with_backoff_while_the_server_is_down_then_gives_up(smtp_settings):
    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    smtp_settings.stop()
    now = at_seven(f.TODAY)
    alert = Alert.objects.filter(recipient=world.admin)

    dispatch(f.TODAY, now=now)
    first = alert.get()
    assert first.status == SendStatus.RETRYING and "Connection refused" in first.last_error
    waits = []
    for _ in range(MAX_ATTEMPTS - 1):
        current = alert.get()
        waits.append(current.next_attempt_at - now)
        now = current.next_attempt_at
        dispatch(f.TODAY, now=now, daily=False)
    # (each wait also holds the milliseconds the attempt itself took)
    assert [round(wait / retry_base_delay()) for wait in waits[:4]] == [1, 2, 4, 8]
    final = alert.get()
    assert final.status == SendStatus.FAILED and final.attempts == MAX_ATTEMPTS
    assert final.last_error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts.")

    smtp_settings.start()
    retried = alert_retry(alert=final, now=now)
    assert (retried.status, retried.attempts) == (SendStatus.RETRYING, 0)
    dispatch(f.TODAY, now=now, daily=False)
    assert alert.get().status == SendStatus.SENT
    assert len(smtp_settings.to(world.admin.email)) == 1


def test_it_gives_a_failed_digest_s_outcome_to_its_alerts(smtp_settings):
    world = make_world(expires_in=30, missing=1)
    AlertPreference.objects.create(user=world.officer, delivery=DeliveryMode.DIGEST)
    smtp_settings.handler.refuse.add(world.officer.email)
    run_rules(world, f.TODAY)

    dispatch(f.TODAY)

    assert Digest.objects.get().status == SendStatus.REFUSED
    assert set(Alert.objects.filter(recipient=world.officer).values_list("status", flat=True)) == {SendStatus.REFUSED}


# --- Bounded queries ------------------------------------------------------------------------------------------


def _queries(callable_) -> int:
    with CaptureQueriesContext(connection) as context:
        callable_()
    return len(context.captured_queries)


def test_it_plans_with_a_number_of_queries_that_does_not_grow_with_the_findings():
    def plan_for(missing: int, suffix: str) -> int:
        world = make_world(missing=missing, expires_in=30, suffix=suffix)
        f.user(world.org, role=Role.COMPLIANCE_OFFICER, facilities=[world.center, world.hospital])
        run_rules(world, f.TODAY)
        return _queries(lambda: alerts_plan(as_of=f.TODAY, organization_id=world.org.pk))

    assert plan_for(1, "-a") == plan_for(8, "-b")
    assert Alert.objects.count() == 4 * 2 + 4 * 9


def test_it_sends_with_a_fixed_number_of_queries_per_email():
    def run_for(missing: int, suffix: str) -> tuple[int, int]:
        world = make_world(missing=missing, suffix=suffix)
        run_rules(world, f.TODAY)
        alerts_plan(as_of=f.TODAY, organization_id=world.org.pk)
        count = _queries(lambda: alerts_dispatch(as_of=f.TODAY, now=at_seven(f.TODAY), organization_id=world.org.pk))
        return count, Alert.objects.filter(organization=world.org, status=SendStatus.SENT).count()

    small_queries, small_sent = run_for(1, "-a")
    big_queries, big_sent = run_for(5, "-b")
    assert (small_sent, big_sent) == (3, 15)
    # Claiming and recording: two statements per email; everything else is fixed.
    assert big_queries - small_queries == 2 * (big_sent - small_sent)
    assert DispatchRun.objects.filter(finished_at__isnull=False).count() == 2


def test_it_forgets_idle_frequent_runs_after_a_month():
    from django.utils import timezone

    long_ago = timezone.now() - datetime.timedelta(days=31)
    idle = DispatchRun.objects.create(as_of=f.TODAY, daily=False, started_at=long_ago, finished_at=long_ago)
    busy = DispatchRun.objects.create(as_of=f.TODAY, daily=False, started_at=long_ago, finished_at=long_ago, sent=2)
    recent = DispatchRun.objects.create(
        as_of=f.TODAY, daily=False, started_at=timezone.now(), finished_at=timezone.now()
    )

    dispatch(f.TODAY, daily=False)
    assert DispatchRun.objects.filter(pk=idle.pk).exists()  # only the daily run tidies up
    dispatch(f.TODAY)

    assert not DispatchRun.objects.filter(pk=idle.pk).exists()
    assert DispatchRun.objects.filter(pk__in=[busy.pk, recent.pk]).count() == 2


# --- What an error means: this message, or the connection ----------------------------------------------------


@pytest.mark.parametrize(
    ("error", "handed_over", "expected"),
    [
        # Errors of one message: that email is refused (5xx) or retried (4xx); the run goes on.
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"User unknown")}), False, ("refused", False)),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (452, b"Mailbox full")}), False, ("retrying", False)),
        (smtplib.SMTPSenderRefused(552, b"5.3.4 Message size exceeds limit", "from@x"), False, ("refused", False)),
        (smtplib.SMTPDataError(554, b"5.7.1 Rejected as spam"), True, ("refused", False)),
        (smtplib.SMTPDataError(552, b"5.3.4 Message too big"), True, ("refused", False)),
        (smtplib.SMTPDataError(451, b"4.3.0 Try again later"), True, ("retrying", False)),
        (ValueError('Invalid address "ada@@example.org"'), False, ("refused", False)),
        (smtplib.SMTPNotSupportedError("SMTPUTF8 not supported"), False, ("refused", False)),
        (KeyError("a bug while building this one message"), False, ("retrying", False)),
        # After the content was handed over, no answer: the server may have it.
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True, ("uncertain", False)),
        (TimeoutError("timed out"), True, ("uncertain", False)),
        # The connection itself: the others are deferred.
        (ConnectionRefusedError(111, "Connection refused"), False, ("retrying", True)),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False, ("retrying", True)),
        (TimeoutError("timed out"), False, ("retrying", True)),
        (smtplib.SMTPAuthenticationError(535, b"Authentication failed"), False, ("retrying", True)),
        (smtplib.SMTPSenderRefused(553, b"Sender not allowed", "from@x"), False, ("retrying", True)),
        (smtplib.SMTPDataError(421, b"Service not available, closing channel"), True, ("retrying", True)),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_it_classifies_an_error_per_message_or_per_connection(error, handed_over, expected):
    outcome = classify_error(error, handed_over=handed_over)
    assert (outcome.status, outcome.server_unreachable) == expected
    assert type(error).__name__ in outcome.error


def test_it_resends_an_uncertain_email_once_then_stops():
    from alerts.services import _failure_update, _Outcome

    now = at_seven(f.TODAY)
    unknown = _Outcome(SendStatus.UNCERTAIN, "SMTPServerDisconnected: Connection unexpectedly closed")
    first = _failure_update(unknown, 1, None, now, "a@example.org")
    assert (first["status"], first["uncertain_at"], first["next_attempt_at"]) == (
        SendStatus.UNCERTAIN,
        now,
        now + retry_base_delay(),
    )
    again = _failure_update(unknown, 2, now, now, "a@example.org")
    assert (again["status"], again["next_attempt_at"]) == (SendStatus.UNCERTAIN, None)
    assert again["last_error"].startswith("Outcome unknown twice")
    # A connection failure before the hand-over of the resend: no copy made, the resend is still owed.
    down = _Outcome(SendStatus.RETRYING, "ConnectionRefusedError", server_unreachable=True)
    waiting = _failure_update(down, 2, now, now, "a@example.org")
    assert (waiting["status"], waiting["uncertain_at"]) == (SendStatus.UNCERTAIN, now)
    assert waiting["next_attempt_at"] is not None


def test_it_sends_the_deferred_emails_as_soon_as_the_server_answers_again(smtp_settings):
    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    smtp_settings.stop()
    down = dispatch(f.TODAY)
    assert (down.sent, down.failed, down.deferred) == (0, 1, 2)

    smtp_settings.start()
    late = f.vendor(world.org, legal_name="Late Vendor")
    f.engagement(late, world.center)
    run_rules(world, f.TODAY)
    back = dispatch(f.TODAY, now=at_seven(f.TODAY) + datetime.timedelta(minutes=1), daily=False)

    # The new finding's alerts go out, and with them the two deferred ones; the one that was tried
    # and failed waits for its backoff.
    assert (back.sent, back.failed, back.deferred) == (5, 0, 0)
    tried = Alert.objects.get(attempts=1, status=SendStatus.RETRYING)
    assert tried.next_attempt_at > at_seven(f.TODAY) + datetime.timedelta(minutes=1)
