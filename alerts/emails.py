"""The alert emails: every one is three templates (subject, plain text, HTML) behind ``make_message``.

Templates live in templates/alerts/email/<name>_subject.txt, <name>_body.txt and <name>_body.html.
The HTML is autoescaped (a vendor named ``<b>Acme</b>`` shows as text); the plain-text templates turn
autoescaping off, since text/plain has no markup to escape.

No PHI: an email names the organization, vendors, facilities, agreements and dates, never a patient
(the tracker holds none). Every email says why the recipient gets it, links back into the app with
absolute links (settings.SITE_URL), and carries an unsubscribe link that works without signing in.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from alerts.models import LEAD_TIME_KINDS, Alert, AlertKind, Digest
from compliance import kinds
from compliance.models import SEVERITY_RANK, Severity

UNSUBSCRIBE_SALT = "alerts.unsubscribe"


# --- The one helper ------------------------------------------------------------------------------------


def make_message(name: str, *, to: str, context: dict, headers: dict[str, str] | None = None) -> EmailMultiAlternatives:
    """Render the three templates of ``name`` into one multipart email to ``to``."""
    subject = render_to_string(f"alerts/email/{name}_subject.txt", context)
    subject = " ".join(subject.split())  # one line: a name with a line break must not break the header
    text = render_to_string(f"alerts/email/{name}_body.txt", context)
    html = render_to_string(f"alerts/email/{name}_body.html", context)
    message = EmailMultiAlternatives(subject, text, to=[to], headers=headers or {})
    message.attach_alternative(html, "text/html")
    return message


# --- Links -----------------------------------------------------------------------------------------------


def absolute_url(name: str, *args) -> str:
    """An absolute link into the app, or "" when the page is not routed (yet)."""
    try:
        return settings.SITE_URL + reverse(name, args=args)
    except NoReverseMatch:
        return ""


#: An unsubscribe link works this long after its email was sent (the email says so): a forwarded or
#: leaked old email cannot switch someone's alerts off for ever after.
UNSUBSCRIBE_MAX_AGE_DAYS = 60


def unsubscribe_token(user_id: int) -> str:
    """A signed, timestamped token naming one user: the unsubscribe link changes that user's
    preferences only, for UNSUBSCRIBE_MAX_AGE_DAYS."""
    return signing.dumps({"u": user_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_expired(token: str, salt: str = UNSUBSCRIBE_SALT) -> bool:
    try:
        signing.loads(token, salt=salt, max_age=datetime.timedelta(days=UNSUBSCRIBE_MAX_AGE_DAYS))
    except signing.SignatureExpired:
        return True
    except signing.BadSignature:
        return False
    return False


def user_id_from_unsubscribe_token(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=datetime.timedelta(days=UNSUBSCRIBE_MAX_AGE_DAYS))
    except signing.BadSignature:  # SignatureExpired included
        return None
    user_id = value.get("u") if isinstance(value, dict) else None
    return user_id if isinstance(user_id, int) else None


def _mail_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "baa-tracker.localhost"


def message_id(record: Alert | Digest) -> str:
    """The same Message-ID at every attempt, so that a duplicate (an attempt whose success was not
    recorded because the worker died at that instant) is recognisable and can be discarded."""
    kind = "digest" if isinstance(record, Digest) else "alert"
    stamp = int(record.created_at.timestamp() * 1_000_000)
    return f"<baa-{kind}-{record.pk}.{stamp}@{_mail_domain()}>"


# --- What an alert says ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Why someone receives alerts: their role in the organization and the facilities they look after."""

    name: str
    role_label: str
    facility_names: tuple[str, ...] | None  # None: every facility

    @property
    def scope(self) -> str:
        if self.facility_names is None:
            return "every facility"
        return ", ".join(self.facility_names)


@dataclass(frozen=True)
class AlertItem:
    """The words and links of one alert, whether sent alone or in a digest."""

    kind: str
    finding_kind: str
    severity: str
    severity_label: str
    subject: str
    title: str
    summary: str
    headline: str
    action: str
    vendor: str
    facilities: str
    agreement: str
    due_on: datetime.date | None
    days_left: int | None
    threshold_label: str
    is_reminder: bool
    finding_url: str
    agreement_url: str
    subcontractor: str = ""
    facility: str = ""
    date_label: str = "Date"
    #: Show "(n days left)" after the date.
    countdown: bool = False
    #: An auto-renewing BAA: the date is the notice deadline, not the expiry.
    notice_deadline: bool = False
    #: Lines listed under the headline (the wording's ``details``, e.g. each missing provision).
    details: tuple[str, ...] = ()

    @property
    def urgency_rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, len(SEVERITY_RANK))


def covered_facility_names(agreement, visible: tuple[str, ...] | None = None) -> str:
    """The facilities the agreement covers, as far as the recipient sees them (``visible``: the names of
    the facilities a facility-limited recipient looks after; None for every facility)."""
    if agreement.covers_all_facilities:
        return "all facilities of the organization"
    names = sorted(facility.name for facility in agreement.covered_facilities.all())
    if visible is not None:
        shown = [name for name in names if name in visible]
        others = len(names) - len(shown)
        if others:
            shown.append(f"{others} other facilit{'y' if others == 1 else 'ies'}")
        names = shown
    return ", ".join(names) or "no facility listed"


def missing_provisions(agreement) -> tuple[str, ...]:
    """The provisions of the agreement's review that are not present (ProvisionReview.present: the
    officer's verdict, else the reader's detection; the same test as rule 10), each with its
    paragraph of 45 CFR 164.504(e)(2) and the officer's note when they confirmed it missing."""
    lines = []
    reviews = sorted(agreement.provision_reviews.all(), key=lambda r: int(r.provision[1:]))
    for review in reviews:
        if review.present:
            continue
        how = f"confirmed missing: {review.note}" if review.officer_verdict else "not found in the signed copy"
        lines.append(f"{review.provision} {review.label} ({review.citation}), {how}")
    return tuple(lines)


def alert_item(alert: Alert, *, as_of: datetime.date, visible_facilities: tuple[str, ...] | None = None) -> AlertItem:
    """The text of an alert from its finding (loaded with vendor, facility, agreement and subcontractor),
    in the wording its finding kind declares (compliance/kinds.py)."""
    finding = alert.finding
    spec = kinds.get(finding.kind)
    if spec.alert_wording is None:
        # A kind that declares no alert is never planned (alerts.models.ALERT_KIND_OF_FINDING); an
        # alert kept for a kind that no longer sends any must not get another kind's words.
        raise ValueError(f"finding kind {finding.kind!r} declares no alert wording")
    vendor = finding.vendor.legal_name
    agreement = finding.agreement
    facility = finding.facility.name if finding.facility_id else ""
    link = finding.subcontractor_link if finding.subcontractor_link_id else None
    due_on = finding.due_on
    days_left = (due_on - as_of).days if due_on else None
    is_reminder = alert.kind not in LEAD_TIME_KINDS and alert.threshold > 0
    facts = kinds.AlertFacts(
        finding_kind=finding.kind,
        vendor=vendor,
        facility=facility,
        agreement=agreement.title if agreement else "",
        agreement_expires_on=agreement.expires_on if agreement else None,
        auto_renews=bool(agreement and agreement.auto_renews),
        due_on=due_on,
        days_left=days_left,
        subcontractor=link.subcontractor.legal_name if link else "",
        threshold_label=alert.threshold_label,
        is_reminder=is_reminder,
        explanation=finding.explanation,
        covered_facilities=lambda: covered_facility_names(agreement, visible_facilities) if agreement else "",
        missing_provisions=lambda: missing_provisions(agreement) if agreement else (),
    )
    wording = spec.alert_wording(facts)
    return AlertItem(
        kind=alert.kind,
        finding_kind=finding.kind,
        severity=finding.severity,
        severity_label=Severity(finding.severity).label,
        subject=wording.subject,
        title=wording.title,
        summary=wording.summary,
        headline=wording.headline,
        action=wording.action,
        vendor=vendor,
        facilities=wording.facilities,
        agreement=facts.agreement,
        due_on=due_on,
        days_left=days_left,
        threshold_label=alert.threshold_label,
        is_reminder=is_reminder,
        finding_url=absolute_url("compliance:finding_detail", finding.pk),
        agreement_url=absolute_url("agreements:detail", agreement.pk) if agreement else "",
        subcontractor=facts.subcontractor,
        facility=facility,
        date_label=wording.date_label,
        details=wording.details,
        countdown=wording.countdown,
        notice_deadline=wording.notice_deadline,
    )


#: How each kind reads in the middle of a sentence ("alerts about ... are on").
KIND_PHRASE = {
    AlertKind.EXPIRY_REMINDER: "BAA expiry reminders",
    AlertKind.MISSING_BAA: "missing or lapsed BAAs",
    AlertKind.CHECKLIST_REVIEW: "teleradiology checklist reviews due",
    AlertKind.SUBCONTRACTOR_GAP: "subcontractors without a downstream BAA",
    AlertKind.READER_CREDENTIAL: "radiologists' licenses, boards and privileges expiring",
    AlertKind.PROVISION_GAP: "BAAs lacking a required provision",
}


def _why(recipient: Recipient, organization_name: str, kinds: list[str]) -> str:
    labels = ", ".join(KIND_PHRASE[kind] for kind in kinds)
    return (
        f"You receive this because you are {_article(recipient.role_label)} {recipient.role_label.lower()} of "
        f"{organization_name} for {recipient.scope}, and {labels} are on in your alert preferences."
    )


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _common_context(*, user_id: int, organization_name: str, recipient: Recipient) -> dict:
    return {
        "organization_name": organization_name,
        "recipient": recipient,
        "site_url": settings.SITE_URL,
        "alerts_url": absolute_url("alerts:list"),
        "preferences_url": absolute_url("alerts:preferences"),
        "unsubscribe_url": absolute_url("alerts:unsubscribe", unsubscribe_token(user_id)),
        "unsubscribe_days": UNSUBSCRIBE_MAX_AGE_DAYS,
    }


def _headers(record: Alert | Digest, unsubscribe_url: str) -> dict[str, str]:
    return {
        "Message-ID": message_id(record),
        # RFC 8058 one-click unsubscribe: mail clients POST to the link, which needs no sign-in.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }


def alert_message(
    alert: Alert, *, to: str, recipient: Recipient, organization_name: str, as_of: datetime.date
) -> EmailMultiAlternatives:
    item = alert_item(alert, as_of=as_of, visible_facilities=recipient.facility_names)
    context = _common_context(user_id=alert.recipient_id, organization_name=organization_name, recipient=recipient)
    context.update({"item": item, "why": _why(recipient, organization_name, [alert.kind])})
    name = alert.kind
    return make_message(name, to=to, context=context, headers=_headers(alert, context["unsubscribe_url"]))


@dataclass(frozen=True)
class UrgencyGroup:
    severity: str
    label: str
    items: list[AlertItem]


def digest_message(
    digest: Digest,
    alerts: list[Alert],
    *,
    to: str,
    recipient: Recipient,
    organization_name: str,
    as_of: datetime.date,
) -> EmailMultiAlternatives:
    """One email with the recipient's alerts of the day, grouped by urgency (the findings' severity),
    then by the nearest date."""
    items = [alert_item(alert, as_of=as_of, visible_facilities=recipient.facility_names) for alert in alerts]
    items.sort(key=lambda item: (item.urgency_rank, item.due_on or datetime.date.max, item.vendor))
    groups = []
    for severity in Severity:
        members = [item for item in items if item.severity == severity]
        if members:
            groups.append(UrgencyGroup(severity=severity, label=severity.label, items=members))
    kinds = sorted({alert.kind for alert in alerts}, key=list(AlertKind).index)
    context = _common_context(user_id=digest.recipient_id, organization_name=organization_name, recipient=recipient)
    context.update(
        {
            "day": digest.day,
            "groups": groups,
            "count": len(items),
            "critical_count": sum(1 for item in items if item.severity == Severity.CRITICAL),
            "why": _why(recipient, organization_name, kinds),
        }
    )
    return make_message("digest", to=to, context=context, headers=_headers(digest, context["unsubscribe_url"]))


# --- The reminders to a vendor's contact ------------------------------------------------------------------

VENDOR_UNSUBSCRIBE_SALT = "alerts.vendor_unsubscribe"


def vendor_unsubscribe_token(vendor_id: int, email: str) -> str:
    """A signed, timestamped token naming one vendor and the contact address it was sent to (another
    salt than the members' tokens: neither opens the other's page). Valid UNSUBSCRIBE_MAX_AGE_DAYS."""
    return signing.dumps({"v": vendor_id, "e": email}, salt=VENDOR_UNSUBSCRIBE_SALT)


def vendor_from_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(vendor id, address) of a valid token, else None (tampered, expired or a member's token)."""
    try:
        value = signing.loads(
            token, salt=VENDOR_UNSUBSCRIBE_SALT, max_age=datetime.timedelta(days=UNSUBSCRIBE_MAX_AGE_DAYS)
        )
    except signing.BadSignature:  # SignatureExpired included
        return None
    if not isinstance(value, dict) or not isinstance(value.get("v"), int) or not isinstance(value.get("e"), str):
        return None
    return value["v"], value["e"]


def vendor_unsubscribe_token_expired(token: str) -> bool:
    return unsubscribe_token_expired(token, VENDOR_UNSUBSCRIBE_SALT)


def vendor_contact_message(
    alert: Alert, *, to: str, organization_name: str, as_of: datetime.date, reply_to: list[str] | None = None
) -> EmailMultiAlternatives:
    """The reminder to the contact of the radiologist's vendor: which radiologist, which credential,
    when it expires and what to send back. It names only that vendor's radiologist and the
    organization (and, for privileges, the facility concerned): no patient, no other vendor, no link
    into the app (the contact has no account), the officers' findings text is not used."""
    from readers.selectors import expiring_credential

    credential = expiring_credential(alert.finding)
    if credential is None:
        raise ValueError(f"alert {alert.pk}: finding {alert.finding_id} names no expiring credential")
    days_left = (credential.expires_on - as_of).days
    unsubscribe_url = absolute_url("alerts:vendor_unsubscribe", vendor_unsubscribe_token(alert.vendor_contact_id, to))
    context = {
        "organization_name": organization_name,
        "vendor_name": alert.vendor_contact.legal_name,
        "contact_name": alert.vendor_contact.contact_name,
        "credential": credential,
        "days_left": days_left,
        "threshold_label": alert.threshold_label,
        "reply_to": reply_to or [],
        "unsubscribe_url": unsubscribe_url,
        "unsubscribe_days": UNSUBSCRIBE_MAX_AGE_DAYS,
    }
    message = make_message("vendor_contact_reminder", to=to, context=context, headers=_headers(alert, unsubscribe_url))
    if reply_to:
        message.reply_to = reply_to
    return message
