"""Writes of the alerts app: plan the alerts that are due, send each exactly once, record every outcome.

The guarantees, and how they are kept:

* One alert per finding, threshold and recipient: a database unique constraint; planning inserts with
  ``ignore_conflicts``, so two runs at once, or a run repeated after a crash, plan nothing twice.
* The alert row is written BEFORE its email is sent (status ``pending``) and updated with the
  outcome: ``sent``; ``retrying`` with the error and the time of the next attempt (exponential
  backoff); ``refused`` when the server refuses the address for good (5xx); ``failed`` after
  MAX_ATTEMPTS; ``skipped`` when the finding was resolved, or the recipient no longer receives it,
  before it went out.
* Only one worker sends an email: it first claims the row with a conditional UPDATE (pending or due
  for retry -> sending, with a claim token and time). A claim older than CLAIM_TIMEOUT belongs to a
  worker that died between claiming and recording; the next run takes it over, so nothing is lost.
* The success is recorded by one autocommitted UPDATE right after the SMTP server accepts the
  message. A worker killed in the instant between the two sends that email again on the next run:
  at that instant the guarantee is at-least-once (everywhere else exactly-once), and the message
  keeps the same Message-ID at every attempt so that a duplicate is recognisable.

Time is an argument (``as_of``, ``now``) everywhere, so that tests and back-fills control it.
"""

from __future__ import annotations

import datetime
import logging
import smtplib
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, fields

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from alerts import emails
from alerts.models import (
    ALERT_KIND_OF_FINDING,
    LEAD_TIME_KINDS,
    PREFERENCE_FIELD,
    Alert,
    AlertKind,
    AlertPreference,
    DeliveryMode,
    Digest,
    DispatchRun,
    SendState,
    SendStatus,
)
from compliance.models import Finding
from organizations.models import Membership, Role

logger = logging.getLogger(__name__)

#: Roles that receive alerts: the people who fix the findings.
ALERT_ROLES = (Role.ADMIN, Role.COMPLIANCE_OFFICER)
#: A claim older than this belongs to a worker that died: the next run takes the email over. Longer
#: than one SMTP exchange can take (EMAIL_TIMEOUT, 30 s by default), so a live worker keeps its claim.
CLAIM_TIMEOUT = datetime.timedelta(minutes=10)
#: Exponential backoff after a failed attempt: 5 min, 10, 20, 40 ... at most 6 h between attempts.
RETRY_BASE_DELAY = datetime.timedelta(minutes=5)
RETRY_MAX_DELAY = datetime.timedelta(hours=6)
#: After this many attempts a failing email is given up ("failed"), and shown on the alerts page.
MAX_ATTEMPTS = 10
SEND_BATCH = 200
#: How long the log keeps the frequent runs that did nothing.
RUN_LOG_DAYS = datetime.timedelta(days=30)
_CHUNK = 1000
_ERROR_LENGTH = 2000


@dataclass
class DispatchSummary:
    planned: int = 0
    digests: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: DispatchSummary) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def retry_delay(attempts: int) -> datetime.timedelta:
    """The wait after the ``attempts``-th failed attempt: doubles each time, capped."""
    return min(RETRY_BASE_DELAY * 2 ** max(attempts - 1, 0), RETRY_MAX_DELAY)


# --- Planning: which alerts are due today, for whom ------------------------------------------------------


def expiry_threshold(days_left: int, lead_days: list[int]) -> int | None:
    """The lead time whose reminder is due with ``days_left`` to go: the smallest lead time that is not
    shorter. Only the nearest one: a BAA recorded 20 days before it expires gets the 30-day reminder,
    not the 90-, 60- and 30-day ones at once."""
    candidates = [lead for lead in lead_days if lead >= days_left]
    return min(candidates) if candidates else None


def reminder_number(first_seen_on: datetime.date, as_of: datetime.date, every_days: int) -> int:
    """0 on the day the finding appears (the first alert), then 1, 2, ... every ``every_days``."""
    return max(0, (as_of - first_seen_on).days // every_days)


def _alertable_findings(organization_id: int | None) -> QuerySet[Finding]:
    queryset = Finding.objects.open().filter(kind__in=list(ALERT_KIND_OF_FINDING))
    if organization_id is not None:
        queryset = queryset.for_organization(organization_id)
    return queryset


@dataclass(frozen=True)
class _Candidate:
    user_id: int
    email: str
    delivery: str
    preference: AlertPreference | None

    def wants(self, kind: str) -> bool:
        return self.preference is None or self.preference.wants(kind)


def _eligible_memberships(organization_ids: set[int], as_of: datetime.date) -> QuerySet[Membership]:
    """Active administrators and compliance officers with an email address (the active-membership rule of
    organizations.selectors.active_membership, on ``as_of``)."""
    return (
        Membership.objects.filter(organization_id__in=organization_ids, role__in=ALERT_ROLES, user__is_active=True)
        .exclude(user__email="")
        .filter(Q(access_expires_on__isnull=True) | Q(access_expires_on__gte=as_of))
    )


def alert_recipients(findings: list[dict], *, as_of: datetime.date) -> dict[int, list[_Candidate]]:
    """Who is told about each finding: the organization's active administrators and compliance officers
    who see it through the permission gate (organizations.querysets.restrict: a member limited to some
    facilities sees the findings of those facilities, and the agreement and subcontractor findings
    that concern them) and who have an email address.

    Set-based: one query for the members, one for their facility limits, and one per distinct set of
    limits (through the findings' own ``facility_scope``, the gate's rule), whatever the number of
    findings.
    """
    by_org: dict[int, list[dict]] = defaultdict(list)
    for row in findings:
        by_org[row["organization_id"]].append(row)
    if not by_org:
        return {}
    memberships = list(
        _eligible_memberships(set(by_org), as_of)
        .select_related("user", "user__alert_preference")
        .order_by("organization_id", "user_id")
    )
    through = Membership.facilities.through
    limits: dict[int, set[int]] = defaultdict(set)
    for membership_id, facility_id in through.objects.filter(membership_id__in=[m.pk for m in memberships]).values_list(
        "membership_id", "facility_id"
    ):
        limits[membership_id].add(facility_id)

    visible_by_limits: dict[tuple[int, frozenset[int]], set[int]] = {}
    result: dict[int, list[_Candidate]] = defaultdict(list)
    for membership in memberships:
        user = membership.user
        preference = getattr(user, "alert_preference", None)
        candidate = _Candidate(
            user_id=user.pk,
            email=user.email,
            delivery=preference.delivery if preference else DeliveryMode.IMMEDIATE,
            preference=preference,
        )
        org_findings = by_org[membership.organization_id]
        # The same rule as Membership.limited_facility_ids: admins, and members with no facility
        # listed, see every facility.
        facility_ids = None if membership.role == Role.ADMIN else limits.get(membership.pk) or None
        if facility_ids is None:
            visible = None
        else:
            key = (membership.organization_id, frozenset(facility_ids))
            if key not in visible_by_limits:
                scope = Finding.objects.all().facility_scope(sorted(facility_ids))
                visible_by_limits[key] = set(
                    _alertable_findings(membership.organization_id).filter(scope).values_list("pk", flat=True)
                )
            visible = visible_by_limits[key]
        for row in org_findings:
            if visible is None or row["pk"] in visible:
                result[row["pk"]].append(candidate)
    return result


def alerts_plan(*, as_of: datetime.date, organization_id: int | None = None, first_alerts_only: bool = False) -> int:
    """Write the alerts that are due on ``as_of`` (status pending), before anything is sent.

    Expiry reminders: an open baa_expiring finding (its date is the expiry date, or the notice deadline
    of an auto-renewing BAA) is due for the reminder of lead time L when it is L days away or less
    (settings.ALERT_LEAD_DAYS). Missing or lapsed BAAs, checklist reviews due and subcontractor gaps:
    a first alert as soon as the finding appears, then a reminder every
    settings.MISSING_BAA_REMINDER_DAYS until the finding is resolved. With ``first_alerts_only`` only
    the first alerts of new findings are planned (the frequent run; reminders wait for the daily one).

    Returns the number of alerts written; those already written (same finding, threshold and
    recipient) are left alone, by the database constraint.
    """
    lead_days = list(settings.ALERT_LEAD_DAYS)
    every_days = settings.MISSING_BAA_REMINDER_DAYS
    rows = list(
        _alertable_findings(organization_id).values(
            "pk", "kind", "organization_id", "agreement_id", "due_on", "first_seen_at"
        )
    )
    due: list[tuple[dict, str, int]] = []
    for row in rows:
        kind = ALERT_KIND_OF_FINDING[row["kind"]]
        if kind in LEAD_TIME_KINDS:
            if first_alerts_only or row["due_on"] is None:
                continue
            threshold = expiry_threshold((row["due_on"] - as_of).days, lead_days)
            if threshold is None:
                continue
        else:
            threshold = reminder_number(timezone.localdate(row["first_seen_at"]), as_of, every_days)
            if first_alerts_only and threshold > 0:
                continue
        due.append((row, kind, threshold))
    if not due:
        return 0

    recipients = alert_recipients([row for row, _, _ in due], as_of=as_of)
    thresholds = sorted({threshold for _, _, threshold in due})
    existing = set(
        Alert.objects.filter(finding__in=_alertable_findings(organization_id), threshold__in=thresholds).values_list(
            "finding_id", "threshold", "recipient_id"
        )
    )
    existing_expiry = set(
        Alert.objects.filter(kind=AlertKind.EXPIRY_REMINDER, agreement__isnull=False, threshold__in=thresholds)
        .filter(agreement__in=_alertable_findings(organization_id).values("agreement_id"))
        .values_list("agreement_id", "due_on", "threshold", "recipient_id")
    )
    new: list[Alert] = []
    for row, kind, threshold in due:
        is_expiry = kind == AlertKind.EXPIRY_REMINDER
        for candidate in recipients.get(row["pk"], []):
            if not candidate.wants(kind):
                continue
            if (row["pk"], threshold, candidate.user_id) in existing:
                continue
            if is_expiry and (row["agreement_id"], row["due_on"], threshold, candidate.user_id) in existing_expiry:
                continue
            new.append(
                Alert(
                    organization_id=row["organization_id"],
                    finding_id=row["pk"],
                    kind=kind,
                    threshold=threshold,
                    recipient_id=candidate.user_id,
                    email=candidate.email,
                    delivery=candidate.delivery,
                    agreement_id=row["agreement_id"] if is_expiry else None,
                    due_on=row["due_on"],
                    planned_on=as_of,
                )
            )
    # A deterministic order, so that two runs inserting the same rows at once never deadlock.
    new.sort(key=lambda alert: (alert.finding_id, alert.threshold, alert.recipient_id))
    Alert.objects.bulk_create(new, batch_size=_CHUNK, ignore_conflicts=True)
    return len(new)


def digests_prepare(*, as_of: datetime.date, organization_id: int | None = None) -> int:
    """Open today's digest for every recipient with alerts waiting for one (one per recipient per day,
    a database constraint). Alerts join a digest when it is claimed for sending (see _send_digest)."""
    waiting = Alert.objects.filter(
        delivery=DeliveryMode.DIGEST, digest__isnull=True, status=SendStatus.PENDING, planned_on__lte=as_of
    )
    if organization_id is not None:
        waiting = waiting.filter(organization_id=organization_id)
    pairs = set(waiting.values_list("recipient_id", "organization_id").distinct())
    if not pairs:
        return 0
    have = set(
        Digest.objects.filter(day=as_of, recipient_id__in=[user_id for user_id, _ in pairs]).values_list(
            "recipient_id", flat=True
        )
    )
    new = [
        Digest(recipient_id=user_id, organization_id=org_id, day=as_of)
        for user_id, org_id in sorted(pairs)
        if user_id not in have
    ]
    Digest.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


# --- Before sending: what is no longer worth sending ---------------------------------------------------


def _recipient_still_wants(as_of: datetime.date) -> Q:
    """The alert's recipient is still an active administrator or compliance officer of its organization
    with an email address, and has not turned this kind of alert off."""
    membership = Membership.objects.filter(
        user=OuterRef("recipient"), organization=OuterRef("organization"), role__in=ALERT_ROLES
    ).filter(Q(access_expires_on__isnull=True) | Q(access_expires_on__gte=as_of))
    turned_off = Q()
    for kind, field_name in PREFERENCE_FIELD.items():
        muted = AlertPreference.objects.filter(user=OuterRef("recipient"), **{field_name: False})
        turned_off |= Q(kind=kind) & Q(Exists(muted))
    return Q(recipient__is_active=True) & ~Q(recipient__email="") & Q(Exists(membership)) & ~turned_off


RESOLVED_BEFORE_SENDING = "Not sent: the finding was resolved before the alert went out."
RECIPIENT_LEFT = "Not sent: the recipient no longer receives this alert (role, access, address or preferences)."


def _skip_stale(queryset: QuerySet[Alert], as_of: datetime.date) -> int:
    """Mark skipped the alerts of ``queryset`` (still pending or retrying) not worth sending any more."""
    waiting = queryset.filter(status__in=(SendStatus.PENDING, SendStatus.RETRYING))
    skipped = waiting.filter(finding__resolved_at__isnull=False).update(
        status=SendStatus.SKIPPED, last_error=RESOLVED_BEFORE_SENDING, next_attempt_at=None
    )
    skipped += waiting.exclude(_recipient_still_wants(as_of)).update(
        status=SendStatus.SKIPPED, last_error=RECIPIENT_LEFT, next_attempt_at=None
    )
    return skipped


# --- Claiming and recording outcomes ------------------------------------------------------------------


class _Clock:
    """The run's time: ``now`` as given (tests control it), moving on with the real time the run takes,
    so that a long run never stamps a fresh claim with the time it started."""

    def __init__(self, now: datetime.datetime) -> None:
        self.start = now
        self._started = time.monotonic()

    def __call__(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=time.monotonic() - self._started)


def _claimable(now: datetime.datetime) -> Q:
    return (
        Q(status=SendStatus.PENDING)
        | Q(status=SendStatus.RETRYING, next_attempt_at__lte=now)
        | Q(status=SendStatus.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT)
    )


def _claim(model: type[SendState], pk: int, now: datetime.datetime) -> uuid.UUID | None:
    """Take one email for sending, or None if another worker has it (or it was dealt with meanwhile).

    One conditional UPDATE: of two workers claiming the same row at once, the database lets exactly
    one change it; the other's UPDATE matches no row any more.
    """
    token = uuid.uuid4()
    claimed = (
        model.objects.filter(pk=pk)
        .filter(_claimable(now))
        .update(status=SendStatus.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1)
    )
    return token if claimed else None


def _sent_update(now: datetime.datetime, email: str) -> dict[str, object]:
    return {
        "status": SendStatus.SENT,
        "sent_at": now,
        "email": email,
        "last_error": "",
        "next_attempt_at": None,
    }


def _record_sent(model: type[SendState], pk: int, now: datetime.datetime, email: str) -> None:
    # Not conditional on the claim: the server has accepted the message, so this is the truth even if a
    # worker took the claim over meanwhile (it would only do so after CLAIM_TIMEOUT).
    model.objects.filter(pk=pk).exclude(status=SendStatus.SENT).update(claim_token=None, **_sent_update(now, email))


def _failure_update(status: str, error: str, attempts: int, now: datetime.datetime, email: str) -> dict[str, object]:
    if status == SendStatus.RETRYING and attempts >= MAX_ATTEMPTS:
        status = SendStatus.FAILED
        error = f"Gave up after {attempts} attempts. {error}"
    return {
        "status": status,
        "last_error": error[:_ERROR_LENGTH],
        "next_attempt_at": now + retry_delay(attempts) if status == SendStatus.RETRYING else None,
        "email": email,
    }


def _record_failure(
    model: type[SendState], pk: int, token: uuid.UUID, now: datetime.datetime, outcome: _Outcome, email: str
) -> dict[str, object]:
    attempts = model.objects.filter(pk=pk).values_list("attempts", flat=True).first() or 1
    update = _failure_update(outcome.status, outcome.error, attempts, now, email)
    # Conditional on the claim: never overwrite what a worker that took over has recorded since.
    model.objects.filter(pk=pk, claim_token=token, status=SendStatus.SENDING).update(claim_token=None, **update)
    return update


def _defer_unreachable(queryset: QuerySet, now: datetime.datetime, error: str) -> int:
    """The mail server cannot be reached: record that on the other emails due now, without trying each
    (every try would wait for the connection timeout), and try them again after the first delay."""
    return (
        queryset.filter(_claimable(now))
        .exclude(status=SendStatus.SENDING)
        .update(
            status=SendStatus.RETRYING,
            last_error=f"Not attempted: the mail server could not be reached ({error})"[:_ERROR_LENGTH],
            next_attempt_at=now + RETRY_BASE_DELAY,
        )
    )


@dataclass(frozen=True)
class _Outcome:
    status: str
    error: str
    server_unreachable: bool = False


def classify_error(exc: Exception) -> _Outcome:
    """What a sending error means: a recipient refused for good (5xx), or something to retry later."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            return _Outcome(SendStatus.REFUSED, text)
        return _Outcome(SendStatus.RETRYING, text)
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return _Outcome(SendStatus.RETRYING, text)
    # Could not connect, the connection broke, the greeting or the login failed: the server, not the
    # message, is the problem.
    return _Outcome(SendStatus.RETRYING, text, server_unreachable=True)


# --- Sending --------------------------------------------------------------------------------------------


def _recipients_info(user_ids: set[int]) -> dict[int, emails.Recipient]:
    """Each recipient's role and facilities, for the "why you get this" line: two queries."""
    memberships = Membership.objects.filter(user_id__in=user_ids).select_related("user").prefetch_related("facilities")
    info = {}
    for membership in memberships:
        names = tuple(sorted(f.name for f in membership.facilities.all()))
        limited = membership.role != Role.ADMIN and bool(names)
        user = membership.user
        info[user.pk] = emails.Recipient(
            name=user.get_full_name() or user.get_username(),
            role_label=membership.get_role_display(),
            facility_names=names if limited else None,
        )
    return info


def _alerts_with_content(queryset: QuerySet[Alert]) -> QuerySet[Alert]:
    from facilities.models import Facility

    return queryset.select_related(
        "organization",
        "recipient",
        "finding",
        "finding__vendor",
        "finding__facility",
        "finding__agreement",
        "finding__subcontractor_link__subcontractor",
    ).prefetch_related(Prefetch("finding__agreement__covered_facilities", queryset=Facility.objects.order_by("name")))


class _Sender:
    """One connection to the mail server for the run, reopened after a failure."""

    def __init__(self) -> None:
        self.connection = get_connection()

    def send(self, message) -> None:
        self.connection.open()  # kept open for the next message (send_messages closes what it opened)
        self.connection.send_messages([message])

    def reset(self) -> None:
        self.close()
        self.connection = get_connection()

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # a broken connection may fail to close; a new one is opened next time
            logger.debug("closing the mail connection failed", exc_info=True)


def _scoped(queryset: QuerySet, organization_id: int | None) -> QuerySet:
    return queryset if organization_id is None else queryset.filter(organization_id=organization_id)


def _send_immediate_alerts(
    sender: _Sender, clock: _Clock, *, as_of: datetime.date, organization_id: int | None
) -> DispatchSummary:
    summary = DispatchSummary()
    base = _scoped(Alert.objects.filter(delivery=DeliveryMode.IMMEDIATE), organization_id)
    seen: set[int] = set()
    while True:
        candidates = _alerts_with_content(base.filter(_claimable(clock())).order_by("pk")[:SEND_BATCH])
        batch = [alert for alert in candidates if alert.pk not in seen]
        if not batch:
            return summary
        seen.update(alert.pk for alert in batch)
        info = _recipients_info({alert.recipient_id for alert in batch})
        for alert in batch:
            token = _claim(Alert, alert.pk, clock())
            if token is None:
                continue  # another worker has it, or has sent it
            recipient, to = info.get(alert.recipient_id), alert.recipient.email
            if recipient is None or not to:
                Alert.objects.filter(pk=alert.pk, claim_token=token).update(
                    status=SendStatus.SKIPPED, last_error=RECIPIENT_LEFT, claim_token=None
                )
                summary.skipped += 1
                continue
            message = emails.alert_message(
                alert, to=to, recipient=recipient, organization_name=alert.organization.name, as_of=as_of
            )
            try:
                sender.send(message)
            except Exception as exc:
                outcome = classify_error(exc)
                logger.warning("alert %s to %s failed: %s", alert.pk, to, outcome.error)
                _record_failure(Alert, alert.pk, token, clock(), outcome, to)
                summary.failed += 1
                sender.reset()
                if outcome.server_unreachable:
                    summary.failed += _defer_unreachable(base, clock(), outcome.error)
                    return summary
                continue
            _record_sent(Alert, alert.pk, clock(), to)
            summary.sent += 1


def _send_digests(
    sender: _Sender, clock: _Clock, *, as_of: datetime.date, organization_id: int | None
) -> DispatchSummary:
    summary = DispatchSummary()
    base = _scoped(Digest.objects.all(), organization_id)
    candidates = list(base.filter(_claimable(clock())).select_related("organization", "recipient").order_by("pk"))
    info = _recipients_info({digest.recipient_id for digest in candidates}) if candidates else {}
    for digest in candidates:
        token = _claim(Digest, digest.pk, clock())
        if token is None:
            continue
        outcome = _send_digest(
            sender, clock, digest, token, info.get(digest.recipient_id), as_of=as_of, summary=summary
        )
        if outcome is not None and outcome.server_unreachable:
            _defer_unreachable(base, clock(), outcome.error)
            break
    return summary


def _send_digest(
    sender: _Sender,
    clock: _Clock,
    digest: Digest,
    token: uuid.UUID,
    recipient: emails.Recipient | None,
    *,
    as_of: datetime.date,
    summary: DispatchSummary,
) -> _Outcome | None:
    """Send one claimed digest: attach the recipient's waiting alerts, leave out those no longer worth
    sending, send, and give every alert in it the digest's outcome. Returns the failure, if any."""
    Alert.objects.filter(
        recipient_id=digest.recipient_id,
        delivery=DeliveryMode.DIGEST,
        digest__isnull=True,
        status=SendStatus.PENDING,
        planned_on__lte=digest.day,
    ).update(digest=digest)
    in_digest = Alert.objects.filter(digest=digest)
    summary.skipped += _skip_stale(in_digest, as_of)
    alerts = list(
        _alerts_with_content(in_digest.filter(status__in=(SendStatus.PENDING, SendStatus.RETRYING))).order_by("pk")
    )
    ids = [alert.pk for alert in alerts]
    to = digest.recipient.email
    if not alerts or recipient is None or not to:
        with transaction.atomic():
            Digest.objects.filter(pk=digest.pk, claim_token=token).update(
                status=SendStatus.SKIPPED,
                last_error="Not sent: nothing left to send." if not alerts else RECIPIENT_LEFT,
                claim_token=None,
            )
            summary.skipped += Alert.objects.filter(pk__in=ids).update(
                status=SendStatus.SKIPPED, last_error=RECIPIENT_LEFT
            )
        return None
    message = emails.digest_message(
        digest, alerts, to=to, recipient=recipient, organization_name=digest.organization.name, as_of=as_of
    )
    try:
        sender.send(message)
    except Exception as exc:
        outcome = classify_error(exc)
        logger.warning("digest %s to %s failed: %s", digest.pk, to, outcome.error)
        with transaction.atomic():
            update = _record_failure(Digest, digest.pk, token, clock(), outcome, to)
            Alert.objects.filter(pk__in=ids).exclude(status=SendStatus.SENT).update(**update)
        summary.failed += len(ids)
        sender.reset()
        return outcome
    with transaction.atomic():
        _record_sent(Digest, digest.pk, clock(), to)
        Alert.objects.filter(pk__in=ids).exclude(status=SendStatus.SENT).update(**_sent_update(clock(), to))
    summary.sent += len(ids)
    return None


# --- The run --------------------------------------------------------------------------------------------


def alerts_dispatch(
    *,
    as_of: datetime.date | None = None,
    now: datetime.datetime | None = None,
    organization_id: int | None = None,
    daily: bool = True,
) -> DispatchSummary:
    """Plan what is due and send it: the daily run (every reminder, and the digests), or the frequent
    run (``daily=False``: first alerts of new findings, retries, and emails of a run that died).

    Safe to run twice, or twice at once: see the module docstring. Counts are of alerts (a digest
    counts the alerts it carries).
    """
    clock = _Clock(now or timezone.now())
    as_of = as_of or timezone.localdate(clock.start)
    run = DispatchRun.objects.create(
        organization_id=organization_id, as_of=as_of, daily=daily, started_at=timezone.now()
    )
    summary = DispatchSummary()
    summary.planned = alerts_plan(as_of=as_of, organization_id=organization_id, first_alerts_only=not daily)
    if daily:
        summary.digests = digests_prepare(as_of=as_of, organization_id=organization_id)
        # The frequent run's log of runs that found nothing to do is noise after a while.
        DispatchRun.objects.filter(
            daily=False, finished_at__lt=timezone.now() - RUN_LOG_DAYS, planned=0, sent=0, failed=0, skipped=0
        ).delete()
    not_in_a_digest = Q(delivery=DeliveryMode.IMMEDIATE) | Q(digest__isnull=True)
    summary.skipped += _skip_stale(_scoped(Alert.objects.filter(not_in_a_digest), organization_id), as_of)
    sender = _Sender()
    try:
        summary.add(_send_immediate_alerts(sender, clock, as_of=as_of, organization_id=organization_id))
        summary.add(_send_digests(sender, clock, as_of=as_of, organization_id=organization_id))
    finally:
        sender.close()
    DispatchRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        planned=summary.planned,
        sent=summary.sent,
        failed=summary.failed,
        skipped=summary.skipped,
    )
    logger.info("alerts dispatched for %s: %s", as_of, summary.as_dict())
    return summary


def schedule_alert_sending(*, organization_id: int) -> None:
    """Send the organization's due alerts in the background once the current transaction commits."""
    from alerts.tasks import send_pending_alerts

    transaction.on_commit(lambda: send_pending_alerts.delay(organization_id=organization_id))


# --- People's choices -------------------------------------------------------------------------------------


def alert_preference_for(user) -> AlertPreference:
    """The user's preferences, or the defaults (every kind, immediately) without saving them."""
    try:
        return user.alert_preference
    except AlertPreference.DoesNotExist:
        return AlertPreference(user=user)


def alert_preference_update(
    *,
    user,
    delivery: str,
    expiry_reminders: bool,
    missing_baa: bool,
    checklist_reviews: bool,
    subcontractor_gaps: bool,
    reader_credentials: bool = True,
) -> AlertPreference:
    preference = alert_preference_for(user)
    preference.delivery = delivery
    preference.expiry_reminders = expiry_reminders
    preference.missing_baa = missing_baa
    preference.checklist_reviews = checklist_reviews
    preference.subcontractor_gaps = subcontractor_gaps
    preference.reader_credentials = reader_credentials
    preference.full_clean()
    preference.save()
    return preference


def alert_preference_unsubscribe(*, user_id: int) -> AlertPreference | None:
    """Turn every kind of alert off for this one user (the unsubscribe link). None if the user is gone."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return None
    preference = alert_preference_for(user)
    return alert_preference_update(
        user=user,
        delivery=preference.delivery,
        expiry_reminders=False,
        missing_baa=False,
        checklist_reviews=False,
        subcontractor_gaps=False,
        reader_credentials=False,
    )


def alert_retry(*, alert: Alert, now: datetime.datetime | None = None) -> Alert:
    """Try a failed or refused alert again at once (e.g. after the address was corrected).

    A digest alert goes out with its digest: the digest is retried, with every failed alert in it.
    """
    now = now or timezone.now()
    retryable = (SendStatus.RETRYING, SendStatus.FAILED, SendStatus.REFUSED)
    if alert.status not in retryable:
        raise ValidationError(f"Only a failed alert can be retried; this one is {alert.get_status_display().lower()}.")
    again = {"status": SendStatus.RETRYING, "next_attempt_at": now, "attempts": 0}
    with transaction.atomic():
        if alert.digest_id:
            Digest.objects.filter(pk=alert.digest_id, status__in=retryable).update(**again)
            Alert.objects.filter(digest_id=alert.digest_id, status__in=retryable).update(**again)
        else:
            Alert.objects.filter(pk=alert.pk, status__in=retryable).update(**again)
        schedule_alert_sending(organization_id=alert.organization_id)
    alert.refresh_from_db()
    return alert
