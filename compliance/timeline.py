"""Coverage over time: the one module that derives, from dates, when each engagement was covered.

Every question about coverage is a question about periods (shared/domain/hipaa-baa.md, "Coverage
over time"), so the answer is built from dated facts only, never from a status field for the past:

- an engagement's **PHI period**: from ``phi_access_starts_on`` to ``ends_on`` (open when empty);
- an agreement's **in-force span**: from the later of its execution and effective dates until the
  earliest of its expiry (an auto-renewing BAA renews at its date unless it was marked expired, the
  record that notice was given), the day before its termination date, and the day before its signed
  successor takes effect (a successor supersedes it only once in force);
- a facility's **coverage** by a selective agreement: from the day it was added
  (agreements.models.FacilityCoverage) until it was removed.

``build_timelines`` turns them into, for every engagement, its covered and uncovered periods, each
with the agreement that covered it or the reason it was not. It answers for any day ("as of"), with a
fixed number of queries whatever the amount of data, and computes in Python, so SQLite and PostgreSQL
give identical results from this one implementation. Only what was on record on the as-of day is
used: an agreement executed after it is unknown then.

The SQL forms below (``agreements_in_force``, ``covering``, ``engagements_with_phi_access``) state
the same definitions for the pages that must filter and paginate in the database; the table tests
(tests/compliance/test_timeline.py) check that both agree case by case.

Derived states for display live here too (``agreement_state``, ``checklist_item_due``), so that no
template, report or email compares dates itself.

Citations are to 45 CFR (HIPAA).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from agreements.models import SIGNED_STATUSES, AgreementStatus, BusinessAssociateAgreement, FacilityCoverage
from vendors.models import Engagement, EngagementStatus

ONE_DAY = datetime.timedelta(days=1)


class EndReason:
    """Why an agreement's span ends (or why an uncovered period began)."""

    OPEN = "open"  # evergreen, or auto-renewing
    EXPIRES = "expires"
    TERMINATED = "terminated"
    SUPERSEDED = "superseded"
    FACILITY_REMOVED = "facility_removed"


class GapReason:
    NO_BAA = "no_baa"  # no agreement had covered the engagement before the period
    LAPSED = "lapsed"  # the agreement that covered it before ended (see ``cause``)


@dataclass(frozen=True)
class AgreementSpan:
    """When a signed agreement is in force, from its dates."""

    agreement_id: int
    organization_id: int
    vendor_id: int
    title: str
    executed_on: datetime.date
    starts_on: datetime.date
    #: Last day in force (inclusive); None while open-ended.
    ends_on: datetime.date | None
    end_reason: str
    expires_on: datetime.date | None
    terminated_on: datetime.date | None
    covers_all_facilities: bool
    vendor_name: str = ""
    status: str = ""
    amended_on: datetime.date | None = None
    auto_renews: bool = False
    renewal_term_months: int | None = None
    renewal_notice_days: int | None = None
    successor_id: int | None = None
    successor_starts_on: datetime.date | None = None
    #: Selective agreements: facility id -> [(first day, last day or None)].
    facility_periods: dict[int, list[tuple[datetime.date, datetime.date | None]]] = field(default_factory=dict)

    def in_force_on(self, day: datetime.date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def covers_facility(self, facility_id: int) -> list[tuple[datetime.date, datetime.date | None, bool]]:
        """The periods in which this agreement covered the facility: (first, last or None, cut by removal)."""
        if self.covers_all_facilities:
            return [(self.starts_on, self.ends_on, False)]
        result = []
        for added_on, last_on in self.facility_periods.get(facility_id, ()):
            first = max(self.starts_on, added_on or self.starts_on)
            removed = last_on is not None and (self.ends_on is None or last_on < self.ends_on)
            last = _min_end(self.ends_on, last_on)
            if last is None or first <= last:
                result.append((first, last, removed))
        return result


class Period(NamedTuple):
    """One stretch of an engagement's PHI period, covered by ``agreement_id`` or not covered.

    A named tuple rather than a dataclass: a run at health-system size builds a few hundred thousand
    of them, and a tuple is the cheapest immutable record CPython makes."""

    starts_on: datetime.date
    #: Last day (inclusive); None: open-ended.
    ends_on: datetime.date | None
    agreement_id: int | None = None
    #: Uncovered periods: GapReason, the agreement that covered the day before, and why it ended.
    reason: str = ""
    previous_agreement_id: int | None = None
    cause: str = ""

    @property
    def covered(self) -> bool:
        return self.agreement_id is not None

    def contains(self, day: datetime.date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    @property
    def days(self) -> int | None:
        if self.ends_on is None:
            return None
        return (self.ends_on - self.starts_on).days + 1


@dataclass(slots=True)
class EngagementTimeline:
    engagement_id: int
    organization_id: int
    vendor_id: int
    facility_id: int
    vendor_name: str
    facility_name: str
    category: str
    status: str
    phi_starts_on: datetime.date | None
    #: PHI periods (first day, last day or None). One per engagement today.
    phi_periods: list[tuple[datetime.date, datetime.date | None]]
    #: Covered and uncovered periods, in order, inside the PHI periods.
    periods: list[Period]
    #: Every coverage of this engagement's facility by an agreement of its vendor:
    #: (first day, last day or None, agreement id). Shared by engagements alike: read only.
    coverage: list[tuple[datetime.date, datetime.date | None, int]] = field(default_factory=list)

    def agreements_covering_on(self, day: datetime.date) -> list[int]:
        return [a for first, last, a in self.coverage if first <= day and (last is None or day <= last)]

    def period_on(self, day: datetime.date) -> Period | None:
        for period in self.periods:
            if period.contains(day):
                return period
        return None

    def has_phi_on(self, day: datetime.date) -> bool:
        return any(start <= day and (end is None or day <= end) for start, end in self.phi_periods)

    def covered_on(self, day: datetime.date) -> bool:
        period = self.period_on(day)
        return period is not None and period.covered

    def uncovered_before(self, day: datetime.date) -> list[Period]:
        """Uncovered periods that ended before ``day``."""
        return [p for p in self.periods if not p.covered and p.ends_on is not None and p.ends_on < day]


@dataclass
class Timeline:
    """Everything derived for one as-of day: agreement spans and engagement timelines."""

    as_of: datetime.date
    spans: dict[int, AgreementSpan]
    engagements: dict[int, EngagementTimeline]


def _min_end(a: datetime.date | None, b: datetime.date | None) -> datetime.date | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


# --- Reading the facts: a fixed number of queries ---------------------------------------------------


def _signed(as_of: datetime.date) -> QuerySet[BusinessAssociateAgreement]:
    """Agreements signed by ``as_of``: what was on record that day."""
    return BusinessAssociateAgreement.objects.filter(
        status__in=SIGNED_STATUSES, executed_on__isnull=False, effective_on__isnull=False, executed_on__lte=as_of
    )


def agreement_spans(
    as_of: datetime.date,
    *,
    organization_id: int | None = None,
    vendor_ids: list[int] | None = None,
    agreement_ids: list[int] | None = None,
) -> dict[int, AgreementSpan]:
    """The in-force span of every signed agreement (three queries). With ``agreement_ids``, of those
    (their successors are read too, since a successor ends its predecessor's span)."""
    agreements = _signed(as_of)
    if agreement_ids is not None:
        agreements = agreements.filter(Q(pk__in=agreement_ids) | Q(supersedes__in=agreement_ids))
    if organization_id is not None:
        agreements = agreements.filter(organization_id=organization_id)
    if vendor_ids is not None:
        agreements = agreements.filter(vendor_id__in=vendor_ids)
    rows = list(
        agreements.values(
            "pk",
            "organization_id",
            "vendor_id",
            "title",
            "status",
            "executed_on",
            "effective_on",
            "expires_on",
            "auto_renews",
            "terminated_on",
            "covers_all_facilities",
            "supersedes_id",
            "vendor__legal_name",
            "amended_on",
            "renewal_term_months",
            "renewal_notice_days",
        )
    )
    starts = {row["pk"]: max(row["executed_on"], row["effective_on"]) for row in rows}
    # A successor supersedes from its start, unless it was terminated before it ever took effect.
    successor_of = {
        row["supersedes_id"]: row["pk"]
        for row in rows
        if row["supersedes_id"] is not None
        and (row["terminated_on"] is None or row["terminated_on"] > starts[row["pk"]])
    }
    selective = [row["pk"] for row in rows if not row["covers_all_facilities"]]
    facility_periods: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    if selective:
        listed = BusinessAssociateAgreement.covered_facilities.through.objects.filter(
            businessassociateagreement__in=agreements.filter(covers_all_facilities=False)
        ).values_list("businessassociateagreement_id", "facility_id")
        dated = FacilityCoverage.objects.filter(
            agreement__in=agreements.filter(covers_all_facilities=False)
        ).values_list("agreement_id", "facility_id", "added_on", "removed_on")
        open_rows = {}
        for agreement_id, facility_id, added_on, removed_on in dated:
            if removed_on is None:
                open_rows[(agreement_id, facility_id)] = added_on
            elif added_on is None or added_on <= as_of:
                facility_periods[agreement_id][facility_id].append((added_on, removed_on - ONE_DAY))
        for agreement_id, facility_id in listed:
            added_on = open_rows.get((agreement_id, facility_id))
            if added_on is None or added_on <= as_of:
                facility_periods[agreement_id][facility_id].append((added_on, None))
    spans = {}
    for row in rows:
        pk = row["pk"]
        ends: list[tuple[datetime.date, str]] = []
        if row["expires_on"] is not None and (not row["auto_renews"] or row["status"] == AgreementStatus.EXPIRED):
            ends.append((row["expires_on"], EndReason.EXPIRES))
        if row["terminated_on"] is not None:
            ends.append((row["terminated_on"] - ONE_DAY, EndReason.TERMINATED))
        successor_id = successor_of.get(pk)
        successor_starts_on = starts.get(successor_id) if successor_id is not None else None
        if successor_starts_on is not None:
            ends.append((successor_starts_on - ONE_DAY, EndReason.SUPERSEDED))
        # The earliest end wins; on a tie, the successor's start explains it best (no gap).
        ends.sort(key=lambda item: (item[0], item[1] != EndReason.SUPERSEDED))
        ends_on, reason = ends[0] if ends else (None, EndReason.OPEN)
        spans[pk] = AgreementSpan(
            agreement_id=pk,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            title=row["title"],
            executed_on=row["executed_on"],
            starts_on=starts[pk],
            ends_on=ends_on,
            end_reason=reason,
            expires_on=row["expires_on"],
            terminated_on=row["terminated_on"],
            covers_all_facilities=row["covers_all_facilities"],
            vendor_name=row["vendor__legal_name"],
            status=row["status"],
            amended_on=row["amended_on"],
            auto_renews=row["auto_renews"],
            renewal_term_months=row["renewal_term_months"],
            renewal_notice_days=row["renewal_notice_days"],
            successor_id=successor_id,
            successor_starts_on=successor_starts_on,
            facility_periods=dict(facility_periods[pk]) if pk in facility_periods else {},
        )
    return spans


_ENGAGEMENT_VALUES = (
    "pk",
    "vendor_id",
    "facility_id",
    "vendor__legal_name",
    "vendor__category",
    "facility__name",
    "facility__organization_id",
    "phi_access_starts_on",
    "ends_on",
    "status",
)


def phi_engagements() -> QuerySet[Engagement]:
    """Engagements whose vendor is a business associate there: one of the four verbs of 45 CFR 160.103
    (creates, receives, maintains, transmits), and not a mere conduit."""
    return Engagement.objects.filter(phi_access_q(), vendor__is_conduit=False)


def build_timelines(
    as_of: datetime.date,
    *,
    organization_id: int | None = None,
    vendor_ids: list[int] | None = None,
    engagement_ids: list[int] | None = None,
) -> Timeline:
    """The coverage timeline of every engagement with PHI access in scope, as on record ``as_of``.

    Four queries (engagements, agreements, listed facilities, dated coverage), whatever the data.
    """
    engagements = phi_engagements()
    if organization_id is not None:
        engagements = engagements.filter(facility__organization_id=organization_id)
    if vendor_ids is not None:
        engagements = engagements.filter(vendor_id__in=vendor_ids)
    if engagement_ids is not None:
        engagements = engagements.filter(pk__in=engagement_ids)
    rows = list(engagements.values(*_ENGAGEMENT_VALUES))
    spans = agreement_spans(as_of, organization_id=organization_id, vendor_ids=vendor_ids)
    spans_by_vendor: dict[tuple[int, int], list[AgreementSpan]] = defaultdict(list)
    for span in spans.values():
        spans_by_vendor[(span.organization_id, span.vendor_id)].append(span)
    by_vendor = {key: _VendorCoverage(vendor_spans) for key, vendor_spans in spans_by_vendor.items()}
    no_coverage = _VendorCoverage([])
    timelines = {}
    for row in rows:
        # 5. Tenancy: an agreement covers only engagements of its own organization.
        coverage = by_vendor.get((row["facility__organization_id"], row["vendor_id"]), no_coverage)
        timelines[row["pk"]] = _engagement_timeline(row, *coverage.of(row["facility_id"]), as_of)
    return Timeline(as_of=as_of, spans=spans, engagements=timelines)


class _VendorCoverage:
    """A vendor's signed agreements in one organization, as the intervals in which they cover a
    facility: (first day, last day or None, span, cut by facility removal), **longest-running first**
    (``_runs_longest``), the order in which ``_periods`` looks for the agreement that covers a day.

    The intervals of the agreements that cover every facility are the same for all the vendor's
    engagements, so they are ranked once and shared (read-only) by all of them."""

    __slots__ = ("everywhere", "everywhere_coverage", "selective")

    def __init__(self, spans: list[AgreementSpan]) -> None:
        self.everywhere = sorted(
            ((span.starts_on, span.ends_on, span, False) for span in spans if span.covers_all_facilities),
            key=_runs_longest,
            reverse=True,
        )
        self.everywhere_coverage = _coverage(self.everywhere)
        self.selective = [span for span in spans if not span.covers_all_facilities]

    def of(self, facility_id: int) -> tuple[list[tuple], list[tuple]]:
        """The intervals covering the facility, and the same as ``EngagementTimeline.coverage``."""
        listed = [
            (first, last, span, removed)
            for span in self.selective
            for first, last, removed in span.covers_facility(facility_id)
        ]
        if not listed:
            return self.everywhere, self.everywhere_coverage
        intervals = sorted(self.everywhere + listed, key=_runs_longest, reverse=True)
        return intervals, _coverage(intervals)


def _coverage(intervals: list[tuple]) -> list[tuple[datetime.date, datetime.date | None, int]]:
    return [(first, last, span.agreement_id) for first, last, span, _ in intervals]


def _runs_longest(interval: tuple) -> tuple:
    """Which agreement covers a day that several cover: open-ended first, then the latest end, then
    the latest start (the newest agreement), then the highest id, so that the answer is stable."""
    last, span = interval[1], interval[2]
    return (last is None, last or datetime.date.min, span.starts_on, span.agreement_id)


def _phi_period(row: dict, intervals: list, as_of: datetime.date) -> tuple[datetime.date, datetime.date | None] | None:
    """The PHI period of an engagement, from its dates.

    Without a start date, an active engagement is known to touch PHI only from ``as_of`` on. An
    offboarded engagement without an end date ended on a day not recorded: its PHI period is taken to
    end with its last coverage (or the day before ``as_of`` if it never had any), so that no gap is
    invented after it; record ``ends_on`` for an exact answer.
    """
    starts_on = row["phi_access_starts_on"]
    if starts_on is None:
        if row["status"] != EngagementStatus.ACTIVE:
            return None
        starts_on = as_of
    ends_on = row["ends_on"]
    if ends_on is None and row["status"] == EngagementStatus.OFFBOARDED:
        ends_on = as_of - ONE_DAY
        lasts = [last for first, last, _, _ in intervals if first <= ends_on and (last is None or last >= starts_on)]
        if lasts and None not in lasts:
            ends_on = min(ends_on, max(lasts))
    if ends_on is not None and ends_on < starts_on:
        # Ended before it started: offboarded before any coverage, or no start date on record and
        # ended before ``as_of``. No day of PHI access is known (``phi_on_q`` and the floor agree).
        return None
    return starts_on, ends_on


def _engagement_timeline(
    row: dict, intervals: list[tuple], coverage: list[tuple], as_of: datetime.date
) -> EngagementTimeline:
    phi = _phi_period(row, intervals, as_of)
    phi_periods = [phi] if phi else []
    periods: list[Period] = []
    for phi_start, phi_end in phi_periods:
        periods.extend(_periods(phi_start, phi_end, intervals))
    return EngagementTimeline(
        engagement_id=row["pk"],
        organization_id=row["facility__organization_id"],
        vendor_id=row["vendor_id"],
        facility_id=row["facility_id"],
        vendor_name=row["vendor__legal_name"],
        facility_name=row["facility__name"],
        category=row["vendor__category"],
        status=row["status"],
        phi_starts_on=row["phi_access_starts_on"],
        phi_periods=phi_periods,
        periods=periods,
        coverage=coverage,
    )


def _periods(phi_start: datetime.date, phi_end: datetime.date | None, intervals: list) -> list[Period]:
    """Split [phi_start, phi_end] into covered and uncovered periods (a sweep over the breakpoints).

    ``intervals`` come longest-running first (``_VendorCoverage``), so the first one in force on a
    day is the agreement that covers it."""
    # Intervals that end before the PHI period cannot cover it, nor explain a gap inside it (the
    # interval that covered the day before such a gap ended later), so the sweep leaves them out.
    intervals = [i for i in intervals if (i[1] is None or i[1] >= phi_start) and (phi_end is None or i[0] <= phi_end)]
    if not intervals:  # most uncovered engagements: one period, no sweep
        return [Period(phi_start, phi_end, None, GapReason.NO_BAA)]
    points = {phi_start}
    for first, last, _, _ in intervals:
        if first > phi_start and (phi_end is None or first <= phi_end):
            points.add(first)
        if last is not None and last >= phi_start and (phi_end is None or last < phi_end):
            points.add(last + ONE_DAY)
    bounds = sorted(points)
    result: list[Period] = []
    previous: tuple | None = None  # the interval that covered the last covered day
    for index, start in enumerate(bounds):
        end = bounds[index + 1] - ONE_DAY if index + 1 < len(bounds) else phi_end
        best = next((i for i in intervals if i[0] <= start and (i[1] is None or start <= i[1])), None)
        if best is not None:
            agreement_id = best[2].agreement_id
            if result and result[-1].agreement_id == agreement_id:
                result[-1] = Period(result[-1].starts_on, end, agreement_id)
            else:
                result.append(Period(start, end, agreement_id))
            previous = best
            continue
        if previous is None:
            reason, previous_id, cause = GapReason.NO_BAA, None, ""
        else:
            # The covering agreement that ended last before this day, and why.
            ended = [i for i in intervals if i[1] is not None and i[1] < start]
            last = max(ended, key=lambda i: (i[1], i[2].agreement_id))
            span = last[2]
            reason, previous_id = GapReason.LAPSED, span.agreement_id
            cause = EndReason.FACILITY_REMOVED if last[3] else span.end_reason
        if result and not result[-1].covered:
            prior = result[-1]
            result[-1] = Period(prior.starts_on, end, None, prior.reason, prior.previous_agreement_id, prior.cause)
        else:
            result.append(Period(start, end, None, reason, previous_id, cause))
    return result


# --- The same definitions in SQL, for pages that filter and paginate in the database ---------------


def phi_access_q() -> Q:
    """Any of the four verbs of 45 CFR 160.103 (creates, receives, maintains, transmits)."""
    return Q(phi_creates=True) | Q(phi_receives=True) | Q(phi_maintains=True) | Q(phi_transmits=True)


def phi_on_q(as_of: datetime.date) -> Q:
    """The engagement's PHI period contains ``as_of`` (see ``_phi_period``; an offboarded engagement
    without an end date no longer touches PHI)."""
    started = Q(phi_access_starts_on__lte=as_of) | Q(phi_access_starts_on__isnull=True, status=EngagementStatus.ACTIVE)
    not_ended = Q(ends_on__gte=as_of) | Q(ends_on__isnull=True) & ~Q(status=EngagementStatus.OFFBOARDED)
    return started & not_ended


def engagements_with_phi_access(as_of: datetime.date) -> QuerySet[Engagement]:
    """Engagements where a business associate touches PHI on ``as_of``, from their dates."""
    return phi_engagements().filter(phi_on_q(as_of))


def _deeper(day):
    """``day`` one subquery level further down (a date stays a date)."""
    return OuterRef(day) if isinstance(day, OuterRef) else day


def agreements_not_ended(day) -> QuerySet[BusinessAssociateAgreement]:
    """Signed agreements on record by ``day`` whose span has not ended before it (in force on it, or
    to be in force later): not past the expiry (an auto-renewing BAA renews unless marked expired),
    before the termination date, not yet replaced by a signed successor in force.

    ``day`` is a date, or an OuterRef to the outer row's date field (see ``covering_in_force_on``).
    """
    successor_in_force = BusinessAssociateAgreement.objects.filter(
        supersedes=OuterRef("pk"),
        status__in=SIGNED_STATUSES,
        executed_on__lte=_deeper(day),
        effective_on__lte=_deeper(day),
    ).filter(
        # one terminated before it ever took effect supersedes nothing
        Q(terminated_on__isnull=True) | (Q(terminated_on__gt=F("executed_on")) & Q(terminated_on__gt=F("effective_on")))
    )
    not_expired = (
        Q(expires_on__isnull=True) | Q(expires_on__gte=day) | (Q(auto_renews=True) & ~Q(status=AgreementStatus.EXPIRED))
    )
    return (
        BusinessAssociateAgreement.objects.filter(
            status__in=SIGNED_STATUSES, executed_on__isnull=False, effective_on__isnull=False, executed_on__lte=day
        )
        .filter(not_expired)
        .filter(Q(terminated_on__isnull=True) | Q(terminated_on__gt=day))
        .filter(~Exists(successor_in_force))
    )


def agreements_in_force(as_of) -> QuerySet[BusinessAssociateAgreement]:
    """Signed agreements whose span (``agreement_spans``) contains ``as_of``, as one queryset: from
    the later of the execution and effective dates until their span ends. Whatever the status says."""
    return agreements_not_ended(as_of).filter(effective_on__lte=as_of)


def agreements_signed() -> QuerySet[BusinessAssociateAgreement]:
    """Agreements that were executed at some point, whatever became of them since."""
    return BusinessAssociateAgreement.objects.filter(status__in=SIGNED_STATUSES, executed_on__isnull=False)


def covering(
    agreements: QuerySet[BusinessAssociateAgreement],
    *,
    as_of=None,
    vendor: str = "vendor",
    facility: str = "facility",
    organization: str = "facility__organization",
) -> QuerySet[BusinessAssociateAgreement]:
    """Narrow ``agreements`` to those covering the outer row's vendor at the outer row's facility: of
    the same organization and vendor, covering all facilities or this one on ``as_of`` (a date or an
    OuterRef to the outer row's date; None: at any time).

    For use inside Exists/Subquery: ``vendor``, ``facility`` and ``organization`` name the outer
    query's fields. The dated coverage as in ``AgreementSpan.covers_facility``.
    """
    listed = BusinessAssociateAgreement.covered_facilities.through.objects.filter(
        businessassociateagreement=OuterRef("pk"), facility=OuterRef(OuterRef(facility))
    )
    dated = FacilityCoverage.objects.filter(agreement=OuterRef("pk"), facility=OuterRef(OuterRef(facility)))
    scoped = agreements.filter(vendor=OuterRef(vendor), organization=OuterRef(organization))
    if as_of is None:
        return scoped.filter(Q(covers_all_facilities=True) | Q(Exists(listed)) | Q(Exists(dated)))
    day = _deeper(as_of)
    added_later = dated.filter(removed_on__isnull=True, added_on__gt=day)
    removed_since = dated.filter(removed_on__gt=day).filter(Q(added_on__isnull=True) | Q(added_on__lte=day))
    return scoped.filter(
        Q(covers_all_facilities=True) | (Q(Exists(listed)) & ~Q(Exists(added_later))) | Q(Exists(removed_since))
    )


def covering_in_force_on(day_field: str) -> QuerySet[BusinessAssociateAgreement]:
    """Agreements in force and covering the outer engagement on its own date ``day_field`` (e.g. its
    first PHI day). For use inside Exists."""
    day = OuterRef(day_field)
    return covering(agreements_in_force(day), as_of=day)


# --- Derived states for display ------------------------------------------------------------------


class AgreementState:
    """What an agreement is on a day, from its span (the labels pages and reports show)."""

    NOT_SIGNED = "not_signed"
    NOT_YET_IN_FORCE = "not_yet_in_force"
    IN_FORCE = "in_force"
    EXPIRING = "expiring"
    TERMINATING = "terminating"
    ENDED = "ended"

    LABELS = {
        NOT_SIGNED: "Not signed",
        NOT_YET_IN_FORCE: "Signed, not yet in force",
        IN_FORCE: "In force",
        EXPIRING: "Expiring",
        TERMINATING: "Terminating",
        ENDED: "No longer in force",
    }


@dataclass(frozen=True)
class AgreementStateOn:
    state: str
    label: str
    #: The day the state is about: in force from, ending on, ended on.
    on: datetime.date | None = None
    end_reason: str = ""


def agreement_state(span: AgreementSpan | None, as_of: datetime.date, *, horizon_days: int) -> AgreementStateOn:
    """The state of an agreement on ``as_of`` (``span`` None: not signed by then)."""
    if span is None:
        return AgreementStateOn(AgreementState.NOT_SIGNED, AgreementState.LABELS[AgreementState.NOT_SIGNED])
    if as_of < span.starts_on:
        return AgreementStateOn(
            AgreementState.NOT_YET_IN_FORCE, f"In force from {span.starts_on:%Y-%m-%d}", span.starts_on
        )
    if span.ends_on is not None and span.ends_on < as_of:
        return AgreementStateOn(
            AgreementState.ENDED,
            f"No longer in force since {span.ends_on + ONE_DAY:%Y-%m-%d}",
            span.ends_on,
            span.end_reason,
        )
    horizon_end = as_of + datetime.timedelta(days=horizon_days)
    if span.ends_on is not None and span.end_reason == EndReason.TERMINATED:
        return AgreementStateOn(
            AgreementState.TERMINATING,
            f"Terminating on {span.terminated_on:%Y-%m-%d}",
            span.terminated_on,
            span.end_reason,
        )
    if span.ends_on is not None and span.end_reason == EndReason.EXPIRES and span.ends_on <= horizon_end:
        return AgreementStateOn(
            AgreementState.EXPIRING, f"Expiring on {span.ends_on:%Y-%m-%d}", span.ends_on, span.end_reason
        )
    return AgreementStateOn(
        AgreementState.IN_FORCE, AgreementState.LABELS[AgreementState.IN_FORCE], span.ends_on, span.end_reason
    )


def subcontractor_bound_q(as_of: datetime.date) -> Q:
    """A subcontractor link whose downstream BAA is attested (and, if dated, executed) by ``as_of``:
    a future-dated attestation does not bind the subcontractor yet (rule 9)."""
    return Q(downstream_baa_attested_on__lte=as_of) & (
        Q(downstream_baa_executed_on__isnull=True) | Q(downstream_baa_executed_on__lte=as_of)
    )


def subcontractor_bound(link, as_of: datetime.date) -> bool:
    """``subcontractor_bound_q`` for one link already loaded (reports)."""
    attested, executed = link.downstream_baa_attested_on, link.downstream_baa_executed_on
    return attested is not None and attested <= as_of and (executed is None or executed <= as_of)


def checklist_item_due(next_review_on: datetime.date | None, as_of: datetime.date) -> bool:
    """A checklist item is overdue for review once its next review date has passed (rule 8b)."""
    return next_review_on is not None and next_review_on < as_of
