"""Email alerts about findings: who is told what, when, and what became of each email.

Alerts consume the findings of the rules engine (compliance/rules.py); nothing here decides what is a
finding. Each alert is a row written BEFORE its email is sent and updated with the outcome, so that
a dispatch run repeated after a crash, or two runs at once, never send the same alert twice (one
alert per finding, threshold and recipient is a database constraint; sending is claimed with a
conditional UPDATE). Where SMTP cannot tell whether a message arrived, the alert is marked
*uncertain* and resent at most once: see the delivery semantics in alerts.services.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from compliance import kinds
from organizations.querysets import RestrictedQuerySet


class AlertKind(models.TextChoices):
    EXPIRY_REMINDER = "expiry_reminder", "BAA expiry reminder"
    MISSING_BAA = "missing_baa", "Missing or lapsed BAA"
    CHECKLIST_REVIEW = "checklist_review", "Teleradiology checklist review due"
    SUBCONTRACTOR_GAP = "subcontractor_gap", "Subcontractor without a downstream BAA"
    READER_CREDENTIAL = "reader_credential", "Radiologist license, board or privileges expiring"
    PROVISION_GAP = "provision_gap", "BAA lacking a required provision"


#: finding kind -> the kind of alert it sends, as each finding kind declares (compliance/kinds.py).
#: Findings of other kinds appear on the pages and in the reports but send no email.
ALERT_KIND_OF_FINDING: Mapping[str, str] = kinds.ALERT_KIND_OF_FINDING


#: Alert kinds reminded on the calendar of their finding's date (settings.ALERT_LEAD_DAYS: 90, 60, 30,
#: 14, 7 and 1 days before); the others by reminder number.
LEAD_TIME_KINDS = (AlertKind.EXPIRY_REMINDER, AlertKind.READER_CREDENTIAL)

#: Alert kinds also sent to the contact of the finding's vendor (Vendor.contact_email), on the same
#: thresholds as the officers': the teleradiology group renews its radiologists' licenses, boards and
#: privileges, so it is asked for the renewal before the credential lapses (42 CFR 482.22(a)(3)).
VENDOR_CONTACT_KINDS = (AlertKind.READER_CREDENTIAL,)


def alert_finding_kinds(alert_kind: str) -> tuple[str, ...]:
    """The finding kinds an alert kind is about."""
    return tuple(value for value, kind in ALERT_KIND_OF_FINDING.items() if kind == alert_kind)


#: The preference field that turns each kind of alert on or off.
PREFERENCE_FIELD: dict[str, str] = {
    AlertKind.EXPIRY_REMINDER: "expiry_reminders",
    AlertKind.MISSING_BAA: "missing_baa",
    AlertKind.CHECKLIST_REVIEW: "checklist_reviews",
    AlertKind.SUBCONTRACTOR_GAP: "subcontractor_gaps",
    AlertKind.READER_CREDENTIAL: "reader_credentials",
    AlertKind.PROVISION_GAP: "provision_gaps",
}


class DeliveryMode(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately, one email per alert"
    DIGEST = "digest", "Once a day, in one digest email"


class SendStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Failed, will retry"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, gave up"
    REFUSED = "refused", "Refused"
    #: The server may or may not have the message (the connection broke or timed out after the
    #: message was handed over, or the worker died then): resent once at ``next_attempt_at``; with no
    #: next attempt, the resend was uncertain too and nothing more is sent.
    UNCERTAIN = "uncertain", "Outcome unknown"
    SKIPPED = "skipped", "Skipped"


#: Statuses after which nothing more happens (unless someone asks for a retry); an uncertain email
#: is final once it has no next attempt.
FINAL_STATUSES = (SendStatus.SENT, SendStatus.FAILED, SendStatus.REFUSED, SendStatus.SKIPPED)
#: The groups the alerts page counts.
STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "sent": (SendStatus.SENT,),
    "pending": (SendStatus.PENDING, SendStatus.SENDING),
    "uncertain": (SendStatus.UNCERTAIN,),
    "failed": (SendStatus.RETRYING, SendStatus.FAILED, SendStatus.REFUSED),
    "skipped": (SendStatus.SKIPPED,),
}


class SendState(models.Model):
    """The life of one outgoing email: pending -> sending (claimed) -> sent, or retrying/failed/refused,
    or uncertain (resent once).

    ``claim_token`` and ``claimed_at`` are set by the conditional UPDATE that claims the email, so that
    only one worker sends it; a claim older than the claim timeout belongs to a worker that died and
    is taken over by the next run. ``handed_over_at`` is written when the server has said "go ahead"
    to the message content, just before it is sent: from then on the server may have it, whatever
    happens to the connection or the worker. ``uncertain_at`` is the time of the first attempt whose
    outcome could not be known; an email that has one is never resent again after a second one.
    """

    status = models.CharField(max_length=16, choices=SendStatus.choices, default=SendStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a failed email is tried again.")
    last_error = models.TextField(blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    uncertain_at = models.DateTimeField(
        null=True, blank=True, help_text="When an attempt ended without knowing whether the server had the email."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    #: The address the email went (or was to go) to, as it was when sent.
    email = models.EmailField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    @property
    def is_failure(self) -> bool:
        return self.status in STATUS_GROUPS["failed"] or self.is_final_uncertain

    @property
    def is_final_uncertain(self) -> bool:
        """Uncertain twice: nothing more is sent unless an officer asks for it."""
        return self.status == SendStatus.UNCERTAIN and self.next_attempt_at is None


class DigestQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(pk__in=[])  # digests mix facilities: only members who see every facility list them


class Digest(SendState):
    """One email per recipient per day that carries all their alerts of the day, most urgent first."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="alert_digests")
    day = models.DateField()

    objects = DigestQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "day"], name="digest_one_per_recipient_and_day"),
            models.CheckConstraint(
                condition=~Q(status=SendStatus.SENT) | Q(sent_at__isnull=False), name="digest_sent_has_time"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"Digest of {self.day:%Y-%m-%d} for {self.recipient}"


class AlertQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        """An alert is visible where its finding is (the findings' own rule of the gate)."""
        from compliance.models import Finding

        visible = Finding.objects.filter(Finding.objects.all().facility_scope(facility_ids), pk=OuterRef("finding"))
        return Q(Exists(visible))


class Alert(SendState):
    """One alert: a finding, at one threshold, for one recipient: a member of the organization
    (``recipient``), or, for the reader credential reminders, the contact of the radiologist's
    teleradiology vendor (``vendor_contact``: the address is ``Vendor.contact_email`` when sent). Exactly
    one of the two is a database constraint.

    ``threshold`` is the lead time in days before the finding's date for expiry reminders (90, 60, ...
    settings.ALERT_LEAD_DAYS), and for the other kinds the number of the reminder: 0 is the first
    alert, sent as soon as the finding appears, then 1, 2, ... every settings.MISSING_BAA_REMINDER_DAYS
    until the finding is resolved.

    An immediate alert is its own email; a digest alert goes out in its recipient's daily digest and
    takes the digest's outcome.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="alerts")
    finding = models.ForeignKey("compliance.Finding", on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    threshold = models.PositiveSmallIntegerField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts_received"
    )
    #: The vendor whose contact is told (VENDOR_CONTACT_KINDS only): always immediate, never in a digest.
    vendor_contact = models.ForeignKey(
        "vendors.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="contact_alerts"
    )
    delivery = models.CharField(max_length=16, choices=DeliveryMode.choices, default=DeliveryMode.IMMEDIATE)
    digest = models.ForeignKey(Digest, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts")
    #: Expiry reminders: the agreement and the date the reminder is about (the expiry date, or the
    #: notice deadline of an auto-renewing BAA), so that a finding reopened for the same date never
    #: repeats a reminder already sent.
    agreement = models.ForeignKey(
        "agreements.BusinessAssociateAgreement", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_on = models.DateField(null=True, blank=True)
    #: The day the alert became due.
    planned_on = models.DateField()
    #: The run that inserted the row (for its "inserted" count: a concurrent run's rows are not its own).
    planned_by = models.ForeignKey(
        "alerts.DispatchRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-planned_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["finding", "threshold", "recipient"], name="alert_one_per_finding_threshold_recipient"
            ),
            # The same for the vendor's contact (NULL recipients are distinct in a unique constraint).
            models.UniqueConstraint(
                fields=["finding", "threshold"],
                condition=Q(vendor_contact__isnull=False),
                name="alert_one_vendor_contact_alert_per_finding_threshold",
            ),
            models.CheckConstraint(
                condition=Q(recipient__isnull=False, vendor_contact__isnull=True)
                | Q(recipient__isnull=True, vendor_contact__isnull=False),
                name="alert_to_a_member_or_a_vendor_contact",
            ),
            models.CheckConstraint(
                condition=Q(vendor_contact__isnull=True) | Q(delivery=DeliveryMode.IMMEDIATE),
                name="alert_vendor_contact_alerts_immediate",
            ),
            models.UniqueConstraint(
                fields=["agreement", "due_on", "threshold", "recipient"],
                condition=Q(kind=AlertKind.EXPIRY_REMINDER),
                name="alert_one_expiry_reminder_per_date_threshold_recipient",
            ),
            models.CheckConstraint(
                condition=~Q(status=SendStatus.SENT) | Q(sent_at__isnull=False), name="alert_sent_has_time"
            ),
            models.CheckConstraint(
                condition=Q(delivery=DeliveryMode.DIGEST) | Q(digest__isnull=True),
                name="alert_only_digest_alerts_in_a_digest",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "delivery", "next_attempt_at"]),
            models.Index(fields=["organization", "-planned_on"]),
            models.Index(fields=["recipient", "delivery", "digest"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.threshold_label}) to {self.recipient_label}"

    @property
    def recipient_label(self) -> str:
        """Who it is for, in words (the alerts pages)."""
        if self.vendor_contact_id is not None:
            return f"Contact of {self.vendor_contact.legal_name}"
        return self.recipient.get_full_name() or self.recipient.get_username()

    @property
    def threshold_label(self) -> str:
        if self.kind in LEAD_TIME_KINDS:
            return f"{self.threshold} day{'s' if self.threshold != 1 else ''} before"
        if self.threshold == 0:
            return "first alert"
        return f"reminder {self.threshold}"


class AlertPreference(models.Model):
    """What one user wants to receive. Without a row: every kind, immediately."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preference")
    delivery = models.CharField(max_length=16, choices=DeliveryMode.choices, default=DeliveryMode.IMMEDIATE)
    expiry_reminders = models.BooleanField("BAA expiry reminders", default=True)
    missing_baa = models.BooleanField("missing or lapsed BAAs", default=True)
    checklist_reviews = models.BooleanField("teleradiology checklist reviews due", default=True)
    subcontractor_gaps = models.BooleanField("subcontractors without a downstream BAA", default=True)
    reader_credentials = models.BooleanField("radiologists' licenses, boards and privileges expiring", default=True)
    provision_gaps = models.BooleanField("BAAs lacking a required provision (45 CFR 164.504(e)(2))", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Alert preferences of {self.user}"

    def wants(self, kind: str) -> bool:
        return getattr(self, PREFERENCE_FIELD[kind])

    @property
    def receives_nothing(self) -> bool:
        return not any(getattr(self, field) for field in PREFERENCE_FIELD.values())


class VendorContactPreference(models.Model):
    """Whether a vendor's contact receives the credential reminders (VENDOR_CONTACT_KINDS). Without a
    row: yes, if the vendor has a contact address. Turned off by an officer on the vendor's roster page,
    or by the contact with the unsubscribe link of a reminder (``unsubscribed_email`` says who)."""

    vendor = models.OneToOneField("vendors.Vendor", on_delete=models.CASCADE, related_name="contact_alert_preference")
    credential_reminders = models.BooleanField("credential reminders to the vendor's contact", default=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: The address that unsubscribed with the link of a reminder ("" when an officer changed it).
    unsubscribed_email = models.EmailField(max_length=254, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Contact reminders of {self.vendor}"


class DispatchRun(models.Model):
    """One run of the dispatcher and what it did: shown on the alerts page, read by the tests to know
    that a run has finished. A run whose worker died stays without ``finished_at``.

    The counts are of alerts (a digest counts the alerts it carries): ``inserted`` rows this run wrote
    (not those a concurrent run wrote first); ``sent`` accepted by the server; ``refused`` for good, for
    a reason of that message (address, size); ``uncertain`` attempts whose outcome is unknown;
    ``deferred`` not attempted because the server could not be reached; ``failed`` attempted and not
    accepted for a passing reason (tried again later, or given up after the last attempt);
    ``skipped`` no longer worth sending."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    as_of = models.DateField()
    daily = models.BooleanField(default=True, help_text="The daily run (all reminders and digests).")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    inserted = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    uncertain = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Dispatch of {self.as_of:%Y-%m-%d} started {self.started_at:%Y-%m-%d %H:%M}"
