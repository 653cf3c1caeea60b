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
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import TruncMonth

from agreements.models import BusinessAssociateAgreement
from compliance import kinds
from compliance.models import SEVERITY_RANK, ComplianceRunState, Finding, Severity
from compliance.rules import agreements_in_force, covering, engagements_with_phi_access
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
    """Most urgent first: severity, then the nearest date the finding is about, then the oldest."""
    return queryset.annotate(severity_rank=severity_rank()).order_by(
        "severity_rank", "resolved_at", "due_on", "first_seen_at", "pk"
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
    return Q(Exists(covering(agreements_in_force(as_of).restrict(user, Action.VIEW))))


def dashboard(user, as_of: datetime.date) -> Dashboard:
    """Everything the dashboard shows, in eight queries whatever the size of the inventory."""
    phi_engagements = engagements_with_phi_access(as_of).restrict(user, Action.VIEW)
    # A vendor is covered when every one of its PHI engagements (that the user sees) is covered.
    vendors_with_phi = phi_engagements.aggregate(n=Count("vendor", distinct=True))["n"]
    uncovered = phi_engagements.filter(~_covered_q(user, as_of))
    vendors_with_gaps = uncovered.aggregate(n=Count("vendor", distinct=True))["n"]

    open_findings = Finding.objects.restrict(user, Action.VIEW).open()
    by_severity = dict(open_findings.values_list("severity").annotate(n=Count("pk")).order_by())
    severity_counts = [SeverityCount(value, label, by_severity.get(value, 0)) for value, label in Severity.choices]
    acknowledged_open = open_findings.filter(acknowledged_at__isnull=False).count()

    return Dashboard(
        as_of=as_of,
        vendors_with_phi=vendors_with_phi,
        vendors_covered=vendors_with_phi - vendors_with_gaps,
        severity_counts=severity_counts,
        facilities=facility_compliance(user, as_of),
        expirations=expirations_by_month(user, as_of),
        urgent_findings=list(
            findings_by_urgency(findings_visible_to(user).filter(resolved_at__isnull=True))[:DASHBOARD_URGENT_FINDINGS]
        ),
        acknowledged_open=acknowledged_open,
    )


def facility_compliance(user, as_of: datetime.date) -> list[FacilityCompliance]:
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
        fi = findings.get(facility.pk, {})
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
    return covering(agreements_in_force(as_of).restrict(user, Action.VIEW))


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
    horizon_end = as_of + datetime.timedelta(days=settings.EXPIRY_HORIZON_DAYS)
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
            cell.state = CellState.EXPIRING if expires_on and expires_on <= horizon_end else CellState.COVERED
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
