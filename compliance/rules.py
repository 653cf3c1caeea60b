"""The compliance rules: the one place that decides what is a finding.

Each rule is a small function that runs ONE set-based query over the whole inventory (or one
organization) and returns what it detected; nothing here queries per row, so the number of
queries does not grow with the data. Pages, alerts and reports consume the findings these rules
produce (see compliance.services.run_compliance) or the building blocks below (coverage); none of
them re-implements a rule.

Citations are to 45 CFR (HIPAA). See shared/domain/hipaa-baa.md.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from agreements.models import (
    AgreementDocument,
    DocumentKind,
)
from agreements.services import renewal_date, renewal_notice_deadline
from checklists.models import (
    COMPUTED_ITEM_NUMBERS,
    DONE_STATUSES,
    READER_ITEM_NUMBERS,
    TELERADIOLOGY_ITEMS,
    ChecklistItem,
)
from compliance import kinds
from compliance.models import BreachRiskAssessment, FindingKind, Severity
from compliance.timeline import (
    AgreementSpan,
    EndReason,
    EngagementTimeline,
    GapReason,
    Period,
    Timeline,
    agreements_in_force,
    agreements_not_ended,
    agreements_signed,
    build_timelines,
    covering,
    covering_in_force_on,
    engagements_with_phi_access,
    phi_access_q,
    subcontractor_bound_q,
)
from documents.models import OfficerVerdict, ProvisionReview, Safety
from documents.provisions import PROVISIONS
from facilities.models import USState
from readers.models import (
    PRACTISING_STATUSES,
    DistantSiteKind,
    Privilege,
    PrivilegeBasis,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
)
from vendors.models import Engagement, EngagementStatus, SubcontractorLink

#: 45 CFR 164.532(e): BAAs signed before this date had to be updated for the 2013 Omnibus rule.
OMNIBUS_COMPLIANCE_DATE = datetime.date(2013, 9, 23)
#: 45 CFR 164.410(b): a business associate reports a breach no later than 60 calendar days after discovery.
MAX_BREACH_NOTIFICATION_DAYS = 60
#: An expiring agreement is urgent (high severity) this close to its date.
URGENT_WITHIN_DAYS = 30
#: Manual items of the teleradiology checklist (items 1 to 3 are computed from the agreements and the
#: readers' records).
MANUAL_CHECKLIST_ITEMS = len(TELERADIOLOGY_ITEMS) - len(COMPUTED_ITEM_NUMBERS)


@dataclass(frozen=True)
class RuleContext:
    as_of: datetime.date
    horizon_days: int
    organization_id: int | None = None
    #: Teleradiology readers: a state license last verified longer ago than this is a finding.
    license_reverify_days: int = 365
    #: What the rules of one detect_all run share (rules 1 and 2 read the same uncovered engagements),
    #: so that it is queried once per run. detect_all gives each run a fresh one; None (a rule called
    #: on its own) shares nothing, so a context kept by a caller never serves stale rows.
    shared: dict | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def horizon_end(self) -> datetime.date:
        return self.as_of + datetime.timedelta(days=self.horizon_days)


@dataclass(frozen=True)
class Detection:
    """One problem detected by a rule, before it is matched with the stored findings."""

    kind: str
    severity: str
    organization_id: int
    vendor_id: int
    explanation: str
    engagement_id: int | None = None
    agreement_id: int | None = None
    subcontractor_link_id: int | None = None
    facility_id: int | None = None
    due_on: datetime.date | None = None
    #: Teleradiology readers: the radiologist concerned, and the subject when it is not one of the
    #: above (e.g. "state_license:12"), see the "Teleradiology readers" section.
    radiologist_id: int | None = None
    subject: str | None = None

    #: A finding about one period of an engagement (PHI disclosed without a BAA): its first day.
    period_starts_on: datetime.date | None = None

    def finding_fields(self) -> dict:
        """The fields of the Finding this detection opens (stored by run_compliance, or shown unsaved
        for another day by compliance.selectors.findings_as_of)."""
        return {
            "organization_id": self.organization_id,
            "kind": self.kind,
            "severity": self.severity,
            "subject_key": self.subject_key,
            "engagement_id": self.engagement_id,
            "agreement_id": self.agreement_id,
            "subcontractor_link_id": self.subcontractor_link_id,
            "radiologist_id": self.radiologist_id,
            "vendor_id": self.vendor_id,
            "facility_id": self.facility_id,
            "explanation": self.explanation,
            "due_on": self.due_on,
        }

    @property
    def subject_key(self) -> str:
        if self.subject is not None:
            return self.subject
        if self.engagement_id is not None and self.period_starts_on is not None:
            return f"engagement:{self.engagement_id}:{self.period_starts_on:%Y-%m-%d}"
        if self.engagement_id is not None:
            return f"engagement:{self.engagement_id}"
        if self.agreement_id is not None:
            return f"agreement:{self.agreement_id}"
        return f"subcontractor_link:{self.subcontractor_link_id}"


# --- Building blocks: the coverage timeline (compliance/timeline.py) -----------------------------

# Re-exported: the rules and the pages read coverage from the one timeline module.
__all__ = [
    "agreements_in_force",
    "agreements_not_ended",
    "agreements_signed",
    "covering",
    "covering_in_force_on",
    "engagements_with_phi_access",
    "phi_access_q",
]


def _once_per_run(ctx: RuleContext, key: str, build: Callable[[], object]):
    """What ``build`` returns, built once per run and shared by the rules that read it (through
    ``ctx.shared``; a context without it builds each time)."""
    shared = ctx.shared if ctx.shared is not None else {}
    if key not in shared:
        shared[key] = build()
    return shared[key]


def _timeline(ctx: RuleContext) -> Timeline:
    """The coverage timeline of the run, built once and shared by the rules that read it."""
    return _once_per_run(ctx, "timeline", lambda: build_timelines(ctx.as_of, organization_id=ctx.organization_id))


def _assessments(ctx: RuleContext) -> dict[int, list[tuple[datetime.date, datetime.date]]]:
    """Breach risk assessments recorded by ``as_of``, by engagement (one query per run)."""

    def build():
        rows = BreachRiskAssessment.objects.filter(assessed_on__lte=ctx.as_of)
        rows = _scoped(rows, ctx, "engagement__facility__organization")
        by_engagement: dict[int, list] = defaultdict(list)
        for engagement_id, first, last in rows.values_list("engagement_id", "period_starts_on", "period_ends_on"):
            by_engagement[engagement_id].append((first, last))
        return by_engagement

    return _once_per_run(ctx, "assessments", build)


def _assessed(ctx: RuleContext, engagement_id: int, first: datetime.date, last: datetime.date) -> bool:
    return any(a <= first and b >= last for a, b in _assessments(ctx).get(engagement_id, ()))


def _engagement_detection(t: EngagementTimeline, kind: str, severity: str, explanation: str, **extra) -> Detection:
    return Detection(
        kind=kind,
        severity=severity,
        organization_id=t.organization_id,
        vendor_id=t.vendor_id,
        facility_id=t.facility_id,
        engagement_id=t.engagement_id,
        explanation=explanation,
        **extra,
    )


def _how_it_ended(span: AgreementSpan, cause: str, facility_name: str, spans: dict[int, AgreementSpan]) -> str:
    if cause == EndReason.FACILITY_REMOVED:
        return f"stopped covering {facility_name}"
    if cause == EndReason.TERMINATED:
        return f"was terminated on {span.terminated_on:%Y-%m-%d}"
    if cause == EndReason.EXPIRES:
        return f"expired on {span.expires_on:%Y-%m-%d}"
    if cause == EndReason.SUPERSEDED and span.successor_id in spans:
        successor = spans[span.successor_id]
        return (
            f"was superseded on {successor.starts_on:%Y-%m-%d} by \u201c{successor.title}\u201d, which does not "
            f"cover {facility_name}"
        )
    return "is no longer in force"


# --- The rules ---------------------------------------------------------------------------------


def _scoped(queryset: QuerySet, ctx: RuleContext, organization_lookup: str) -> QuerySet:
    if ctx.organization_id is None:
        return queryset
    return queryset.filter(**{organization_lookup: ctx.organization_id})


_ENGAGEMENT_FIELDS = (
    "pk",
    "vendor_id",
    "facility_id",
    "vendor__legal_name",
    "vendor__category",
    "facility__name",
    "facility__organization_id",
    "phi_access_starts_on",
)


def _current_gaps(ctx: RuleContext) -> list[tuple[EngagementTimeline, Period]]:
    """Engagements uncovered on ``as_of`` while they have PHI access, with their uncovered period
    (found once per run: rules 1 and 2 split them)."""

    def build():
        gaps = []
        for t in _timeline(ctx).engagements.values():
            period = t.period_on(ctx.as_of)
            if period is not None and not period.covered:
                gaps.append((t, period))
        return gaps

    return _once_per_run(ctx, "current_gaps", build)


def missing_baa(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 1. PHI flows to a business associate and no BAA in force covers it, nor ever did before.

    45 CFR 164.502(e) and 164.504(e): a covered entity may disclose PHI to a business associate
    only under a written contract (the BAA), executed before any PHI access.
    """
    for t, period in _current_gaps(ctx):
        if period.reason != GapReason.NO_BAA:
            continue  # rule 2's case
        yield _engagement_detection(
            t,
            FindingKind.MISSING_BAA,
            Severity.CRITICAL,
            f"{t.vendor_name} has PHI access at {t.facility_name} but no executed BAA in force covers it: "
            "45 CFR 164.502(e) and 164.504(e) require a signed BAA before a business associate touches PHI.",
        )


def baa_lapsed(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 2. The BAA that covered the engagement ended (expired, terminated, superseded by one that
    does not cover the facility, or the facility was removed from it); PHI access continues.

    Reported instead of rule 1 when an agreement covered the engagement's PHI access before: the fix
    is a renewal, and the lapse date matters for the breach analysis (45 CFR 164.502(e)).
    """
    timeline = _timeline(ctx)
    for t, period in _current_gaps(ctx):
        if period.reason != GapReason.LAPSED:
            continue
        span = timeline.spans[period.previous_agreement_id]
        how = _how_it_ended(span, period.cause, t.facility_name, timeline.spans)
        yield _engagement_detection(
            t,
            FindingKind.BAA_LAPSED,
            Severity.CRITICAL,
            f"{t.vendor_name} still has PHI access at {t.facility_name}, but its BAA \u201c{span.title}\u201d "
            f"{how}: without a BAA in force every disclosure is impermissible under 45 CFR 164.502(e).",
            agreement_id=span.agreement_id,
        )


def baa_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 3. A BAA in force expires within the horizon and no signed successor supersedes it.

    For an auto-renewing BAA the date that matters is the non-renewal notice deadline. A lapse
    leaves the vendor without the contract 45 CFR 164.502(e) requires. A successor that starts late
    or drops a facility is rule 3c's case (a gap ahead), a termination rule 3b's.
    """
    for span in _timeline(ctx).spans.values():
        if not span.in_force_on(ctx.as_of) or span.successor_id is not None or span.expires_on is None:
            continue
        if span.end_reason == EndReason.OPEN and span.auto_renews:
            # The renewal date the nightly roll-forward will record, if it has not run yet.
            renews_on = renewal_date(span.expires_on, term_months=span.renewal_term_months, as_of=ctx.as_of)
            due_on = renewal_notice_deadline(renews_on, notice_days=span.renewal_notice_days)
            if due_on < ctx.as_of or due_on > ctx.horizon_end:
                continue  # past the notice deadline it renews; beyond the horizon it can wait
            what = (
                f"renews automatically on {renews_on:%Y-%m-%d}; the notice deadline to renegotiate or "
                f"stop it is {due_on:%Y-%m-%d}"
            )
        elif span.end_reason == EndReason.EXPIRES and span.ends_on <= ctx.horizon_end:
            due_on = span.ends_on
            what = f"expires on {due_on:%Y-%m-%d} and no executed successor agreement supersedes it"
        else:
            continue
        days_left = (due_on - ctx.as_of).days
        yield Detection(
            kind=FindingKind.BAA_EXPIRING,
            severity=Severity.HIGH if days_left <= URGENT_WITHIN_DAYS else Severity.MEDIUM,
            organization_id=span.organization_id,
            vendor_id=span.vendor_id,
            agreement_id=span.agreement_id,
            due_on=due_on,
            explanation=(
                f"The BAA \u201c{span.title}\u201d with {span.vendor_name} {what} ({days_left} days): "
                "renew it in time, or PHI disclosures lose the contract 45 CFR 164.502(e) requires."
            ),
        )


def baa_terminating(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 3b. A BAA in force has a termination date ahead: it covers until then, not after.

    A scheduled termination is not a lapse (the BAA is in force until its date); it is a warning,
    so that a successor is in place before PHI disclosures lose their contract (45 CFR 164.502(e)).
    """
    for span in _timeline(ctx).spans.values():
        if not span.in_force_on(ctx.as_of) or span.end_reason != EndReason.TERMINATED:
            continue
        days_left = (span.terminated_on - ctx.as_of).days
        yield Detection(
            kind=FindingKind.BAA_TERMINATING,
            severity=Severity.HIGH if days_left <= URGENT_WITHIN_DAYS else Severity.MEDIUM,
            organization_id=span.organization_id,
            vendor_id=span.vendor_id,
            agreement_id=span.agreement_id,
            due_on=span.terminated_on,
            explanation=(
                f"The BAA \u201c{span.title}\u201d with {span.vendor_name} is terminating on "
                f"{span.terminated_on:%Y-%m-%d} ({days_left} days): it covers PHI disclosures until then; without "
                "a new BAA in force from that day they are impermissible under 45 CFR 164.502(e)."
            ),
        )


def coverage_gap_ahead(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 3c. An engagement covered today has a gap ahead within the horizon although a successor
    is signed: the successor takes effect late, or does not cover the facility (or the facility's
    removal from the agreement is dated ahead). Days without a BAA while PHI flows are impermissible
    disclosures (45 CFR 164.502(e)); expiry or termination with no successor are rules 3 and 3b.
    """
    timeline = _timeline(ctx)
    for t in timeline.engagements.values():
        if not t.covered_on(ctx.as_of):
            continue
        gap = next((p for p in t.periods if not p.covered and p.starts_on > ctx.as_of), None)
        if gap is None or gap.starts_on > ctx.horizon_end or gap.previous_agreement_id is None:
            continue
        span = timeline.spans[gap.previous_agreement_id]
        successor = timeline.spans.get(span.successor_id) if span.successor_id is not None else None
        if gap.cause == EndReason.FACILITY_REMOVED:
            what = f"\u201c{span.title}\u201d stops covering {t.facility_name} on {gap.starts_on:%Y-%m-%d}"
        elif successor is None:
            continue  # rule 3 or 3b warns of an expiry or termination with no successor
        elif gap.cause == EndReason.SUPERSEDED:
            what = (
                f"its successor \u201c{successor.title}\u201d takes effect on {successor.starts_on:%Y-%m-%d} and does "
                f"not cover {t.facility_name}"
            )
        else:
            what = (
                f"\u201c{span.title}\u201d ends on {span.ends_on:%Y-%m-%d} and its successor "
                f"\u201c{successor.title}\u201d takes effect only on {successor.starts_on:%Y-%m-%d}"
            )
        length = f"{gap.days} days" if gap.days is not None else "open-ended"
        yield _engagement_detection(
            t,
            FindingKind.COVERAGE_GAP_AHEAD,
            Severity.HIGH,
            f"{t.vendor_name} at {t.facility_name} will have PHI access without a BAA in force from "
            f"{gap.starts_on:%Y-%m-%d} ({length}): {what}. 45 CFR 164.502(e) requires a BAA in force every day.",
            agreement_id=span.agreement_id,
            due_on=gap.starts_on,
        )


def _phi_before_baa(ctx: RuleContext, t: EngagementTimeline) -> tuple[datetime.date, AgreementSpan] | None:
    """Rule 4's case: the first PHI day was uncovered, and the coverage that ended that first gap came
    from a BAA executed after PHI access started. Its execution date and span, else None."""
    if t.phi_starts_on is None or t.phi_starts_on > ctx.as_of or len(t.periods) < 2 or t.periods[0].covered:
        return None
    span = _timeline(ctx).spans[t.periods[1].agreement_id]
    if span.executed_on <= t.phi_starts_on:
        return None  # signed in time, in force only later: a gap of its own (rule 4b)
    return span.executed_on, span


def phi_before_baa(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 4. PHI access started before the covering BAA was executed.

    The BAA must be executed before any PHI access (45 CFR 164.502(e)(1), 164.308(b)(1)); access
    before signature was an impermissible disclosure, even if a BAA exists now. It stays a finding
    until a breach risk assessment of that first period is recorded (45 CFR 164.402(2)).
    """
    for t in _timeline(ctx).engagements.values():
        found = _phi_before_baa(ctx, t)
        if found is None:
            continue
        first = t.periods[0]
        if (
            first.ends_on is not None
            and first.ends_on < ctx.as_of
            and _assessed(ctx, t.engagement_id, first.starts_on, first.ends_on)
        ):
            continue
        executed_on, _ = found
        gap = (executed_on - t.phi_starts_on).days
        yield _engagement_detection(
            t,
            FindingKind.PHI_BEFORE_BAA,
            Severity.HIGH,
            f"{t.vendor_name} had PHI access at {t.facility_name} from {t.phi_starts_on:%Y-%m-%d}, {gap} days "
            f"before a covering BAA was executed on {executed_on:%Y-%m-%d}: 45 CFR 164.502(e)(1) requires the BAA "
            "before any PHI access.",
            due_on=t.phi_starts_on,
        )


def phi_without_baa(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 4b. A past period of PHI access with no BAA in force: an impermissible disclosure.

    45 CFR 164.502(e): every day of PHI access outside a BAA in force was a disclosure the Privacy
    Rule does not permit; it does not heal when a BAA is signed later. It is presumed a breach unless
    a risk assessment of the four factors of 164.402(2) shows a low probability of compromise, so
    the finding stays open until such an assessment of the period is recorded (164.530(j)). The
    first period before a BAA executed later is rule 4's finding.
    """
    for t in _timeline(ctx).engagements.values():
        past = t.uncovered_before(ctx.as_of)
        if past and past[0] is t.periods[0] and _phi_before_baa(ctx, t) is not None:
            past = past[1:]
        for period in past:
            if _assessed(ctx, t.engagement_id, period.starts_on, period.ends_on):
                continue
            yield _engagement_detection(
                t,
                FindingKind.PHI_WITHOUT_BAA,
                Severity.HIGH,
                f"{t.vendor_name} had PHI access at {t.facility_name} from {period.starts_on:%Y-%m-%d} to "
                f"{period.ends_on:%Y-%m-%d} ({period.days} days) with no BAA in force: each disclosure was "
                "impermissible under 45 CFR 164.502(e). Record a breach risk assessment of the period "
                "(45 CFR 164.402(2), four factors).",
                due_on=period.starts_on,
                period_starts_on=period.starts_on,
            )


def _executed_agreements(ctx: RuleContext) -> QuerySet:
    """Signed by ``as_of`` and in force then or later (from their dates): a superseded BAA governs
    until its successor takes effect, so its defects matter until then; ended ones are rule 2's."""
    return _scoped(agreements_not_ended(ctx.as_of), ctx, "organization")


def _agreement_detection(row: dict, kind: str, severity: str, explanation: str) -> Detection:
    return Detection(
        kind=kind,
        severity=severity,
        organization_id=row["organization_id"],
        vendor_id=row["vendor_id"],
        agreement_id=row["pk"],
        explanation=explanation,
    )


_AGREEMENT_FIELDS = ("pk", "organization_id", "vendor_id", "vendor__legal_name", "title", "executed_on")


def no_signed_document(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 5. An executed BAA has no signed document on file.

    The BAA must be in writing (45 CFR 164.504(e)(1)) and kept 6 years (164.316(b)(2)(i)); an
    auditor asks for the signed copy, not a status in a database.
    """
    # A document the worker refused (active content, not a real PDF) is not a signed copy on file.
    signed_document = AgreementDocument.objects.filter(
        agreement=OuterRef("pk"), kind=DocumentKind.SIGNED_AGREEMENT
    ).exclude(reading__safety=Safety.REFUSED)
    rows = _executed_agreements(ctx).filter(~Exists(signed_document)).values(*_AGREEMENT_FIELDS)
    for row in rows:
        yield _agreement_detection(
            row,
            FindingKind.NO_SIGNED_DOCUMENT,
            Severity.MEDIUM,
            f"The BAA \u201c{row['title']}\u201d with {row['vendor__legal_name']} is marked executed but no signed "
            "document is on file: 45 CFR 164.504(e)(1) and 164.316(b)(2)(i) require the written agreement, kept "
            "6 years.",
        )


def breach_window_too_long(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 6. The BAA gives the vendor more than 60 days to report a breach (45 CFR 164.410(b))."""
    rows = (
        _executed_agreements(ctx)
        .filter(breach_notification_days__gt=MAX_BREACH_NOTIFICATION_DAYS)
        .values(*_AGREEMENT_FIELDS, "breach_notification_days")
    )
    for row in rows:
        yield _agreement_detection(
            row,
            FindingKind.BREACH_WINDOW_TOO_LONG,
            Severity.HIGH,
            f"The BAA \u201c{row['title']}\u201d with {row['vendor__legal_name']} allows "
            f"{row['breach_notification_days']} days to report a breach; 45 CFR 164.410(b) allows no more than "
            f"{MAX_BREACH_NOTIFICATION_DAYS} calendar days after discovery.",
        )


def pre_omnibus_baa(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 7. Executed before 2013-09-23 and neither amended nor superseded since (45 CFR 164.532(e))."""
    rows = (
        _executed_agreements(ctx)
        .filter(executed_on__lt=OMNIBUS_COMPLIANCE_DATE)
        # An amendment counts from its date: as of a day before it, the BAA was not yet amended.
        .filter(Q(amended_on__isnull=True) | Q(amended_on__lt=OMNIBUS_COMPLIANCE_DATE) | Q(amended_on__gt=ctx.as_of))
        .values(*_AGREEMENT_FIELDS)
    )
    for row in rows:
        yield _agreement_detection(
            row,
            FindingKind.PRE_OMNIBUS_BAA,
            Severity.HIGH,
            f"The BAA \u201c{row['title']}\u201d with {row['vendor__legal_name']} was executed on "
            f"{row['executed_on']:%Y-%m-%d} and never amended for the 2013 Omnibus rule: 45 CFR 164.532(e) required "
            "such agreements to be updated by 2014-09-22.",
        )


def _teleradiology_engagements(ctx: RuleContext) -> QuerySet[Engagement]:
    # An engagement that ended before ``as_of`` has no checklist to keep, whatever its status says.
    queryset = (
        Engagement.objects.filter(vendor__category__in=settings.CHECKLIST_VENDOR_CATEGORIES)
        .exclude(status=EngagementStatus.OFFBOARDED)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=ctx.as_of))
    )
    return _scoped(queryset, ctx, "facility__organization")


def checklist_incomplete(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 8a. A teleradiology engagement whose checklist items 4-7 are not all complete or N/A, or
    for which no radiologist is recorded as reading (items 2 and 3 cannot be met without one).

    Item 1 (BAA before PHI access) is computed and reported by rules 1, 2 and 4; items 2 and 3
    (licensure where the patient is, credentialing; 42 CFR 482.22(a)(3)) are computed from the
    readers' records and reported by rules R1, R3 and R4 for each radiologist. The others are the
    safeguards a facility must verify (45 CFR 164.308, 164.312).
    """
    done = Count(
        "teleradiology_checklist__items",
        filter=Q(teleradiology_checklist__items__status__in=DONE_STATUSES)
        & ~Q(teleradiology_checklist__items__number__in=COMPUTED_ITEM_NUMBERS),
    )
    readers = assignments_active_on(ctx.as_of).filter(engagement=OuterRef("pk"))
    rows = (
        _teleradiology_engagements(ctx)
        .annotate(items_done=done, has_readers=Exists(readers))
        .filter(Q(items_done__lt=MANUAL_CHECKLIST_ITEMS) | Q(has_readers=False))
        .values(*_ENGAGEMENT_FIELDS, "status", "items_done", "has_readers")
    )
    for row in rows:
        open_items = MANUAL_CHECKLIST_ITEMS - row["items_done"]
        parts = []
        if open_items:
            parts.append(f"{open_items} of {MANUAL_CHECKLIST_ITEMS} verified items open")
        if not row["has_readers"]:
            parts.append(
                f"no reading radiologist recorded, so items {READER_ITEM_NUMBERS[0]} and "
                f"{READER_ITEM_NUMBERS[1]} (licensure and privileges) cannot be met"
            )
        yield Detection(
            kind=FindingKind.CHECKLIST_INCOMPLETE,
            severity=Severity.HIGH if row["status"] == EngagementStatus.ACTIVE else Severity.MEDIUM,
            organization_id=row["facility__organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["pk"],
            explanation=(
                f"The teleradiology checklist for {row['vendor__legal_name']} at {row['facility__name']} has "
                f"{' and '.join(parts)}: licensure where the patient is, credentialing (42 CFR 482.22(a)(3)) and the "
                "safeguards of 45 CFR 164.308 and 164.312 must be verified with evidence."
            ),
        )


def checklist_review_overdue(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 8b. A checklist item's next review date has passed (evidence goes stale: licenses lapse)."""
    items = (
        ChecklistItem.objects.filter(
            next_review_on__lt=ctx.as_of, checklist__engagement__in=_teleradiology_engagements(ctx)
        )
        .exclude(number__in=COMPUTED_ITEM_NUMBERS)
        .order_by("checklist__engagement_id", "number")
        .values(
            "number",
            "next_review_on",
            engagement_id=F("checklist__engagement_id"),
            vendor_id=F("checklist__engagement__vendor_id"),
            vendor_name=F("checklist__engagement__vendor__legal_name"),
            facility_id=F("checklist__engagement__facility_id"),
            facility_name=F("checklist__engagement__facility__name"),
            organization_id=F("checklist__engagement__facility__organization_id"),
        )
    )
    by_engagement: dict[int, list[dict]] = defaultdict(list)
    for item in items:
        by_engagement[item["engagement_id"]].append(item)
    for engagement_id, overdue in by_engagement.items():
        first = overdue[0]
        numbers = ", ".join(str(item["number"]) for item in overdue)
        oldest = min(item["next_review_on"] for item in overdue)
        yield Detection(
            kind=FindingKind.CHECKLIST_REVIEW_OVERDUE,
            severity=Severity.MEDIUM,
            organization_id=first["organization_id"],
            vendor_id=first["vendor_id"],
            facility_id=first["facility_id"],
            engagement_id=engagement_id,
            due_on=oldest,
            explanation=(
                f"The teleradiology checklist for {first['vendor_name']} at {first['facility_name']} has item(s) "
                f"{numbers} overdue for review since {oldest:%Y-%m-%d}: licenses, credentials and safeguards must be "
                "re-verified (45 CFR 164.308(a)(8) periodic evaluation)."
            ),
        )


def subcontractor_gap(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 9. A vendor's subcontractor touches PHI with no attested downstream BAA.

    45 CFR 164.502(e)(1)(ii) and 164.308(b)(2): the business associate must bind its subcontractors
    with a BAA of its own; the covered entity should obtain that assurance.
    """
    # Only an attestation (and a downstream BAA) dated on or before ``as_of`` counts: a future-dated
    # one does not bind the subcontractor yet.
    attested = subcontractor_bound_q(ctx.as_of)
    queryset = (
        SubcontractorLink.objects.filter(touches_phi=True, subcontractor__is_conduit=False)
        .filter(Q(phi_access_starts_on__isnull=True) | Q(phi_access_starts_on__lte=ctx.as_of))
        .exclude(attested)
    )
    rows = _scoped(queryset, ctx, "vendor__organization").values(
        "pk", "vendor_id", "vendor__legal_name", "subcontractor__legal_name", "vendor__organization_id"
    )
    for row in rows:
        yield Detection(
            kind=FindingKind.SUBCONTRACTOR_GAP,
            severity=Severity.HIGH,
            organization_id=row["vendor__organization_id"],
            vendor_id=row["vendor_id"],
            subcontractor_link_id=row["pk"],
            explanation=(
                f"{row['subcontractor__legal_name']} handles PHI as a subcontractor of {row['vendor__legal_name']}, "
                "and no downstream BAA is attested: 45 CFR 164.502(e)(1)(ii) and 164.308(b)(2) require the vendor to "
                "bind it with a BAA."
            ),
        )


def baa_lacks_provision(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 10. The signed BAA lacks one of the provisions 45 CFR 164.504(e)(2) requires (P1-P12).

    From the provision review of its signed document (documents.provisions): a provision the officer
    confirmed missing, or one not found that the officer has not confirmed present. One finding per
    agreement, citing each missing paragraph.
    """
    missing = Q(officer_verdict=OfficerVerdict.MISSING) | Q(officer_verdict="", detected=False)
    rows = (
        ProvisionReview.objects.filter(missing, agreement__in=_executed_agreements(ctx))
        .order_by("agreement_id", "provision")
        .values(
            "agreement_id",
            "provision",
            "officer_verdict",
            organization_id=F("agreement__organization_id"),
            vendor_id=F("agreement__vendor_id"),
            vendor_name=F("agreement__vendor__legal_name"),
            title=F("agreement__title"),
        )
    )
    by_agreement: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_agreement[row["agreement_id"]].append(row)
    for agreement_id, items in by_agreement.items():
        first = items[0]
        items.sort(key=lambda item: int(item["provision"][1:]))
        listed = "; ".join(
            f"{item['provision']} {PROVISIONS[item['provision']][0].lower()} ({PROVISIONS[item['provision']][1]}"
            f"{', confirmed missing' if item['officer_verdict'] else ', not found'})"
            for item in items
        )
        yield Detection(
            kind=FindingKind.BAA_LACKS_PROVISION,
            severity=Severity.HIGH,
            organization_id=first["organization_id"],
            vendor_id=first["vendor_id"],
            agreement_id=agreement_id,
            explanation=(
                f"The BAA \u201c{first['title']}\u201d with {first['vendor_name']} lacks "
                f"{'a required provision' if len(items) == 1 else f'{len(items)} required provisions'} of 45 CFR "
                f"164.504(e)(2): {listed}. Amend the agreement, or confirm on the agreement page where the text is."
            ),
        )


# --- Teleradiology readers (readers app) --------------------------------------------------------
#
# The reading radiologists of teleradiology vendors: licensed where the patient is (checklist item
# 2) and privileged at the facility, directly or by proxy under a written agreement (item 3;
# 42 CFR 482.22(a)(3)-(4), 482.12(a)(8), 485.616(c)). What holds on a day is derived from the dated
# facts (roster, assignment, license, privilege and agreement dates), so the rules answer for any
# ``as_of``. A facility that moves state needs licenses of its new state from the day it moves: the
# rules read the facility's state as recorded.


def on_roster_q(day: datetime.date, prefix: str = "") -> Q:
    """The radiologist (``prefix`` leads to it) is on the vendor's roster on ``day``."""
    return Q(**{f"{prefix}roster_starts_on__lte": day}) & (
        Q(**{f"{prefix}roster_ends_on__isnull": True}) | Q(**{f"{prefix}roster_ends_on__gte": day})
    )


def on_roster(radiologist: Radiologist, day: datetime.date) -> bool:
    """The Python form of on_roster_q, for a radiologist already loaded (the day they leave is their last)."""
    ends_on = radiologist.roster_ends_on
    return radiologist.roster_starts_on <= day and (ends_on is None or ends_on >= day)


def assignments_active_on(day: datetime.date) -> QuerySet[ReadingAssignment]:
    """Radiologists reading for a teleradiology engagement on ``day``: the assignment runs, the
    radiologist is on the roster, and the engagement is neither offboarded nor ended."""
    return (
        ReadingAssignment.objects.filter(starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .filter(on_roster_q(day, "radiologist__"))
        .filter(engagement__vendor__category__in=settings.CHECKLIST_VENDOR_CATEGORIES)
        .exclude(engagement__status=EngagementStatus.OFFBOARDED)
        .filter(Q(engagement__ends_on__isnull=True) | Q(engagement__ends_on__gte=day))
    )


def licenses_practising_on(day: datetime.date) -> QuerySet[StateLicense]:
    """Licenses that allow practising on ``day``: issued, not past their expiry (valid through the
    expiry date itself), and active as the board reports. An IMLC letter of qualification alone is
    not a license; a license issued through the compact is one like any other."""
    # A license with no expiry date recorded (listed by NPPES, not yet verified at the board) does not count.
    return StateLicense.objects.filter(status__in=PRACTISING_STATUSES, expires_on__gte=day).filter(
        Q(issued_on__isnull=True) | Q(issued_on__lte=day)
    )


def licensed_where(day: datetime.date, *, radiologist: str = "radiologist", state: str) -> Exists:
    """The outer row's radiologist holds a practising license of the outer row's ``state`` on ``day``."""
    return Exists(licenses_practising_on(day).filter(radiologist=OuterRef(radiologist), state=OuterRef(state)))


def proxy_agreements_in_force(day: datetime.date) -> QuerySet[ProxyCredentialingAgreement]:
    """Written proxy-credentialing agreements in force on ``day`` with a distant site that qualifies:
    a Medicare-participating hospital or a telemedicine entity (42 CFR 482.22(a)(3)-(4)). Written
    means the signed document is on file."""
    return (
        ProxyCredentialingAgreement.objects.filter(effective_on__lte=day)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=day))
        .filter(Q(terminated_on__isnull=True) | Q(terminated_on__gt=day))
        .exclude(document="")
        .filter(Q(distant_site_kind=DistantSiteKind.TELEMEDICINE_ENTITY) | Q(medicare_participating=True))
    )


def privileges_current_on(day: datetime.date) -> QuerySet[Privilege]:
    return Privilege.objects.filter(granted_on__lte=day, expires_on__gte=day)


def license_renewed() -> Exists:
    """The outer license has a renewal on record: a practising license of the same radiologist and
    state that expires later. Its expiry is then no longer due (rule R2a, the calendar feed)."""
    return Exists(
        StateLicense.objects.filter(
            radiologist=OuterRef("radiologist"),
            state=OuterRef("state"),
            status__in=PRACTISING_STATUSES,
            expires_on__gt=OuterRef("expires_on"),
        )
    )


def privilege_reappointed() -> Exists:
    """The outer privileges have a reappointment on record: later privileges of the same radiologist at
    the same facility (rule R2c, the calendar feed)."""
    return Exists(
        Privilege.objects.filter(
            radiologist=OuterRef("radiologist"), facility=OuterRef("facility"), expires_on__gt=OuterRef("expires_on")
        )
    )


def privileges_valid_on(day: datetime.date) -> QuerySet[Privilege]:
    """Current privileges on a sound basis: granted directly, or by proxy with an agreement in force
    between the facility and the radiologist's vendor."""
    agreement = proxy_agreements_in_force(day).filter(
        facility=OuterRef("facility"), vendor=OuterRef("radiologist__vendor")
    )
    return privileges_current_on(day).filter(Q(basis=PrivilegeBasis.DIRECT) | Q(Exists(agreement)))


def with_reader_items_computed(engagements: QuerySet[Engagement], as_of: datetime.date) -> QuerySet[Engagement]:
    """Annotate teleradiology checklist items 2 and 3, computed from the readers' records with the same
    building blocks as the rules below, so that the checklist and the findings never disagree:

    * ``has_readers``: someone reads for the engagement on ``as_of`` (without a roster neither item
      can be met);
    * ``readers_licensed`` (item 2): every one of them holds a practising license of the facility's state;
    * ``readers_privileged`` (item 3): every one of them holds current privileges at the facility,
      directly or by proxy under a written agreement in force.
    """
    readers = assignments_active_on(as_of).filter(engagement=OuterRef("pk"))
    unlicensed = readers.filter(~licensed_where(as_of, state="engagement__facility__state"))
    unprivileged = readers.filter(
        ~Exists(
            privileges_valid_on(as_of).filter(
                radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
            )
        )
    )
    return engagements.annotate(
        has_readers=Exists(readers),
        readers_licensed=ExpressionWrapper(Q(Exists(readers)) & ~Q(Exists(unlicensed)), output_field=BooleanField()),
        readers_privileged=ExpressionWrapper(
            Q(Exists(readers)) & ~Q(Exists(unprivileged)), output_field=BooleanField()
        ),
    )


def with_reader_standing(assignments: QuerySet[ReadingAssignment], as_of: datetime.date) -> QuerySet[ReadingAssignment]:
    """Annotate each assignment with what items 2 and 3 ask of its radiologist on ``as_of``:
    ``licensed`` (a practising license of the facility's state), ``privileged`` (current privileges
    at the facility) and ``privileged_validly`` (current and on a sound basis, see privileges_valid_on).
    For the pages; the same building blocks as the rules."""
    current = privileges_current_on(as_of).filter(
        radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
    )
    valid = privileges_valid_on(as_of).filter(
        radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
    )
    return assignments.annotate(
        licensed=licensed_where(as_of, state="engagement__facility__state"),
        privileged=Exists(current),
        privileged_validly=Exists(valid),
    )


#: "First Last" of the radiologist a reader row is about, for the explanations.
RADIOLOGIST_NAME = Concat("radiologist__first_name", Value(" "), "radiologist__last_name")

#: The values each reader rule reads about a row, by the model the rule scans: who, for which vendor,
#: where and in which organization (the names for the explanations).
_ASSIGNMENT_FIELDS = {
    "radiologist_name": RADIOLOGIST_NAME,
    "vendor_id": F("engagement__vendor_id"),
    "vendor_name": F("engagement__vendor__legal_name"),
    "facility_id": F("engagement__facility_id"),
    "facility_name": F("engagement__facility__name"),
    "facility_state": F("engagement__facility__state"),
    "organization_id": F("engagement__facility__organization_id"),
}


def _state_name(code: str) -> str:
    return USState(code).label if code in USState.values else code


_LICENSE_FIELDS = {
    "radiologist_name": RADIOLOGIST_NAME,
    "vendor_id": F("radiologist__vendor_id"),
    "organization_id": F("radiologist__vendor__organization_id"),
}
_PRIVILEGE_FIELDS = {
    "radiologist_name": RADIOLOGIST_NAME,
    "vendor_id": F("radiologist__vendor_id"),
    "facility_name": F("facility__name"),
    "organization_id": F("facility__organization_id"),
}


def reader_unlicensed(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R1. A radiologist reads for a facility without a practising license of the facility's state.

    Medicine is practised where the patient is (ACR; the Interstate Medical Licensure Compact still
    yields one license per state); a hospital relying on a distant site must ensure its
    radiologists hold a license recognized by its state (42 CFR 482.22(a)(3)(iv)).
    """
    queryset = assignments_active_on(ctx.as_of).filter(~licensed_where(ctx.as_of, state="engagement__facility__state"))
    rows = _scoped(queryset, ctx, "engagement__facility__organization").values(
        "pk", "radiologist_id", "engagement_id", **_ASSIGNMENT_FIELDS
    )
    for row in rows:
        state = _state_name(row["facility_state"])
        yield Detection(
            kind=FindingKind.READER_UNLICENSED,
            severity=Severity.CRITICAL,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["engagement_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"reading_assignment:{row['pk']}",
            explanation=(
                f"{row['radiologist_name']} reads for {row['facility_name']} through {row['vendor_name']} but holds no "
                f"active {state} license: the radiologist must be licensed where the patient is "
                "(42 CFR 482.22(a)(3)(iv))."
            ),
        )


def reader_license_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R2a. A practising state license of a radiologist on the roster expires within the horizon
    and no renewal of the same state is recorded. Reminders follow the license calendar
    (settings.ALERT_LEAD_DAYS: 90, 60, 30, 14, 7 and 1 days before)."""
    end = ctx.horizon_end
    licenses = (
        licenses_practising_on(ctx.as_of)
        .filter(expires_on__lte=end)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(~license_renewed())
    )
    license_rows = _scoped(licenses, ctx, "radiologist__vendor__organization").values(
        "pk", "radiologist_id", "state", "number", "expires_on", **_LICENSE_FIELDS
    )
    for row in license_rows:
        days_left = (row["expires_on"] - ctx.as_of).days
        yield Detection(
            kind=FindingKind.READER_LICENSE_EXPIRING,
            severity=Severity.MEDIUM,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"state_license:{row['pk']}",
            due_on=row["expires_on"],
            explanation=(
                f"The {_state_name(row['state'])} license {row['number']} of {row['radiologist_name']} expires on "
                f"{row['expires_on']:%Y-%m-%d} ({days_left} days) and no renewal is recorded: without it the "
                "radiologist may not read for that state's facilities (42 CFR 482.22(a)(3)(iv))."
            ),
        )


def reader_board_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R2b. The board certification of a radiologist on the roster expires within the horizon:
    credentialing relies on it (42 CFR 482.22(c)(4)). Reminders as for licenses."""
    end = ctx.horizon_end
    boards = Radiologist.objects.filter(on_roster_q(ctx.as_of)).filter(
        board_certification_expires_on__gte=ctx.as_of, board_certification_expires_on__lte=end
    )
    board_rows = _scoped(boards, ctx, "vendor__organization").values(
        "pk",
        "first_name",
        "last_name",
        "board",
        "board_certification_expires_on",
        "vendor_id",
        "vendor__organization_id",
    )
    for row in board_rows:
        expires_on = row["board_certification_expires_on"]
        yield Detection(
            kind=FindingKind.READER_BOARD_EXPIRING,
            severity=Severity.MEDIUM,
            organization_id=row["vendor__organization_id"],
            vendor_id=row["vendor_id"],
            radiologist_id=row["pk"],
            subject=f"board_certification:{row['pk']}",
            due_on=expires_on,
            explanation=(
                f"The board certification ({row['board'] or 'board'}) of {row['first_name']} {row['last_name']} "
                f"expires on {expires_on:%Y-%m-%d} ({(expires_on - ctx.as_of).days} days): credentialing relies on it "
                "(42 CFR 482.22(c)(4))."
            ),
        )


def reader_privilege_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R2c. The privileges of a radiologist on the roster at a facility end within the horizon
    and no reappointment (later privileges there) is recorded (42 CFR 482.22(a)(1)-(2)). Reminders as
    for licenses."""
    end = ctx.horizon_end
    privileges = (
        privileges_current_on(ctx.as_of)
        .filter(expires_on__lte=end)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(~privilege_reappointed())
    )
    privilege_rows = _scoped(privileges, ctx, "facility__organization").values(
        "pk", "radiologist_id", "facility_id", "expires_on", **_PRIVILEGE_FIELDS
    )
    for row in privilege_rows:
        yield Detection(
            kind=FindingKind.READER_PRIVILEGE_EXPIRING,
            severity=Severity.MEDIUM,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"privilege:{row['pk']}",
            due_on=row["expires_on"],
            explanation=(
                f"The privileges of {row['radiologist_name']} at {row['facility_name']} end on "
                f"{row['expires_on']:%Y-%m-%d} ({(row['expires_on'] - ctx.as_of).days} days) and no reappointment is "
                "recorded (42 CFR 482.22(a)(1)-(2): appointment and privileges by the medical staff)."
            ),
        )


def reader_not_privileged(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R3. A radiologist reads for a facility without current privileges there (none granted, or
    expired). 42 CFR 482.22(a): every practitioner is appointed and privileged by the medical staff,
    directly or by proxy (482.22(a)(3)-(4); critical access hospitals 485.616(c))."""
    current = privileges_current_on(ctx.as_of).filter(
        radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
    )
    ended = (
        Privilege.objects.filter(
            radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility"), expires_on__lt=ctx.as_of
        )
        .order_by("-expires_on")
        .values("expires_on")[:1]
    )
    queryset = assignments_active_on(ctx.as_of).filter(~Exists(current)).annotate(ended_on=Subquery(ended))
    rows = _scoped(queryset, ctx, "engagement__facility__organization").values(
        "pk", "radiologist_id", "engagement_id", "ended_on", **_ASSIGNMENT_FIELDS
    )
    for row in rows:
        what = (
            f"whose privileges there ended on {row['ended_on']:%Y-%m-%d}"
            if row["ended_on"]
            else "with no privileges there"
        )
        yield Detection(
            kind=FindingKind.READER_NOT_PRIVILEGED,
            severity=Severity.HIGH,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["engagement_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"reading_assignment:{row['pk']}",
            explanation=(
                f"{row['radiologist_name']} reads for {row['facility_name']} through {row['vendor_name']} {what}: "
                "42 CFR 482.22(a) requires appointment and privileges, granted directly or by proxy."
            ),
        )


def reader_proxy_without_agreement(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R4. Current privileges granted by proxy with no written agreement in force between the
    facility and the distant site (the radiologist's vendor), or with one whose distant site does not
    qualify (a hospital not participating in Medicare). 42 CFR 482.22(a)(3)-(4), 482.12(a)(8);
    485.616(c) for critical access hospitals."""
    agreement = proxy_agreements_in_force(ctx.as_of).filter(
        facility=OuterRef("facility"), vendor=OuterRef("radiologist__vendor")
    )
    queryset = (
        privileges_current_on(ctx.as_of)
        .filter(basis=PrivilegeBasis.PROXY)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(~Exists(agreement))
    )
    rows = _scoped(queryset, ctx, "facility__organization").values(
        "pk", "radiologist_id", "facility_id", vendor_name=F("radiologist__vendor__legal_name"), **_PRIVILEGE_FIELDS
    )
    for row in rows:
        yield Detection(
            kind=FindingKind.READER_PROXY_WITHOUT_AGREEMENT,
            severity=Severity.HIGH,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"privilege:{row['pk']}",
            explanation=(
                f"{row['facility_name']} privileges {row['radiologist_name']} by proxy, relying on "
                f"{row['vendor_name']}, but no signed proxy credentialing agreement with a qualifying distant site "
                "(a Medicare-participating hospital or a telemedicine entity) is in force: 42 CFR 482.22(a)(3)-(4) "
                "and 482.12(a)(8) require it."
            ),
        )


def reader_license_not_reverified(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R5. A practising license of a radiologist on the roster was last verified at the source
    longer ago than the configured period (settings.READER_LICENSE_REVERIFY_DAYS), or never:
    licenses get conditions, suspensions and revocations between renewals (45 CFR 164.308(a)(8),
    periodic evaluation; primary-source verification)."""
    cutoff = ctx.as_of - datetime.timedelta(days=ctx.license_reverify_days)
    queryset = (
        licenses_practising_on(ctx.as_of)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(Q(verified_on__isnull=True) | Q(verified_on__lt=cutoff))
    )
    rows = _scoped(queryset, ctx, "radiologist__vendor__organization").values(
        "pk", "radiologist_id", "state", "number", "verified_on", **_LICENSE_FIELDS
    )
    for row in rows:
        when = f"last verified on {row['verified_on']:%Y-%m-%d}" if row["verified_on"] else "never verified"
        yield Detection(
            kind=FindingKind.READER_LICENSE_NOT_REVERIFIED,
            severity=Severity.MEDIUM,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"state_license:{row['pk']}",
            due_on=row["verified_on"] + datetime.timedelta(days=ctx.license_reverify_days)
            if row["verified_on"]
            else None,
            explanation=(
                f"The {_state_name(row['state'])} license {row['number']} of {row['radiologist_name']} was {when}: "
                "re-verify it at the source (state board, FSMB DocInfo) at least every "
                f"{ctx.license_reverify_days} days."
            ),
        )


@dataclass(frozen=True)
class Rule:
    kind: str
    detect: Callable[[RuleContext], Iterable[Detection]]

    @property
    def citation(self) -> str:
        """The regulation, from the kind's declaration (compliance/kinds.py)."""
        return kinds.get(self.kind).citation


#: Every rule, in the order of the product's specification. One finding kind per rule; everything
#: else about a kind (label, citation, severity rule, fix, alert wording) is in compliance/kinds.py.
RULES: tuple[Rule, ...] = (
    Rule(FindingKind.MISSING_BAA, missing_baa),
    Rule(FindingKind.BAA_LAPSED, baa_lapsed),
    Rule(FindingKind.BAA_EXPIRING, baa_expiring),
    Rule(FindingKind.PHI_BEFORE_BAA, phi_before_baa),
    Rule(FindingKind.NO_SIGNED_DOCUMENT, no_signed_document),
    Rule(FindingKind.BREACH_WINDOW_TOO_LONG, breach_window_too_long),
    Rule(FindingKind.PRE_OMNIBUS_BAA, pre_omnibus_baa),
    Rule(FindingKind.CHECKLIST_INCOMPLETE, checklist_incomplete),
    Rule(FindingKind.CHECKLIST_REVIEW_OVERDUE, checklist_review_overdue),
    Rule(FindingKind.SUBCONTRACTOR_GAP, subcontractor_gap),
    Rule(FindingKind.BAA_LACKS_PROVISION, baa_lacks_provision),
    # Coverage over time (issue 11).
    Rule(FindingKind.PHI_WITHOUT_BAA, phi_without_baa),
    Rule(FindingKind.BAA_TERMINATING, baa_terminating),
    Rule(FindingKind.COVERAGE_GAP_AHEAD, coverage_gap_ahead),
    # Teleradiology readers (the "Teleradiology readers" section above).
    Rule(FindingKind.READER_UNLICENSED, reader_unlicensed),
    Rule(FindingKind.READER_LICENSE_EXPIRING, reader_license_expiring),
    Rule(FindingKind.READER_BOARD_EXPIRING, reader_board_expiring),
    Rule(FindingKind.READER_PRIVILEGE_EXPIRING, reader_privilege_expiring),
    Rule(FindingKind.READER_NOT_PRIVILEGED, reader_not_privileged),
    Rule(FindingKind.READER_PROXY_WITHOUT_AGREEMENT, reader_proxy_without_agreement),
    Rule(FindingKind.READER_LICENSE_NOT_REVERIFIED, reader_license_not_reverified),
)
RULE_BY_KIND: dict[str, Rule] = {rule.kind: rule for rule in RULES}


def active_rules() -> tuple[Rule, ...]:
    """RULES, and the rules of kinds registered with their own ``detect`` (compliance/kinds.py)."""
    extra = tuple(
        Rule(spec.value, spec.detect) for spec in kinds.all_kinds() if spec.detect and spec.value not in RULE_BY_KIND
    )
    return RULES + extra


def detect_all(ctx: RuleContext) -> list[Detection]:
    """Every problem the rules detect: a fixed number of queries (the shared timeline, then at most
    one per rule), whatever the size of the data. Writes nothing."""
    run = replace(ctx, shared={})
    with cyclic_gc_paused():
        return [detection for rule in active_rules() for detection in rule.detect(run)]


@contextlib.contextmanager
def cyclic_gc_paused():
    """Pause CPython's cyclic garbage collector while the rules run (and build the run's timeline).

    A run at health-system size creates over a million small records (timelines, periods, rows) that
    all stay alive until it ends; each time they grow by a quarter, the collector traverses all of
    them again, which was a third of the run at large size (docs/benchmarks.md). Reference counting
    still frees whatever is dropped during the run; the rare cycle (an ORM query tree) waits for the
    collector, which resumes as it was when the rules are done, even if one raises.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def with_item_one_computed(engagements: QuerySet[Engagement], as_of: datetime.date) -> QuerySet[Engagement]:
    """Annotate ``baa_before_phi``: teleradiology checklist item 1, computed from the agreements' dates.

    True when a BAA in force covers the engagement on ``as_of`` and, if PHI access has started, a
    covering BAA was in force on its first day (from the effective date, not the execution date).
    The timeline's definitions, so the checklist and rules 1, 2 and 4 never disagree.
    """
    phi_not_started = Q(phi_access_starts_on__isnull=True) | Q(phi_access_starts_on__gt=as_of)
    return engagements.annotate(
        baa_before_phi=ExpressionWrapper(
            Q(Exists(covering(agreements_in_force(as_of), as_of=as_of)))
            & (phi_not_started | Q(Exists(covering_in_force_on("phi_access_starts_on")))),
            output_field=BooleanField(),
        )
    )
