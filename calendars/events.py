"""What a calendar shows: dated events in a user's scope, each from a registered source.

The dates are the ones the rest of the product derives, never computed again here: the expiry (or,
for an auto-renewing BAA, the renewal date of ``agreements.services.renewal_date``), the non-renewal
notice deadline of ``agreements.services.renewal_notice_deadline`` (the one rule 3 uses), and the
checklist items' next review date, and the expiries of the reading radiologists' state licenses and
facility privileges. Which agreements count is the rules' ``agreements_in_force``; which licenses and
privileges are still due is the rules' ``license_renewed`` and ``privilege_reappointed`` (as rules
R2a and R2c).

Extension point: a new kind of dated event is one
function registered with ``@event_source("key", "label")`` that yields ``CalendarEvent`` for the
user's scope (through ``restrict(user, Action.VIEW)``); the feed and the page pick it up.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from agreements.models import BusinessAssociateAgreement
from agreements.services import renewal_date, renewal_notice_deadline
from checklists.models import ChecklistItem
from compliance.rules import agreements_in_force, license_renewed, on_roster_q, privilege_reappointed
from facilities.models import USState
from organizations.querysets import Action
from readers.models import PRACTISING_STATUSES, Privilege, StateLicense

#: The feed covers this window around today: recent past (so that a missed deadline still shows) and
#: the next years (BAAs run for one to five years).
PAST = datetime.timedelta(days=31)
AHEAD = datetime.timedelta(days=3 * 366)


@dataclass(frozen=True)
class CalendarEvent:
    key: str  # stable across fetches, so that calendar clients update instead of duplicating
    on: datetime.date
    summary: str
    description: str
    path: str = ""
    category: str = ""
    remind_days_before: int | None = None

    @property
    def url(self) -> str:
        return f"{settings.SITE_URL}{self.path}" if self.path else ""


EventSource = Callable[..., Iterable[CalendarEvent]]


@dataclass(frozen=True)
class RegisteredSource:
    key: str
    label: str
    events: EventSource


EVENT_SOURCES: dict[str, RegisteredSource] = {}


def event_source(key: str, label: str) -> Callable[[EventSource], EventSource]:
    def register(function: EventSource) -> EventSource:
        EVENT_SOURCES[key] = RegisteredSource(key, label, function)
        return function

    return register


def agreement_events(agreement: BusinessAssociateAgreement, as_of: datetime.date) -> Iterator[CalendarEvent]:
    """The agreement's expiry (or next renewal) and, for an auto-renewing one, its notice deadline."""
    if agreement.expires_on is None:
        return  # evergreen: nothing to put in a calendar
    path = reverse("agreements:detail", args=[agreement.pk])
    vendor = agreement.vendor.legal_name
    if agreement.auto_renews:
        renews_on = renewal_date(agreement.expires_on, term_months=agreement.renewal_term_months, as_of=as_of)
        yield CalendarEvent(
            key=f"baa-renewal-{agreement.pk}-{renews_on:%Y%m%d}",
            on=renews_on,
            summary=f"BAA renews automatically: {agreement.title} ({vendor})",
            description=f"\u201c{agreement.title}\u201d with {vendor} renews for {agreement.renewal_term_months} "
            "months unless notice was given.",
            path=path,
            category="BAA expiry",
        )
        if agreement.renewal_notice_days:
            deadline = renewal_notice_deadline(renews_on, notice_days=agreement.renewal_notice_days)
            yield CalendarEvent(
                key=f"baa-notice-{agreement.pk}-{deadline:%Y%m%d}",
                on=deadline,
                summary=f"Last day to give renewal notice: {agreement.title} ({vendor})",
                description=f"To renegotiate or stop the automatic renewal of \u201c{agreement.title}\u201d with "
                f"{vendor} (renews on {renews_on:%Y-%m-%d}), notice is due {agreement.renewal_notice_days} days "
                "before.",
                path=path,
                category="Renewal notice deadline",
                remind_days_before=14,
            )
        return
    yield CalendarEvent(
        key=f"baa-expiry-{agreement.pk}-{agreement.expires_on:%Y%m%d}",
        on=agreement.expires_on,
        summary=f"BAA expires: {agreement.title} ({vendor})",
        description=f"\u201c{agreement.title}\u201d with {vendor} expires. PHI disclosures to the vendor need a BAA "
        "in force (45 CFR 164.502(e)): execute a renewal before this day.",
        path=path,
        category="BAA expiry",
        remind_days_before=30,
    )


@event_source("agreements", "BAA expiries and renewal notice deadlines")
def agreements_source(user, as_of: datetime.date) -> Iterator[CalendarEvent]:
    agreements = (
        BusinessAssociateAgreement.objects.restrict(user, Action.VIEW)
        .filter(pk__in=agreements_in_force(as_of).values("pk"), expires_on__isnull=False)
        .select_related("vendor")
        .order_by("expires_on", "pk")
    )
    for agreement in agreements:
        yield from agreement_events(agreement, as_of)


@event_source("checklist_reviews", "teleradiology checklist reviews")
def checklist_reviews_source(user, as_of: datetime.date) -> Iterator[CalendarEvent]:
    items = (
        ChecklistItem.objects.restrict(user, Action.VIEW)
        .filter(next_review_on__isnull=False, next_review_on__gte=as_of - PAST, next_review_on__lte=as_of + AHEAD)
        .select_related("checklist__engagement__vendor", "checklist__engagement__facility")
        .order_by("next_review_on", "pk")
    )
    for item in items:
        engagement = item.checklist.engagement
        yield CalendarEvent(
            key=f"checklist-review-{item.pk}-{item.next_review_on:%Y%m%d}",
            on=item.next_review_on,
            summary=f"Checklist review due: item {item.number}, {engagement.vendor.legal_name} at "
            f"{engagement.facility.name}",
            description=f"Teleradiology checklist item {item.number}: {item.text}.",
            path=reverse("checklists:detail", args=[engagement.pk]),
            category="Checklist review",
            remind_days_before=7,
        )


@event_source("reader_licenses", "radiologists' state license expiries")
def reader_licenses_source(user, as_of: datetime.date) -> Iterator[CalendarEvent]:
    """Practising licenses of radiologists on the roster, unless a renewal is recorded: a radiologist
    must be licensed where the patient is (42 CFR 482.22(a)(3)(iv))."""
    licenses = (
        StateLicense.objects.restrict(user, Action.VIEW)
        .filter(status__in=PRACTISING_STATUSES, expires_on__gte=as_of - PAST, expires_on__lte=as_of + AHEAD)
        .filter(on_roster_q(as_of, "radiologist__"))
        .filter(~license_renewed())
        .select_related("radiologist__vendor")
        .order_by("expires_on", "pk")
    )
    for license_ in licenses:
        person, state = license_.radiologist, USState(license_.state).label
        yield CalendarEvent(
            key=f"reader-license-{license_.pk}-{license_.expires_on:%Y%m%d}",
            on=license_.expires_on,
            summary=f"State license expires: {person.name}, {state} ({person.vendor.legal_name})",
            description=f"The {state} license {license_.number} of {person.name} ({person.vendor.legal_name}) "
            f"expires. Without a renewal the radiologist may not read for {state} facilities "
            "(42 CFR 482.22(a)(3)(iv)).",
            path=reverse("readers:radiologist_detail", args=[person.pk]),
            category="Radiologist license expiry",
            remind_days_before=30,
        )


@event_source("reader_privileges", "radiologists' privileges ending at the facilities")
def reader_privileges_source(user, as_of: datetime.date) -> Iterator[CalendarEvent]:
    """Privileges of radiologists on the roster that end without a recorded reappointment: reading
    for the facility needs current privileges there (42 CFR 482.22(a)(1)-(2))."""
    privileges = (
        Privilege.objects.restrict(user, Action.VIEW)
        .filter(expires_on__gte=as_of - PAST, expires_on__lte=as_of + AHEAD)
        .filter(on_roster_q(as_of, "radiologist__"))
        .filter(~privilege_reappointed())
        .select_related("radiologist__vendor", "facility")
        .order_by("expires_on", "pk")
    )
    for privilege in privileges:
        person = privilege.radiologist
        yield CalendarEvent(
            key=f"reader-privilege-{privilege.pk}-{privilege.expires_on:%Y%m%d}",
            on=privilege.expires_on,
            summary=f"Privileges end: {person.name} at {privilege.facility.name} ({person.vendor.legal_name})",
            description=f"The privileges of {person.name} at {privilege.facility.name} "
            f"({privilege.get_basis_display().lower()}) end. Record the reappointment before this day, or the "
            "radiologist may no longer read there.",
            path=reverse("readers:radiologist_detail", args=[person.pk]),
            category="Radiologist privileges",
            remind_days_before=30,
        )


def events_for(user, as_of: datetime.date) -> list[CalendarEvent]:
    """Every registered source's events in the window around ``as_of``, in date order."""
    start, end = as_of - PAST, as_of + AHEAD
    events = [
        event for source in EVENT_SOURCES.values() for event in source.events(user, as_of) if start <= event.on <= end
    ]
    return sorted(events, key=lambda event: (event.on, event.key))
