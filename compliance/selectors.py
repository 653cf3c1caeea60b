"""Reads of the compliance pages: the dashboard, the coverage matrix and the findings.

Every number comes from the findings the rules engine stored or from the engine's building blocks
(compliance.rules: engagements_with_phi_access, agreements_in_force, covering); nothing here decides
what is a finding. Every queryset goes through the permission gate (``restrict``). Each selector
runs a fixed number of queries, whatever the amount of data.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import TruncMonth
from django.utils import timezone

from agreements.models import BusinessAssociateAgreement
from compliance import kinds
from compliance.models import SEVERITY_RANK, ComplianceRunState, Finding, FindingKind, Severity
from compliance.timeline import (
    AgreementState,
    EndReason,
    agreement_spans,
    agreement_state,
    agreements_in_force,
    build_timelines,
    covering,
    engagements_with_phi_access,
)
from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Engagement, Vendor

#: How many findings the dashboard lists, most urgent first.
DASHBOARD_URGENT_FINDINGS = 10
#: The expiry chart looks this many months ahead, starting with the current month.
EXPIRY_CHART_MONTHS = 12


def severity_rank() -> Case:
    """Critical first, then high, medium, low: for ``order_by``."""
    return Case(
        *[When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()],
        default=Value(len(SEVERITY_RANK)),
        output_field=IntegerField(),
    )


def findings_by_urgency(queryset: QuerySet[Finding]) -> QuerySet[Finding]:
    """Most urgent first: severity, then the nearest date the finding is about, then the oldest.

    Where NULLs go is said explicitly, as PostgreSQL (production) sorts them: SQLite put them first,
    so undated findings led the dashboard there and trailed it in production."""
    return queryset.annotate(severity_rank=severity_rank()).order_by(
        "severity_rank",
        F("resolved_at").asc(nulls_last=True),
        F("due_on").asc(nulls_last=True),
        "first_seen_at",
        "pk",
    )


def compliance_run_pending(user) -> bool:
    """Whether an edit of the user's organization waits for the background run of the rules engine
    (compliance.services.schedule_compliance_run): the findings shown may not reflect it yet."""
    state = ComplianceRunState.objects.restrict(user, Action.VIEW).first()
    return state is not None and state.is_pending


def findings_visible_to(user) -> QuerySet[Finding]:
    return Finding.objects.restrict(user, Action.VIEW).select_related(
        "vendor",
        "facility",
        "engagement",
        "engagement__facility",
        "engagement__vendor",
        "agreement",
        "subcontractor_link",
        "subcontractor_link__vendor",
        "subcontractor_link__subcontractor",
        "acknowledged_by",
    )


# --- Dashboard ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class FacilityCompliance:
    facility: Facility
    engagements: int
    covered: int
    open_findings: int
    critical_findings: int

    @property
    def rate(self) -> int | None:
        """Percent of the facility's PHI engagements covered by an executed BAA in force."""
        if not self.engagements:
            return None
        return round(100 * self.covered / self.engagements)

    @property
    def gaps(self) -> int:
        return self.engagements - self.covered


@dataclass(frozen=True)
class ExpiryMonth:
    month: datetime.date
    expiring: int
    auto_renewing: int

    @property
    def total(self) -> int:
        return self.expiring + self.auto_renewing


@dataclass
class Dashboard:
    as_of: datetime.date
    vendors_with_phi: int
    vendors_covered: int
    severity_counts: list[SeverityCount]
    facilities: list[FacilityCompliance]
    expirations: list[ExpiryMonth]
    urgent_findings: list[Finding]
    acknowledged_open: int = 0

    @property
    def vendors_with_gaps(self) -> int:
        return self.vendors_with_phi - self.vendors_covered

    @property
    def open_findings(self) -> int:
        return sum(item.count for item in self.severity_counts)

    @property
    def coverage_rate(self) -> int | None:
        if not self.vendors_with_phi:
            return None
        return round(100 * self.vendors_covered / self.vendors_with_phi)


def _covered_q(user, as_of: datetime.date) -> Q:
    """Covered by an executed BAA in force. Through the permission gate like everything else: an
    agreement covering a facility the user sees is visible to the user, and the gate narrows the
    agreements to the organization's, which lets PostgreSQL use the (organization, vendor, status) index."""
    return Q(Exists(covering(agreements_in_force(as_of).restrict(user, Action.VIEW), as_of=as_of)))


def findings_as_of(
    user, organization_id: int, as_of: datetime.date, *, facility_id: int | None = None
) -> list[Finding]:
    """The findings that were (or will be) open on ``as_of``, from the rules over the dates on record,
    as unsaved Finding objects the pages can show; visible to ``user`` like the stored ones (the gate of
    each subject: facility, agreement, subcontractor link). ``user`` None is the command line's report
    of the whole organization (as reports.selectors.Scope). With ``facility_id`` (a facility's report),
    an agreement's findings are kept only when the agreement covers that facility, read in the same
    query as the gate's. Writes nothing (compliance.services.evaluate_compliance). A fixed number of
    queries."""
    from compliance.services import evaluate_compliance
    from vendors.models import SubcontractorLink

    def visible(model):
        if user is None:
            return model.objects.for_organization(organization_id)
        return model.objects.restrict(user, Action.VIEW).for_organization(organization_id)

    detections = evaluate_compliance(as_of=as_of, organization_id=organization_id)
    visible_facilities = set(visible(Facility).values_list("pk", flat=True))
    agreement_ids = {d.agreement_id for d in detections if d.facility_id is None and d.agreement_id}
    link_ids = {d.subcontractor_link_id for d in detections if d.subcontractor_link_id}
    agreements = visible(BusinessAssociateAgreement).filter(pk__in=agreement_ids)
    if facility_id is not None:
        agreements = agreements.filter(Q(covers_all_facilities=True) | Q(covered_facilities=facility_id))
    visible_agreements = set(agreements.values_list("pk", flat=True))
    visible_links = set(visible(SubcontractorLink).filter(pk__in=link_ids).values_list("pk", flat=True))
    shown = [
        d
        for d in detections
        if (d.facility_id in visible_facilities)
        or (d.facility_id is None and d.subcontractor_link_id in visible_links)
        or (d.facility_id is None and d.subcontractor_link_id is None and d.agreement_id in visible_agreements)
    ]
    vendors = Vendor.objects.in_bulk({d.vendor_id for d in shown})
    facilities = Facility.objects.in_bulk({d.facility_id for d in shown if d.facility_id})
    findings = []
    for d in shown:
        finding = Finding(**d.finding_fields())
        finding.vendor = vendors[d.vendor_id]
        finding.facility = facilities.get(d.facility_id)
        findings.append(finding)
    findings.sort(key=lambda x: (SEVERITY_RANK.get(x.severity, 9), x.due_on or datetime.date.max, x.subject_key))
    return findings


def dashboard(user, as_of: datetime.date, *, as_of_findings: list[Finding] | None = None) -> Dashboard:
    """Everything the dashboard shows, in eight queries whatever the size of the inventory.

    ``as_of_findings`` (``findings_as_of``) replaces the stored findings for a day other than today:
    coverage and findings then both describe that day, and nothing is written.
    """
    phi_engagements = engagements_with_phi_access(as_of).restrict(user, Action.VIEW)
    # A vendor is covered when every one of its PHI engagements (that the user sees) is covered.
    vendors_with_phi = phi_engagements.aggregate(n=Count("vendor", distinct=True))["n"]
    uncovered = phi_engagements.filter(~_covered_q(user, as_of))
    vendors_with_gaps = uncovered.aggregate(n=Count("vendor", distinct=True))["n"]

    if as_of_findings is not None:
        by_severity = defaultdict(int)
        for finding in as_of_findings:
            by_severity[finding.severity] += 1
        acknowledged_open = 0
        urgent = as_of_findings[:DASHBOARD_URGENT_FINDINGS]
    else:
        open_findings = Finding.objects.restrict(user, Action.VIEW).open()
        by_severity = dict(open_findings.values_list("severity").annotate(n=Count("pk")).order_by())
        acknowledged_open = open_findings.filter(acknowledged_at__isnull=False).count()
        urgent = urgent_findings(user)
    severity_counts = [SeverityCount(value, label, by_severity.get(value, 0)) for value, label in Severity.choices]

    return Dashboard(
        as_of=as_of,
        vendors_with_phi=vendors_with_phi,
        vendors_covered=vendors_with_phi - vendors_with_gaps,
        severity_counts=severity_counts,
        facilities=facility_compliance(user, as_of, as_of_findings=as_of_findings),
        expirations=expirations_by_month(user, as_of),
        urgent_findings=urgent,
        acknowledged_open=acknowledged_open,
    )


def urgent_findings(user, limit: int = DASHBOARD_URGENT_FINDINGS) -> list[Finding]:
    """The ``limit`` most urgent open findings, in one query of two steps: the top ids from the
    findings table alone (its open-findings index, no join), then the joins for those rows only.
    Joining the eight related tables first made PostgreSQL join every open finding before the LIMIT."""
    top = findings_by_urgency(Finding.objects.restrict(user, Action.VIEW).filter(resolved_at__isnull=True))
    return list(findings_by_urgency(findings_visible_to(user).filter(pk__in=top.values("pk")[:limit])))


def facility_compliance(
    user, as_of: datetime.date, *, as_of_findings: list[Finding] | None = None
) -> list[FacilityCompliance]:
    """Per visible facility: PHI engagements, how many an executed BAA in force covers, open findings."""
    facilities = list(Facility.objects.restrict(user, Action.VIEW).filter(active=True).order_by("name"))
    coverage = {
        row["facility_id"]: row
        for row in engagements_with_phi_access(as_of)
        .restrict(user, Action.VIEW)
        .annotate(
            is_covered=Case(When(_covered_q(user, as_of), then=Value(1)), default=Value(0), output_field=IntegerField())
        )
        .values("facility_id")
        .annotate(total=Count("pk"), covered=Count("pk", filter=Q(is_covered=1)))
        .order_by()
    }
    if as_of_findings is not None:
        findings: dict = defaultdict(lambda: {"n": 0, "critical": 0})
        for finding in as_of_findings:
            if finding.facility_id is not None:
                findings[finding.facility_id]["n"] += 1
                findings[finding.facility_id]["critical"] += finding.severity == Severity.CRITICAL
    else:
        findings = {
            row["facility_id"]: row
            for row in Finding.objects.restrict(user, Action.VIEW)
            .open()
            .filter(facility__isnull=False)
            .values("facility_id")
            .annotate(n=Count("pk"), critical=Count("pk", filter=Q(severity=Severity.CRITICAL)))
            .order_by()
        }
    rows = []
    for facility in facilities:
        c = coverage.get(facility.pk, {})
        fi = findings.get(facility.pk) or {}
        rows.append(
            FacilityCompliance(
                facility=facility,
                engagements=c.get("total", 0),
                covered=c.get("covered", 0),
                open_findings=fi.get("n", 0),
                critical_findings=fi.get("critical", 0),
            )
        )
    # Worst first, so that the gap is what the eye meets.
    rows.sort(key=lambda r: (r.rate if r.rate is not None else 101, -r.open_findings, r.facility.name))
    return rows


def expirations_by_month(user, as_of: datetime.date, months: int = EXPIRY_CHART_MONTHS) -> list[ExpiryMonth]:
    """BAAs in force that reach their expiry date in each of the next ``months`` months."""
    first = as_of.replace(day=1)
    end = first + relativedelta(months=months)
    counts = defaultdict(lambda: [0, 0])
    rows = (
        agreements_in_force(as_of)
        .restrict(user, Action.VIEW)
        .filter(expires_on__gte=as_of, expires_on__lt=end)
        .annotate(month=TruncMonth("expires_on"))
        .values("month", "auto_renews")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = month.date()
        counts[month][1 if row["auto_renews"] else 0] += row["n"]
    result = []
    for offset in range(months):
        month = first + relativedelta(months=offset)
        expiring, auto = counts.get(month, (0, 0))
        result.append(ExpiryMonth(month=month, expiring=expiring, auto_renewing=auto))
    return result


# --- Coverage matrix -------------------------------------------------------------------------------

#: Vendors (columns) per page of the coverage matrix: wide enough to scan, small enough to render fast.
COVERAGE_VENDORS_PER_PAGE = 25


class CellState:
    COVERED = "covered"
    EXPIRING = "expiring"
    MISSING = "missing"
    NONE = "none"  # no PHI engagement of this vendor at this facility


@dataclass
class CoverageCell:
    facility: Facility
    vendor_id: int
    state: str = CellState.NONE
    agreement_id: int | None = None
    expires_on: datetime.date | None = None
    engagements: int = 0


@dataclass
class CoverageRow:
    facility: Facility
    cells: list[CoverageCell]

    @property
    def gaps(self) -> int:
        return sum(1 for cell in self.cells if cell.state == CellState.MISSING)


@dataclass
class CoverageMatrix:
    """Facilities (rows) by vendors (columns): the vendors asked for, often one page of them."""

    as_of: datetime.date
    vendors: list[Vendor]
    rows: list[CoverageRow]

    @property
    def gaps(self) -> int:
        return sum(row.gaps for row in self.rows)

    @property
    def covered(self) -> int:
        return sum(
            1 for row in self.rows for cell in row.cells if cell.state in (CellState.COVERED, CellState.EXPIRING)
        )


@dataclass(frozen=True)
class CoverageSummary:
    """The whole organization (as far as the user sees it), whatever page of the matrix is shown."""

    vendors_with_phi: int
    vendors_with_gaps: int


def _covering_in_force(user, as_of: datetime.date) -> QuerySet[BusinessAssociateAgreement]:
    """Agreements in force the user sees that cover the outer engagement's vendor at its facility."""
    return covering(agreements_in_force(as_of).restrict(user, Action.VIEW), as_of=as_of)


def coverage_summary(user, as_of: datetime.date) -> CoverageSummary:
    """How many visible vendors have PHI access, and how many of them a gap somewhere: one query."""
    phi_engagements = engagements_with_phi_access(as_of).restrict(user, Action.VIEW)
    counts = phi_engagements.aggregate(
        vendors=Count("vendor", distinct=True),
        gaps=Count("vendor", distinct=True, filter=~Q(Exists(_covering_in_force(user, as_of)))),
    )
    return CoverageSummary(vendors_with_phi=counts["vendors"], vendors_with_gaps=counts["gaps"])


def coverage_vendors(user, as_of: datetime.date, *, gaps_only: bool = False, search: str = "") -> QuerySet[Vendor]:
    """The matrix's columns, by name: visible vendors with PHI access (with a gap somewhere if ``gaps_only``).

    Set-based, so that a page of them is one query whatever the size of the inventory: a vendor has
    a gap when one of its PHI engagements has no agreement in force covering it (the cells' rule).
    """
    phi_engagements = engagements_with_phi_access(as_of).restrict(user, Action.VIEW)
    if gaps_only:
        phi_engagements = phi_engagements.filter(~Exists(_covering_in_force(user, as_of)))
    vendors = Vendor.objects.restrict(user, Action.VIEW).filter(pk__in=phi_engagements.values("vendor"))
    if search:
        vendors = vendors.filter(legal_name__icontains=search)
    return vendors.order_by("legal_name", "pk")


#: The finding kinds that make a covering agreement "expiring" on the pages.
ENDING_KINDS = (FindingKind.BAA_EXPIRING, FindingKind.BAA_TERMINATING)


def ending_agreements(user, as_of: datetime.date, agreement_ids: set[int]) -> set[int]:
    """Which of ``agreement_ids`` are expiring or terminating on ``as_of``: today from the open
    findings; another day from the timeline's agreement states (compliance.timeline). One query."""
    if not agreement_ids:
        return set()
    if as_of == timezone.localdate():
        return set(
            Finding.objects.restrict(user, Action.VIEW)
            .open()
            .filter(kind__in=ENDING_KINDS, agreement_id__in=agreement_ids)
            .values_list("agreement_id", flat=True)
        )
    spans = agreement_spans(as_of, agreement_ids=sorted(agreement_ids))
    ending = (AgreementState.EXPIRING, AgreementState.TERMINATING)
    return {
        pk
        for pk, span in spans.items()
        if agreement_state(span, as_of, horizon_days=settings.EXPIRY_HORIZON_DAYS).state in ending
    }


def coverage_matrix(
    user, as_of: datetime.date, *, gaps_only: bool = False, vendors: Iterable[Vendor] | None = None
) -> CoverageMatrix:
    """Visible facilities x ``vendors`` (all visible vendors with PHI access when None), in two queries
    (three when it lists the vendors itself).

    A cell is covered when an executed BAA in force covers the vendor at the facility (the rules'
    ``covering(agreements_in_force(...))``); it links to that agreement (the one that runs longest).
    Only the given vendors' cells are computed, so a page of vendors costs the same at any scale.

    The rows are the visible active facilities and those where a vendor has PHI access; with
    ``gaps_only``, the vendors default to those with a gap somewhere, and only the facilities with a
    gap among the given vendors remain.
    """
    if vendors is None:
        vendors = coverage_vendors(user, as_of, gaps_only=gaps_only)
    vendors = list(vendors)
    in_force = _covering_in_force(user, as_of)
    longest = in_force.order_by(
        Case(When(expires_on__isnull=True, then=Value(0)), default=Value(1)), "-expires_on", "-pk"
    )
    phi_engagements = engagements_with_phi_access(as_of).restrict(user, Action.VIEW)
    pairs = (
        phi_engagements.filter(vendor__in=[vendor.pk for vendor in vendors])
        .annotate(
            agreement_id=Subquery(longest.values("pk")[:1]),
            agreement_expires_on=Subquery(longest.values("expires_on")[:1]),
        )
        .values("facility_id", "vendor_id", "agreement_id", "agreement_expires_on")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_pair: dict[tuple[int, int], CoverageCell] = {}
    for row in pairs:
        key = (row["facility_id"], row["vendor_id"])
        cell = by_pair.get(key)
        if cell is None:
            cell = by_pair[key] = CoverageCell(facility=None, vendor_id=row["vendor_id"])
        cell.engagements += row["n"]
        if row["agreement_id"] is None:
            cell.state = CellState.MISSING  # one uncovered engagement is enough for a gap
            cell.agreement_id = None
        elif cell.state != CellState.MISSING:
            expires_on = row["agreement_expires_on"]
            cell.agreement_id = row["agreement_id"]
            cell.expires_on = expires_on
            cell.state = CellState.COVERED
    # "Expiring" is what the rules say (an open expiring or terminating finding), not a date compared
    # here: a renewal executed in advance leaves the agreement covered, as on the vendor list.
    ending = ending_agreements(user, as_of, {cell.agreement_id for cell in by_pair.values() if cell.agreement_id})
    for cell in by_pair.values():
        if cell.state == CellState.COVERED and cell.agreement_id in ending:
            cell.state = CellState.EXPIRING
    # The same rows on every page: an inactive facility stays while any vendor has PHI access there.
    facilities = Facility.objects.restrict(user, Action.VIEW).filter(
        Q(active=True) | Q(pk__in=phi_engagements.values("facility"))
    )
    rows = []
    for facility in facilities.order_by("name", "pk"):
        cells = []
        for vendor in vendors:
            cell = by_pair.get((facility.pk, vendor.pk)) or CoverageCell(facility=None, vendor_id=vendor.pk)
            cell.facility = facility
            cells.append(cell)
        row = CoverageRow(facility=facility, cells=cells)
        if not gaps_only or row.gaps:
            rows.append(row)
    return CoverageMatrix(as_of=as_of, vendors=vendors, rows=rows)


# --- Findings ---------------------------------------------------------------------------------------


class FindingState:
    OPEN = "open"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ALL = "all"

    CHOICES = [
        (OPEN, "Open"),
        (UNACKNOWLEDGED, "Open, not acknowledged"),
        (ACKNOWLEDGED, "Open, acknowledged"),
        (RESOLVED, "Resolved"),
        (ALL, "All"),
    ]


def filter_findings(
    queryset: QuerySet[Finding],
    *,
    kind: str = "",
    severity: str = "",
    facility: Facility | None = None,
    vendor: Vendor | None = None,
    state: str = FindingState.OPEN,
) -> QuerySet[Finding]:
    if kind:
        queryset = queryset.filter(kind=kind)
    if severity:
        queryset = queryset.filter(severity=severity)
    if facility is not None:
        # Agreement findings carry no facility: they count where the agreement covers the facility.
        covers = BusinessAssociateAgreement.covered_facilities.through.objects.filter(
            businessassociateagreement=OuterRef("agreement"), facility=facility
        )
        vendor_serves = Engagement.objects.filter(vendor=OuterRef("subcontractor_link__vendor"), facility=facility)
        queryset = queryset.filter(
            Q(facility=facility)
            | Q(facility__isnull=True, agreement__covers_all_facilities=True)
            | (Q(facility__isnull=True) & Q(Exists(covers)))
            | (Q(facility__isnull=True, subcontractor_link__isnull=False) & Q(Exists(vendor_serves)))
        )
    if vendor is not None:
        queryset = queryset.filter(vendor=vendor)
    if state == FindingState.OPEN:
        queryset = queryset.filter(resolved_at__isnull=True)
    elif state == FindingState.UNACKNOWLEDGED:
        queryset = queryset.filter(resolved_at__isnull=True, acknowledged_at__isnull=True)
    elif state == FindingState.ACKNOWLEDGED:
        queryset = queryset.filter(resolved_at__isnull=True, acknowledged_at__isnull=False)
    elif state == FindingState.RESOLVED:
        queryset = queryset.filter(resolved_at__isnull=False)
    return queryset


def kind_choices() -> list[tuple[str, str]]:
    return kinds.choices()


# --- Coverage timeline of a vendor -------------------------------------------------------------------

_CAUSES = {
    EndReason.EXPIRES: "expired",
    EndReason.TERMINATED: "was terminated",
    EndReason.SUPERSEDED: "was superseded by one that does not cover the facility",
    EndReason.FACILITY_REMOVED: "stopped covering the facility",
}


@dataclass(frozen=True)
class TimelinePeriodRow:
    """One line of the timeline's text equivalent."""

    facility: str
    service: str
    starts_on: datetime.date
    ends_on: datetime.date | None
    covered: bool
    what: str
    days: int | None


@dataclass
class VendorTimeline:
    as_of: datetime.date
    chart: str
    rows: list[TimelinePeriodRow]

    @property
    def gaps(self) -> int:
        return sum(1 for row in self.rows if not row.covered)


def vendor_timeline(user, vendor: Vendor, as_of: datetime.date) -> VendorTimeline:
    """The vendor's coverage timeline (compliance.timeline) for its engagements the user sees, as a
    chart and as rows of text. A fixed number of queries."""
    from compliance.charts import TimelineRow, coverage_timeline_chart

    visible = Engagement.objects.restrict(user, Action.VIEW).filter(vendor=vendor)
    services = dict(visible.values_list("pk", "service_description"))
    timeline = build_timelines(as_of, organization_id=vendor.organization_id, vendor_ids=[vendor.pk])
    chart_rows, rows = [], []
    for t in sorted(timeline.engagements.values(), key=lambda t: (t.facility_name, t.engagement_id)):
        if t.engagement_id not in services or not t.phi_periods:
            continue
        service = services[t.engagement_id]
        chart_rows.append(TimelineRow(label=f"{t.facility_name}: {service}", phi=t.phi_periods, periods=t.periods))
        for p in t.periods:
            if p.covered:
                what = f"Covered by \u201c{timeline.spans[p.agreement_id].title}\u201d"
            elif p.previous_agreement_id is not None:
                previous = timeline.spans[p.previous_agreement_id]
                what = f"No BAA in force: \u201c{previous.title}\u201d {_CAUSES.get(p.cause, 'ended')}"
            else:
                what = "No BAA in force"
            rows.append(TimelinePeriodRow(t.facility_name, service, p.starts_on, p.ends_on, p.covered, what, p.days))
    return VendorTimeline(as_of=as_of, chart=coverage_timeline_chart(chart_rows, as_of=as_of), rows=rows)


def finding_period(finding: Finding) -> tuple[datetime.date, datetime.date]:
    """The uncovered period a PHI-without-BAA (or PHI-before-BAA) finding is about, from the timeline
    of today: the period its subject names (or the engagement's first period)."""
    timeline = build_timelines(
        timezone.localdate(),
        organization_id=finding.organization_id,
        vendor_ids=[finding.vendor_id],
        engagement_ids=[finding.engagement_id],
    ).engagements[finding.engagement_id]
    uncovered = [p for p in timeline.periods if not p.covered and p.ends_on is not None]
    if finding.kind == FindingKind.PHI_BEFORE_BAA:
        period = timeline.periods[0]
    else:
        starts_on = datetime.date.fromisoformat(finding.subject_key.rsplit(":", 1)[1])
        period = next(p for p in uncovered if p.starts_on == starts_on)
    return period.starts_on, period.ends_on
