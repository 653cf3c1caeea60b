"""Writes of the alerts app: plan the alerts that are due, send each one, record every outcome.

Delivery semantics (also in README.md, "Alert delivery"):

* One alert per finding, threshold and recipient: a database unique constraint; planning inserts with
  ``ignore_conflicts``, so two runs at once, or a run repeated after a crash, plan nothing twice. Each
  row records the run that inserted it, so a run's ``inserted`` count is of its own rows.
* The alert row is written BEFORE its email is sent (status ``pending``) and updated with the outcome
  after (healthchecks' sendalerts does the same).
* Only one worker sends an email: it claims the row with a conditional UPDATE (due -> ``sending``, with
  a claim token and time). A claim older than settings.ALERT_CLAIM_TIMEOUT (derived from the SMTP
  timeout) belongs to a worker that died; the next run takes it over.
* Errors are classified per message, not per run. An error that belongs to one message (the address
  is unparseable, the server refuses that recipient or that message for good with a 5xx, the message
  is too large) makes that email ``refused``, with the server's reason, and the run goes on with the
  next one. A passing error of one message (4xx) makes it ``retrying`` with exponential backoff
  (settings.ALERT_RETRY_SECONDS, doubling, ``failed`` after MAX_ATTEMPTS). Only a connection-level
  failure (cannot connect, greeting or login refused, the connection broke before the message was
  handed over) defers the emails not yet tried, without trying each; the task then runs again when
  their backoff ends (alerts.tasks), within minutes, not at the next beat tick.
* Exactly once where SMTP can tell, at most twice where it cannot. Just before the message content is
  handed to the server (after its "354 go ahead"), ``handed_over_at`` is written. If the outcome
  cannot be known after that (timeout or dropped connection before the final reply, or the worker
  killed between the server's acceptance and the record of it), the email is ``uncertain``: the
  server may have it. An uncertain email is resent once, after the backoff, with the same
  Message-ID so that the second copy is recognisable; if that resend is uncertain too, nothing more
  is sent and the alerts page shows it to the officer, who may resend it by hand. So an alert
  arrives at most twice, and twice only where an outcome was uncertain; never the 10 copies of 10
  retries. A worker killed before the hand-over has certainly not delivered: its claim is taken
  over as a plain retry.
* A database error in the middle of a run: the record of a success is retried once on a new
  connection (so what the server accepted stays sent); otherwise the task fails and Celery retries
  it with backoff (alerts.tasks). Emails already recorded stay recorded.
* ``skipped`` when the finding was resolved, or the recipient no longer receives it, before it went
  out.

Time is an argument (``as_of``, ``now``) everywhere, so that tests and back-fills control it.
"""

from __future__ import annotations

import datetime
import email.errors
import logging
import smtplib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.mail.backends import smtp as smtp_backend
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Case, Exists, F, Min, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from alerts import emails
from alerts.models import (
    ALERT_KIND_OF_FINDING,
    LEAD_TIME_KINDS,
    PREFERENCE_FIELD,
    VENDOR_CONTACT_KINDS,
    Alert,
    AlertKind,
    AlertPreference,
    DeliveryMode,
    Digest,
    DispatchRun,
    SendState,
    SendStatus,
    VendorContactPreference,
)
from compliance.models import Finding
from organizations.models import Membership, Role, access_in_force_q

logger = logging.getLogger(__name__)

#: Roles that receive alerts: the people who fix the findings.
ALERT_ROLES = (Role.ADMIN, Role.COMPLIANCE_OFFICER)
#: Exponential backoff after a failed attempt (settings.ALERT_RETRY_SECONDS, 5 min by default, then
#: 10, 20, 40 ...), at most 6 h between attempts.
RETRY_MAX_DELAY = datetime.timedelta(hours=6)
#: After this many attempts a failing email is given up ("failed"), and shown on the alerts page.
MAX_ATTEMPTS = 10
SEND_BATCH = 200
#: How long the log keeps the frequent runs that did nothing.
RUN_LOG_DAYS = datetime.timedelta(days=30)
_CHUNK = 1000
_ERROR_LENGTH = 2000


def claim_timeout() -> datetime.timedelta:
    """A claim older than this belongs to a worker that died (settings.ALERT_CLAIM_TIMEOUT)."""
    return datetime.timedelta(seconds=settings.ALERT_CLAIM_TIMEOUT)


def retry_base_delay() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.ALERT_RETRY_SECONDS)


#: The counters of a run, in the order the command and the alerts page show them.
COUNTERS = ("inserted", "sent", "refused", "uncertain", "deferred", "failed", "skipped")


@dataclass
class DispatchSummary:
    """What a run did, counted in alerts (a digest counts the alerts it carries); see DispatchRun."""

    inserted: int = 0
    digests: int = 0
    sent: int = 0
    refused: int = 0
    uncertain: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    #: When something becomes due again (a retry, an uncertain resend, a claim that may be stale), in
    #: the run's time; alerts.tasks runs the dispatch again then if it is soon.
    next_check_at: datetime.datetime | None = field(default=None, compare=False)
    finished_at: datetime.datetime | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.type == "int"}

    def add(self, other: DispatchSummary) -> None:
        for f in fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def count(self, status: str, alerts: int = 1) -> None:
        """Count the outcome of one attempt carrying ``alerts`` alerts."""
        name = {
            SendStatus.SENT: "sent",
            SendStatus.REFUSED: "refused",
            SendStatus.UNCERTAIN: "uncertain",
            SendStatus.SKIPPED: "skipped",
        }.get(status, "failed")
        setattr(self, name, getattr(self, name) + alerts)


def retry_delay(attempts: int) -> datetime.timedelta:
    """The wait after the ``attempts``-th failed attempt: doubles each time, capped."""
    return min(retry_base_delay() * 2 ** max(attempts - 1, 0), RETRY_MAX_DELAY)


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
        .filter(access_in_force_q(as_of))
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


def vendor_contacts(vendor_ids: set[int]) -> dict[int, str]:
    """The contact address of each of these vendors whose contact receives the credential reminders
    (it has an address, and neither an officer nor the contact turned them off): one query, none
    without vendors."""
    from vendors.models import Vendor

    if not vendor_ids:
        return {}
    vendors = Vendor.objects.filter(pk__in=vendor_ids).exclude(contact_email="").exclude(_contact_turned_off())
    return dict(vendors.values_list("pk", "contact_email"))


def _contact_turned_off(vendor: str = "pk") -> Q:
    muted = VendorContactPreference.objects.filter(vendor=OuterRef(vendor), credential_reminders=False)
    return Q(Exists(muted))


def alerts_plan(
    *,
    as_of: datetime.date,
    organization_id: int | None = None,
    first_alerts_only: bool = False,
    run: DispatchRun | None = None,
) -> int:
    """Write the alerts that are due on ``as_of`` (status pending), before anything is sent.

    Expiry reminders: an open baa_expiring finding (its date is the expiry date, or the notice deadline
    of an auto-renewing BAA) is due for the reminder of lead time L when it is L days away or less
    (settings.ALERT_LEAD_DAYS). Missing or lapsed BAAs, checklist reviews due and subcontractor gaps:
    a first alert as soon as the finding appears, then a reminder every
    settings.MISSING_BAA_REMINDER_DAYS until the finding is resolved. With ``first_alerts_only`` only
    the first alerts of new findings are planned (the frequent run; reminders wait for the daily one).
    The reader credential reminders (VENDOR_CONTACT_KINDS) also go to the contact of the radiologist's
    vendor, at the same thresholds, unless the vendor has no contact address or it was turned off
    (vendor_contacts).

    Those already written (same finding, threshold and recipient) are left alone, by the database
    constraint, also when a concurrent run writes them first. Returns the number of rows this call
    inserted when it is given its ``run`` (each row records the run that inserted it; one more query),
    otherwise the number it tried to insert.
    """
    lead_days = list(settings.ALERT_LEAD_DAYS)
    every_days = settings.MISSING_BAA_REMINDER_DAYS
    rows = list(
        _alertable_findings(organization_id).values(
            "pk", "kind", "organization_id", "agreement_id", "vendor_id", "due_on", "first_seen_at"
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
    existing: set[tuple[int, int, int]] = set()
    existing_vendor: set[tuple[int, int]] = set()
    for finding_id, threshold, user_id, vendor_id in Alert.objects.filter(
        finding__in=_alertable_findings(organization_id), threshold__in=thresholds
    ).values_list("finding_id", "threshold", "recipient_id", "vendor_contact_id"):
        if vendor_id is None:
            existing.add((finding_id, threshold, user_id))
        else:
            existing_vendor.add((finding_id, threshold))
    contacts = vendor_contacts({row["vendor_id"] for row, kind, _ in due if kind in VENDOR_CONTACT_KINDS})
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
                    planned_by=run,
                )
            )
        contact = contacts.get(row["vendor_id"]) if kind in VENDOR_CONTACT_KINDS else None
        if contact and (row["pk"], threshold) not in existing_vendor:
            new.append(
                Alert(
                    organization_id=row["organization_id"],
                    finding_id=row["pk"],
                    kind=kind,
                    threshold=threshold,
                    vendor_contact_id=row["vendor_id"],
                    email=contact,
                    delivery=DeliveryMode.IMMEDIATE,
                    due_on=row["due_on"],
                    planned_on=as_of,
                    planned_by=run,
                )
            )
    # A deterministic order, so that two runs inserting the same rows at once never deadlock.
    new.sort(
        key=lambda alert: (alert.finding_id, alert.threshold, alert.recipient_id or 0, alert.vendor_contact_id or 0)
    )
    Alert.objects.bulk_create(new, batch_size=_CHUNK, ignore_conflicts=True)
    if run is None:
        return len(new)
    return Alert.objects.filter(planned_by=run).count()


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
    ).filter(access_in_force_q(as_of))
    turned_off = Q()
    for kind, field_name in PREFERENCE_FIELD.items():
        muted = AlertPreference.objects.filter(user=OuterRef("recipient"), **{field_name: False})
        turned_off |= Q(kind=kind) & Q(Exists(muted))
    return Q(recipient__is_active=True) & ~Q(recipient__email="") & Q(Exists(membership)) & ~turned_off


def _vendor_contact_still_wants() -> Q:
    """The vendor still has a contact address and its reminders are not turned off."""
    return ~Q(vendor_contact__contact_email="") & ~_contact_turned_off("vendor_contact")


RESOLVED_BEFORE_SENDING = "Not sent: the finding was resolved before the alert went out."
RECIPIENT_LEFT = "Not sent: the recipient no longer receives this alert (role, access, address or preferences)."
VENDOR_CONTACT_LEFT = "Not sent: the vendor has no contact address any more, or its reminders were turned off."


def _skip_stale(queryset: QuerySet[Alert], as_of: datetime.date) -> int:
    """Mark skipped the alerts of ``queryset`` still waiting to go out (pending, retrying, or uncertain
    and due for their one resend) that are not worth sending any more."""
    waiting = queryset.filter(
        Q(status__in=(SendStatus.PENDING, SendStatus.RETRYING))
        | Q(status=SendStatus.UNCERTAIN, next_attempt_at__isnull=False)
    )
    skipped = waiting.filter(finding__resolved_at__isnull=False).update(
        status=SendStatus.SKIPPED, last_error=RESOLVED_BEFORE_SENDING, next_attempt_at=None
    )
    skipped += (
        waiting.filter(recipient__isnull=False)
        .exclude(_recipient_still_wants(as_of))
        .update(status=SendStatus.SKIPPED, last_error=RECIPIENT_LEFT, next_attempt_at=None)
    )
    skipped += (
        waiting.filter(vendor_contact__isnull=False)
        .exclude(_vendor_contact_still_wants())
        .update(status=SendStatus.SKIPPED, last_error=VENDOR_CONTACT_LEFT, next_attempt_at=None)
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


def _due(now: datetime.datetime) -> Q:
    """Waiting to be tried: never tried, or its backoff has passed."""
    return Q(status=SendStatus.PENDING) | Q(
        status__in=(SendStatus.RETRYING, SendStatus.UNCERTAIN), next_attempt_at__lte=now
    )


def _stale(now: datetime.datetime) -> Q:
    """Claimed by a worker longer ago than the claim timeout: that worker died."""
    return Q(status=SendStatus.SENDING, claimed_at__lt=now - claim_timeout())


#: A stale claim whose message had been handed over, on an email already uncertain once: that was its
#: one resend, and its outcome is unknown too.
_LOST_RESEND = Q(handed_over_at__isnull=False, uncertain_at__isnull=False)


def _claimable(now: datetime.datetime) -> Q:
    return _due(now) | (_stale(now) & ~_LOST_RESEND)


def _claim(model: type[SendState], pk: int, now: datetime.datetime) -> uuid.UUID | None:
    """Take one email for sending, or None if another worker has it (or it was dealt with meanwhile).

    One conditional UPDATE: of two workers claiming the same row at once, the database lets exactly
    one change it; the other's UPDATE matches no row any more. Taking over a stale claim whose message
    had been handed over makes the email uncertain (the dead worker's copy may have arrived), in the
    same statement: this attempt is its one resend.
    """
    token = uuid.uuid4()
    claimed = (
        model.objects.filter(pk=pk)
        .filter(_claimable(now))
        .update(
            status=SendStatus.SENDING,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
            uncertain_at=Case(
                When(status=SendStatus.SENDING, handed_over_at__isnull=False, then=F("handed_over_at")),
                default=F("uncertain_at"),
            ),
            handed_over_at=None,
        )
    )
    return token if claimed else None


LOST_RESEND_ERROR = (
    "Outcome unknown: the worker resending this email stopped after handing it to the mail server, and "
    "an earlier attempt was uncertain too. It may have arrived once or twice; it is not sent again "
    "unless you resend it."
)


def _settle_lost_resends(queryset: QuerySet, now: datetime.datetime) -> int:
    """Stale claims of a resend that had been handed over: uncertain for good, never sent a third time."""
    return queryset.filter(_stale(now) & _LOST_RESEND).update(
        status=SendStatus.UNCERTAIN, next_attempt_at=None, claim_token=None, last_error=LOST_RESEND_ERROR
    )


class _ClaimLost(Exception):
    """Another worker took the claim over meanwhile: this one must not hand the message over."""


def _handover(model: type[SendState], pk: int, token: uuid.UUID, clock: _Clock) -> Callable[[], None]:
    """The record written when the server says "354 go ahead", before the content goes: from then on
    the server may have the message whatever happens. Conditional on the claim, so that a worker
    whose claim was taken over (it was slower than the claim timeout) stops before a second copy."""

    def record() -> None:
        if not model.objects.filter(pk=pk, claim_token=token, status=SendStatus.SENDING).update(handed_over_at=clock()):
            raise _ClaimLost(f"{model.__name__} {pk}: the claim was taken over")

    return record


def _on_fresh_connection(write: Callable[[], object]) -> object:
    """Run a write; if the database connection is gone (server restarted, session killed), once more on
    a new one. Only outside a transaction: inside one, the error must abort it."""
    try:
        return write()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        logger.warning("database connection lost while recording an email's outcome; reconnecting", exc_info=True)
        connection.close()
        return write()


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
    # worker took the claim over meanwhile (it would only do so after the claim timeout).
    model.objects.filter(pk=pk).exclude(status=SendStatus.SENT).update(claim_token=None, **_sent_update(now, email))


@dataclass(frozen=True)
class _Outcome:
    status: str
    error: str
    #: The failure is the connection's, not this message's: the emails not yet tried are deferred.
    server_unreachable: bool = False
    #: The connection may be unusable after this failure: open a new one for the next email.
    reconnect: bool = True


def _failure_update(
    outcome: _Outcome, attempts: int, uncertain_at: datetime.datetime | None, now: datetime.datetime, email: str
) -> dict[str, object]:
    """The outcome of a failed attempt, given the email's attempts so far and whether an earlier
    attempt was uncertain (then it was the one resend)."""
    status, error, next_attempt_at = outcome.status, outcome.error, None
    if status == SendStatus.UNCERTAIN:
        if uncertain_at is None:
            uncertain_at = now
            next_attempt_at = now + retry_delay(attempts)
            error = f"Outcome unknown, resent once at the next attempt with the same Message-ID. {error}"
        else:
            error = (
                "Outcome unknown twice: it may have arrived once or twice; it is not sent again unless you "
                f"resend it. {error}"
            )
    elif status == SendStatus.RETRYING:
        if attempts >= MAX_ATTEMPTS:
            status = SendStatus.UNCERTAIN if uncertain_at else SendStatus.FAILED
            maybe = "; an earlier one may have arrived" if uncertain_at else ""
            error = f"Gave up after {attempts} attempts{maybe}. {error}"
        else:
            # Still uncertain: the copy of the earlier attempt may have arrived; the resend is not made yet.
            status = SendStatus.UNCERTAIN if uncertain_at else SendStatus.RETRYING
            next_attempt_at = now + retry_delay(attempts)
    return {
        "status": status,
        "last_error": error[:_ERROR_LENGTH],
        "next_attempt_at": next_attempt_at,
        "uncertain_at": uncertain_at,
        "email": email,
    }


def _record_failure(
    model: type[SendState], pk: int, token: uuid.UUID, now: datetime.datetime, outcome: _Outcome, email: str
) -> dict[str, object]:
    row = model.objects.filter(pk=pk).values("attempts", "uncertain_at").first() or {}
    update = _failure_update(outcome, row.get("attempts") or 1, row.get("uncertain_at"), now, email)
    # Conditional on the claim: never overwrite what a worker that took over has recorded since.
    model.objects.filter(pk=pk, claim_token=token, status=SendStatus.SENDING).update(claim_token=None, **update)
    return update


#: How the error of an email deferred without a try begins.
NOT_ATTEMPTED = "Not attempted:"


def _defer_unreachable(queryset: QuerySet, now: datetime.datetime, error: str, until: datetime.datetime) -> int:
    """The mail server cannot be reached: record that on the other emails due now, without trying each
    (every try would wait for the connection timeout), and try them again at ``until`` (the backoff
    of the email that failed). An uncertain email stays uncertain."""
    return (
        queryset.filter(_due(now))
        .exclude(status=SendStatus.SENDING)
        .update(
            status=Case(
                When(status=SendStatus.UNCERTAIN, then=Value(SendStatus.UNCERTAIN)), default=Value(SendStatus.RETRYING)
            ),
            last_error=f"{NOT_ATTEMPTED} the mail server could not be reached ({error})"[:_ERROR_LENGTH],
            next_attempt_at=until,
        )
    )


def _undefer(queryset: QuerySet, now: datetime.datetime) -> int:
    """The server answers again: the emails deferred without a try are due now, not at the end of a
    backoff that grew while it was down."""
    return queryset.filter(
        status__in=(SendStatus.RETRYING, SendStatus.UNCERTAIN),
        last_error__startswith=NOT_ATTEMPTED,
        next_attempt_at__gt=now,
    ).update(next_attempt_at=now)


_CONNECTION_CODES = {421}  # "service not available, closing the channel": the server, for every message
_SIZE_CODES = {452, 552}  # storage or size exceeded, at MAIL FROM with the SIZE option: this message


def classify_error(exc: BaseException, *, handed_over: bool = False) -> _Outcome:
    """What a sending error means, for this message and for the others.

    Per message (the run goes on with the next email): the server refused this recipient or this
    message (5xx: ``refused`` for good; 4xx: ``retrying``), the message is too large, the address
    cannot even be written in an SMTP command (ValueError from Django's address sanitizing, no
    SMTPUTF8). Unknown outcome: the connection broke or timed out after the message was handed over
    and before the server's final reply (``uncertain``). Connection-level (the others are deferred):
    cannot connect, greeting, login or sender refused, a 421, the connection broke before the message
    was handed over.
    """
    text = f"{type(exc).__name__}: {exc}"
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            return _Outcome(SendStatus.REFUSED, text, reconnect=False)
        if any(code in _CONNECTION_CODES for code in codes):
            return _Outcome(SendStatus.RETRYING, text, server_unreachable=True)
        return _Outcome(SendStatus.RETRYING, text, reconnect=False)
    if isinstance(exc, smtplib.SMTPResponseException) and code in _CONNECTION_CODES:
        return _Outcome(SendStatus.RETRYING, text, server_unreachable=True)
    if isinstance(exc, smtplib.SMTPDataError) or (isinstance(exc, smtplib.SMTPSenderRefused) and code in _SIZE_CODES):
        # The server answered about this message: refused it (5xx, e.g. 552 too large, 554 rejected),
        # or not now (4xx). The answer is known even after the content was handed over.
        status = SendStatus.REFUSED if code and 500 <= code < 600 else SendStatus.RETRYING
        return _Outcome(status, text, reconnect=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError | ValueError | email.errors.MessageError):
        return _Outcome(SendStatus.REFUSED, text, reconnect=False)
    if handed_over:
        return _Outcome(SendStatus.UNCERTAIN, text)
    if isinstance(exc, OSError):  # smtplib's errors are OSErrors: connect, greeting, login, sender, drops
        return _Outcome(SendStatus.RETRYING, text, server_unreachable=True)
    # Anything else is about this message (a bug shows in its error): the others may well go out.
    return _Outcome(SendStatus.RETRYING, text)


# --- Sending --------------------------------------------------------------------------------------------


class _HandoverMixin:
    """smtplib.SMTP that knows when the message content is handed over: on the server's 354 reply to
    DATA it calls ``before_content`` (which records it, or refuses if the claim was lost), then sets
    ``handed_over``. A failure after that may have delivered the message."""

    before_content: Callable[[], None] | None = None
    handed_over = False
    _awaiting_go_ahead = False

    def putcmd(self, cmd, args=""):
        self._awaiting_go_ahead = cmd.lower() == "data"
        super().putcmd(cmd, args)

    def getreply(self):
        code, message = super().getreply()
        if self._awaiting_go_ahead:
            self._awaiting_go_ahead = False
            if code == 354:
                if self.before_content is not None:
                    self.before_content()
                self.handed_over = True
        return code, message


class _HandoverSMTP(_HandoverMixin, smtplib.SMTP):
    pass


class _HandoverSMTPSSL(_HandoverMixin, smtplib.SMTP_SSL):
    pass


class _HandoverBackend(smtp_backend.EmailBackend):
    """Django's SMTP backend (same settings) on the hand-over-aware connection."""

    @property
    def connection_class(self):
        return _HandoverSMTPSSL if self.use_ssl else _HandoverSMTP


class _SendFailure(Exception):
    def __init__(self, error: BaseException, *, handed_over: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.handed_over = handed_over


class _Sender:
    """One connection to the mail server for the run, reopened after a failure."""

    def __init__(self) -> None:
        self.connection = self._new()

    @staticmethod
    def _new():
        backend = get_connection()
        # Only the SMTP backend can fail after handing a message over; the others write it or not.
        return _HandoverBackend() if type(backend) is smtp_backend.EmailBackend else backend

    def send(self, build: Callable[[], object], before_content: Callable[[], None]) -> None:
        """Build and send one message; a failure raises _SendFailure (with whether the content had been
        handed over), a lost claim _ClaimLost, a database error itself."""
        smtp = None
        try:
            message = build()
            self.connection.open()  # kept open for the next message (send_messages closes what it opened)
            smtp = getattr(self.connection, "connection", None)
            if isinstance(smtp, _HandoverMixin):
                smtp.before_content, smtp.handed_over = before_content, False
            self.connection.send_messages([message])
        except (_ClaimLost, OperationalError, InterfaceError):
            self.reset()
            raise
        except Exception as exc:
            raise _SendFailure(exc, handed_over=isinstance(smtp, _HandoverMixin) and smtp.handed_over) from exc
        finally:
            if isinstance(smtp, _HandoverMixin):
                smtp.before_content = None

    def reset(self) -> None:
        self.close()
        self.connection = self._new()

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # a broken connection may fail to close; a new one is opened next time
            logger.debug("closing the mail connection failed", exc_info=True)


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


def _vendor_reply_to(batch: list[Alert]) -> dict[tuple[int, int], list[str]]:
    """Where each vendor contact of the batch replies, by (finding, threshold): the members told about
    the same finding at the same threshold (they see it through the gate). One query per batch, none
    when the batch has no vendor contact, so sending stays two statements per email."""
    keys = {(a.finding_id, a.threshold) for a in batch if a.vendor_contact_id is not None}
    if not keys:
        return {}
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    rows = (
        Alert.objects.filter(
            finding_id__in={finding for finding, _ in keys},
            threshold__in={threshold for _, threshold in keys},
            recipient__isnull=False,
        )
        .exclude(email="")
        .values_list("finding_id", "threshold", "email")
    )
    for finding_id, threshold, address in rows:
        if (finding_id, threshold) in keys:
            found[(finding_id, threshold)].add(address)
    return {key: sorted(addresses) for key, addresses in found.items()}


def _alerts_with_content(queryset: QuerySet[Alert]) -> QuerySet[Alert]:
    from facilities.models import Facility

    return queryset.select_related(
        "organization",
        "recipient",
        "vendor_contact",
        "finding",
        "finding__radiologist",
        "finding__vendor",
        "finding__facility",
        "finding__agreement",
        "finding__subcontractor_link__subcontractor",
    ).prefetch_related(
        Prefetch("finding__agreement__covered_facilities", queryset=Facility.objects.order_by("name")),
        "finding__agreement__provision_reviews",  # the provision gaps' wording (alerts.emails)
    )


def _scoped(queryset: QuerySet, organization_id: int | None) -> QuerySet:
    return queryset if organization_id is None else queryset.filter(organization_id=organization_id)


@dataclass
class _Unreachable:
    """The connection-level failure that stopped a run's sending, and when the deferred emails are due."""

    error: str
    until: datetime.datetime


def _send_immediate_alerts(
    sender: _Sender, clock: _Clock, summary: DispatchSummary, *, as_of: datetime.date, organization_id: int | None
) -> _Unreachable | None:
    base = _scoped(Alert.objects.filter(delivery=DeliveryMode.IMMEDIATE), organization_id)
    summary.uncertain += _settle_lost_resends(base, clock())
    seen: set[int] = set()
    reachable = False
    while True:
        candidates = _alerts_with_content(base.filter(_claimable(clock())).order_by("pk")[:SEND_BATCH])
        batch = [alert for alert in candidates if alert.pk not in seen]
        if not batch:
            return None
        seen.update(alert.pk for alert in batch)
        info = _recipients_info({alert.recipient_id for alert in batch if alert.recipient_id is not None})
        reply_to = _vendor_reply_to(batch)
        for alert in batch:
            token = _claim(Alert, alert.pk, clock())
            if token is None:
                continue  # another worker has it, or has sent it
            if alert.vendor_contact_id is not None:
                # The vendor's address as it is now (as for members): a corrected address is used.
                recipient, to = None, alert.vendor_contact.contact_email
                gone, why = not to, VENDOR_CONTACT_LEFT
            else:
                recipient, to = info.get(alert.recipient_id), alert.recipient.email
                gone, why = recipient is None or not to, RECIPIENT_LEFT
            if gone:
                Alert.objects.filter(pk=alert.pk, claim_token=token).update(
                    status=SendStatus.SKIPPED, last_error=why, claim_token=None
                )
                summary.skipped += 1
                continue

            def build(alert=alert, to=to, recipient=recipient, reply_to=reply_to):
                if recipient is None:
                    return emails.vendor_contact_message(
                        alert,
                        to=to,
                        organization_name=alert.organization.name,
                        as_of=as_of,
                        reply_to=reply_to.get((alert.finding_id, alert.threshold), []),
                    )
                return emails.alert_message(
                    alert, to=to, recipient=recipient, organization_name=alert.organization.name, as_of=as_of
                )

            try:
                sender.send(build, _handover(Alert, alert.pk, token, clock))
            except _ClaimLost:
                logger.warning("alert %s: claim taken over by another worker before sending; not sent", alert.pk)
                continue
            except _SendFailure as failure:
                outcome = classify_error(failure.error, handed_over=failure.handed_over)
                logger.warning("alert %s to %s: %s (%s)", alert.pk, to, outcome.status, outcome.error)
                update = _record_failure(Alert, alert.pk, token, clock(), outcome, to)
                summary.count(update["status"])
                if outcome.reconnect:
                    sender.reset()
                if outcome.server_unreachable:
                    until = update["next_attempt_at"] or clock() + retry_base_delay()
                    summary.deferred += _defer_unreachable(base, clock(), outcome.error, until)
                    return _Unreachable(outcome.error, until)
                continue
            _on_fresh_connection(lambda alert=alert, to=to: _record_sent(Alert, alert.pk, clock(), to))
            summary.sent += 1
            if not reachable:
                reachable = True
                _undefer(base, clock())  # the next batch takes them


def _digest_alerts_waiting(digests: QuerySet[Digest]) -> QuerySet[Alert]:
    return Alert.objects.filter(
        delivery=DeliveryMode.DIGEST,
        digest__isnull=True,
        status=SendStatus.PENDING,
        recipient_id__in=digests.values("recipient_id"),
    )


def _defer_digests(base: QuerySet[Digest], clock: _Clock, unreachable: _Unreachable) -> int:
    """Defer the digests due now; their alerts (not yet in them) say why they wait. Returns alerts."""
    now = clock()
    ids = list(base.filter(_due(now)).exclude(status=SendStatus.SENDING).values_list("pk", flat=True))
    if not ids:
        return 0
    deferred = base.filter(pk__in=ids)
    _defer_unreachable(deferred, now, unreachable.error, unreachable.until)
    note = f"Waiting for the digest: the mail server could not be reached ({unreachable.error})"[:_ERROR_LENGTH]
    waiting = _digest_alerts_waiting(deferred).update(last_error=note)
    in_them = Alert.objects.filter(digest_id__in=ids).exclude(status__in=(SendStatus.SENT, SendStatus.SKIPPED))
    return waiting + in_them.update(
        status=Case(
            When(status=SendStatus.UNCERTAIN, then=Value(SendStatus.UNCERTAIN)), default=Value(SendStatus.RETRYING)
        ),
        last_error=note,
        next_attempt_at=unreachable.until,
    )


def _send_digests(
    sender: _Sender,
    clock: _Clock,
    summary: DispatchSummary,
    *,
    as_of: datetime.date,
    organization_id: int | None,
    unreachable: _Unreachable | None,
) -> _Unreachable | None:
    base = _scoped(Digest.objects.all(), organization_id)
    if unreachable is not None:  # the immediate alerts found the server down: do not wait for it again
        summary.deferred += _defer_digests(base, clock, unreachable)
        return unreachable
    lost = list(base.filter(_stale(clock()) & _LOST_RESEND).values_list("pk", flat=True))
    if lost:
        _settle_lost_resends(base.filter(pk__in=lost), clock())
        summary.uncertain += (
            Alert.objects.filter(digest_id__in=lost)
            .exclude(status__in=(SendStatus.SENT, SendStatus.SKIPPED))
            .update(status=SendStatus.UNCERTAIN, next_attempt_at=None, last_error=LOST_RESEND_ERROR)
        )
    if summary.sent:  # the server answered this run: deferred digests need not wait for their backoff
        _undefer(base, clock())
    candidates = list(base.filter(_claimable(clock())).select_related("organization", "recipient").order_by("pk"))
    info = _recipients_info({digest.recipient_id for digest in candidates}) if candidates else {}
    for digest in candidates:
        token = _claim(Digest, digest.pk, clock())
        if token is None:
            continue
        outcome, until = _send_digest(
            sender, clock, digest, token, info.get(digest.recipient_id), as_of=as_of, summary=summary
        )
        if outcome is not None and outcome.server_unreachable:
            unreachable = _Unreachable(outcome.error, until or clock() + retry_base_delay())
            summary.deferred += _defer_digests(base, clock, unreachable)
            return unreachable
    return None


def _send_digest(
    sender: _Sender,
    clock: _Clock,
    digest: Digest,
    token: uuid.UUID,
    recipient: emails.Recipient | None,
    *,
    as_of: datetime.date,
    summary: DispatchSummary,
) -> tuple[_Outcome | None, datetime.datetime | None]:
    """Send one claimed digest: attach the recipient's waiting alerts, leave out those no longer worth
    sending, send, and give every alert in it the digest's outcome. Returns the failure, if any, and
    when the digest is due again."""
    _digest_alerts_waiting(Digest.objects.filter(pk=digest.pk)).filter(planned_on__lte=digest.day).update(digest=digest)
    in_digest = Alert.objects.filter(digest=digest)
    summary.skipped += _skip_stale(in_digest, as_of)
    alerts = list(
        _alerts_with_content(
            in_digest.filter(
                Q(status__in=(SendStatus.PENDING, SendStatus.RETRYING))
                | Q(status=SendStatus.UNCERTAIN, next_attempt_at__isnull=False)
            )
        ).order_by("pk")
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
        return None, None

    def build():
        return emails.digest_message(
            digest, alerts, to=to, recipient=recipient, organization_name=digest.organization.name, as_of=as_of
        )

    try:
        sender.send(build, _handover(Digest, digest.pk, token, clock))
    except _ClaimLost:
        logger.warning("digest %s: claim taken over by another worker before sending; not sent", digest.pk)
        return None, None
    except _SendFailure as failure:
        outcome = classify_error(failure.error, handed_over=failure.handed_over)
        logger.warning("digest %s to %s: %s (%s)", digest.pk, to, outcome.status, outcome.error)
        with transaction.atomic():
            update = _record_failure(Digest, digest.pk, token, clock(), outcome, to)
            Alert.objects.filter(pk__in=ids).exclude(status=SendStatus.SENT).update(**update)
        summary.count(update["status"], len(ids))
        if outcome.reconnect:
            sender.reset()
        return outcome, update["next_attempt_at"]

    def record() -> None:
        with transaction.atomic():
            _record_sent(Digest, digest.pk, clock(), to)
            Alert.objects.filter(pk__in=ids).exclude(status=SendStatus.SENT).update(**_sent_update(clock(), to))

    _on_fresh_connection(record)
    summary.sent += len(ids)
    return None, None


def _next_check(organization_id: int | None) -> datetime.datetime | None:
    """When an email becomes due again: the earliest retry or resend, or the expiry of a claim (its
    worker may be dead). Two queries."""
    moments = []
    # A digest's alerts follow their digest: only the digest's own times count.
    for queryset in (Alert.objects.filter(delivery=DeliveryMode.IMMEDIATE), Digest.objects.all()):
        row = _scoped(queryset, organization_id).aggregate(
            retry=Min(
                "next_attempt_at",
                filter=Q(status__in=(SendStatus.RETRYING, SendStatus.UNCERTAIN), next_attempt_at__isnull=False),
            ),
            claim=Min("claimed_at", filter=Q(status=SendStatus.SENDING)),
        )
        if row["retry"] is not None:
            moments.append(row["retry"])
        if row["claim"] is not None:
            moments.append(row["claim"] + claim_timeout() + datetime.timedelta(seconds=1))
    return min(moments) if moments else None


# --- The run --------------------------------------------------------------------------------------------


def alerts_dispatch(
    *,
    as_of: datetime.date | None = None,
    now: datetime.datetime | None = None,
    organization_id: int | None = None,
    daily: bool = True,
) -> DispatchSummary:
    """Plan what is due and send it: the daily run (every reminder, and the digests), or the frequent
    run (``daily=False``: first alerts of new findings, retries, resends of uncertain emails, and
    emails of a run that died).

    Safe to run twice, or twice at once: see the module docstring. Counts are of alerts (a digest
    counts the alerts it carries); ``next_check_at`` says when something is due again.
    """
    clock = _Clock(now or timezone.now())
    as_of = as_of or timezone.localdate(clock.start)
    run = DispatchRun.objects.create(
        organization_id=organization_id, as_of=as_of, daily=daily, started_at=timezone.now()
    )
    summary = DispatchSummary()
    summary.inserted = alerts_plan(as_of=as_of, organization_id=organization_id, first_alerts_only=not daily, run=run)
    if daily:
        summary.digests = digests_prepare(as_of=as_of, organization_id=organization_id)
        # The frequent run's log of runs that found nothing to do is noise after a while.
        idle = {name: 0 for name in COUNTERS}
        DispatchRun.objects.filter(daily=False, finished_at__lt=timezone.now() - RUN_LOG_DAYS, **idle).delete()
    not_in_a_digest = Q(delivery=DeliveryMode.IMMEDIATE) | Q(digest__isnull=True)
    summary.skipped += _skip_stale(_scoped(Alert.objects.filter(not_in_a_digest), organization_id), as_of)
    sender = _Sender()
    try:
        unreachable = _send_immediate_alerts(sender, clock, summary, as_of=as_of, organization_id=organization_id)
        _send_digests(sender, clock, summary, as_of=as_of, organization_id=organization_id, unreachable=unreachable)
    finally:
        sender.close()
    summary.next_check_at = _next_check(organization_id)
    summary.finished_at = clock()
    DispatchRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(), **{name: getattr(summary, name) for name in COUNTERS}
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


def alert_preference_update(*, user, delivery: str, **switches: bool) -> AlertPreference:
    """``switches``: one on/off per alert kind, by its preference field (alerts.models.PREFERENCE_FIELD)."""
    unknown = set(switches) - set(PREFERENCE_FIELD.values())
    if unknown:
        raise TypeError(f"unknown alert preferences: {sorted(unknown)}")
    preference = alert_preference_for(user)
    preference.delivery = delivery
    for name, on in switches.items():
        setattr(preference, name, on)
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
        user=user, delivery=preference.delivery, **dict.fromkeys(PREFERENCE_FIELD.values(), False)
    )


def alert_retry(*, alert: Alert, now: datetime.datetime | None = None) -> Alert:
    """Try a failed, refused or twice-uncertain alert again at once (e.g. after the address was
    corrected, or after the recipient said an uncertain email never arrived).

    A digest alert goes out with its digest: the digest is retried, with every failed alert in it.
    """
    now = now or timezone.now()
    retryable = Q(status__in=(SendStatus.RETRYING, SendStatus.FAILED, SendStatus.REFUSED)) | Q(
        status=SendStatus.UNCERTAIN, next_attempt_at__isnull=True
    )
    if not (alert.is_failure or alert.status == SendStatus.RETRYING):
        raise ValidationError(f"Only a failed alert can be retried; this one is {alert.get_status_display().lower()}.")
    again = {"status": SendStatus.RETRYING, "next_attempt_at": now, "attempts": 0}
    with transaction.atomic():
        if alert.digest_id:
            Digest.objects.filter(retryable, pk=alert.digest_id).update(**again)
            Alert.objects.filter(retryable, digest_id=alert.digest_id).update(**again)
        else:
            Alert.objects.filter(retryable, pk=alert.pk).update(**again)
        schedule_alert_sending(organization_id=alert.organization_id)
    alert.refresh_from_db()
    return alert


# --- The vendors' contacts' choice ---------------------------------------------------------------------


def vendor_contact_preference_for(vendor) -> VendorContactPreference:
    """The vendor's setting, or the default (reminders on) without saving it."""
    try:
        return vendor.contact_alert_preference
    except VendorContactPreference.DoesNotExist:
        return VendorContactPreference(vendor=vendor)


def vendor_contact_reminders_set(
    *, vendor, credential_reminders: bool, changed_by=None, unsubscribed_email: str = ""
) -> VendorContactPreference:
    """Turn the credential reminders to the vendor's contact on or off: by an officer (``changed_by``),
    or by the contact with a reminder's unsubscribe link (``unsubscribed_email``). Reminders already
    planned and not yet sent are skipped at the next dispatch (_skip_stale)."""
    preference = vendor_contact_preference_for(vendor)
    preference.credential_reminders = credential_reminders
    preference.changed_by = changed_by
    preference.unsubscribed_email = "" if credential_reminders else unsubscribed_email
    preference.full_clean()
    preference.save()
    return preference


def vendor_contact_unsubscribe(*, vendor_id: int, email: str) -> VendorContactPreference | None:
    """The unsubscribe link of a reminder to a vendor's contact: turn that vendor's reminders off if
    ``email`` is still its contact address. None (nothing changed) if the vendor is gone or its contact
    changed since: the old contact's link must not silence the new one."""
    from vendors.models import Vendor

    vendor = Vendor.objects.filter(pk=vendor_id).first()
    if vendor is None or not email or vendor.contact_email.lower() != email.lower():
        return None
    return vendor_contact_reminders_set(vendor=vendor, credential_reminders=False, unsubscribed_email=email)
