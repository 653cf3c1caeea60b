"""Reads of the reports app: everything an audit report shows, gathered in a bounded number of queries.

The report consumes what the rest of the product decided: the findings stored by the rules engine,
and the engine's building blocks (compliance.rules) for coverage and checklist item 1. Nothing here
decides what is a finding. Every queryset goes through the permission gate (``restrict``) of the
user who asked for the report; a report written from the command line has no user and is scoped by
its organization explicitly.
"""

from __future__ import annotations

import datetime
import functools
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from agreements.models import (
    SIGNED_STATUSES,
    AgreementDocument,
    AgreementStatus,
    BusinessAssociateAgreement,
    DocumentKind,
)
from baatracker.history import changed_fields
from checklists.models import ChecklistItem, ItemStatus, TeleradiologyChecklist, checklist_applies
from compliance import kinds
from compliance.models import SEVERITY_RANK, Finding, Severity
from compliance.rules import (
    agreements_in_force,
    assignments_active_on,
    covering,
    engagements_with_phi_access,
    licenses_practising_on,
    privileges_current_on,
    with_item_one_computed,
    with_reader_items_computed,
    with_reader_standing,
)
from compliance.timeline import build_timelines, checklist_item_due, subcontractor_bound
from documents.models import ProvisionReview
from facilities.models import Facility
from organizations.models import Organization
from organizations.querysets import Action, GatedNames
from readers.models import PrivilegeBasis, ReadingAssignment
from reports.models import AuditReport, AuditReportQuerySet
from vendors.models import Engagement, SubcontractorLink, Vendor, VendorCategory

#: How far back the change history of the report goes.
CHANGE_WINDOW = relativedelta(months=12)
_TEXT_LIMIT = 120


# --- Scope: the permission gate, or the organization for the command line -------------------------


@dataclass(frozen=True)
class Scope:
    """Who the report is for: the gate of ``user``, or (command line, no user) the organization."""

    organization_id: int
    facility_id: int | None
    user: Any = None

    def of(self, model: type[models.Model]) -> QuerySet:
        manager = model.objects
        if self.user is not None:
            queryset = manager.restrict(self.user, Action.VIEW)
        else:
            queryset = manager.all()
        # Also when restricted: a membership moved to another organization never widens a report.
        return queryset.for_organization(self.organization_id)


def reports_visible_to(user) -> AuditReportQuerySet:
    return AuditReport.objects.restrict(user, Action.VIEW).select_related("facility", "generated_by", "organization")


def facilities_reportable_by(user) -> QuerySet[Facility]:
    """Facilities the user may see, hence generate reports for (the issue: see it, report on it)."""
    return Facility.objects.restrict(user, Action.VIEW).order_by("name")


def may_report_on_organization(user) -> bool:
    """Organization-wide reports list every facility: only for members not limited to some facilities."""
    from organizations.selectors import active_membership

    membership = active_membership(user)
    return membership is not None and membership.allows(Action.VIEW) and membership.limited_facility_ids is None


# --- What the report shows -------------------------------------------------------------------------


@dataclass
class InventoryRow:
    engagement: Engagement
    agreement: BusinessAssociateAgreement | None
    covered: bool
    phi_access_now: bool
    baa_status: str
    baa_status_tone: str  # ok / gap / neutral
    signed_document: AgreementDocument | None

    @property
    def vendor(self) -> Vendor:
        return self.engagement.vendor


@dataclass
class FindingRow:
    finding: Finding
    age_days: int
    citation: str


@dataclass
class ChecklistItemRow:
    number: int
    text: str
    status: str
    done: bool
    evidence: str
    evidence_file: str
    verified_by: str
    verified_on: datetime.date | None
    next_review_on: datetime.date | None
    review_overdue: bool


@dataclass
class ChecklistBlock:
    """One teleradiology checklist. The packet prints it as one summary row plus its open items; every
    item, with its evidence and verifier, is in the workbook attached to the packet."""

    engagement: Engagement
    items: list[ChecklistItemRow]

    @property
    def done_count(self) -> int:
        return sum(1 for item in self.items if item.done)

    @property
    def open_items(self) -> list[ChecklistItemRow]:
        """What a surveyor asks about: items not met, and items met whose periodic review is overdue."""
        return [item for item in self.items if not item.done or item.review_overdue]

    @property
    def next_review_on(self) -> datetime.date | None:
        return min((item.next_review_on for item in self.items if item.next_review_on), default=None)

    @property
    def review_overdue(self) -> bool:
        return any(item.review_overdue for item in self.items)


@dataclass
class ReaderRow:
    """Who reads at the facility on the report's day: their license of the facility's state and their
    privileges there (42 CFR 482.22(a)(3)-(4))."""

    radiologist_name: str
    npi: str
    vendor: str
    facility: str
    state: str
    license_number: str
    license_expires_on: datetime.date | None
    privilege_basis: str
    privilege_expires_on: datetime.date | None
    privileged_validly: bool


@dataclass
class ChainRow:
    depth: int
    link: SubcontractorLink
    state: str
    tone: str


@dataclass
class ChangeRow:
    at: datetime.datetime
    who: str
    kind: str  # Created / Changed / Deleted
    subject: str
    details: list[str]


@dataclass
class KindCount:
    label: str
    severity: str
    severity_label: str
    count: int
    citation: str


@dataclass
class Summary:
    vendors_with_phi_access: int
    vendors_covered: int
    vendors_with_gaps: int
    engagements: int
    engagements_with_phi_access: int
    engagements_covered: int
    findings_by_severity: list[tuple[str, str, int]]  # (value, label, count), most urgent first
    findings_by_kind: list[KindCount] = field(default_factory=list)

    @property
    def open_findings(self) -> int:
        return sum(count for _, _, count in self.findings_by_severity)


@dataclass
class ReportData:
    organization: Organization
    facility: Facility | None
    as_of: datetime.date
    generated_at: datetime.datetime
    summary: Summary
    inventory: list[InventoryRow]
    findings: list[FindingRow]
    checklists: list[ChecklistBlock]
    chains: list[ChainRow]
    changes: list[ChangeRow]
    changes_since: datetime.date
    documents: list[AgreementDocument] = field(default_factory=list)
    readers: list[ReaderRow] = field(default_factory=list)
    #: True when ``as_of`` is not the day the report was generated: the findings are those the rules
    #: find for ``as_of`` from the dates on record, not the stored (today's) ones.
    findings_as_of: bool = False
    timeline_chart: str = ""
    timeline_gaps: list = field(default_factory=list)

    @property
    def is_organization_wide(self) -> bool:
        return self.facility is None

    @functools.cached_property
    def provision_reviews(self) -> list[tuple[str, BusinessAssociateAgreement]]:
        """The BAAs shown, once each, with their provision review (P1-P12, pages): what an auditor
        samples. Read from the prefetched ProvisionReview rows (documents app); no rule here."""
        seen: dict[int, tuple[str, BusinessAssociateAgreement]] = {}
        for row in self.inventory:
            if row.agreement is not None and row.agreement.pk not in seen:
                # The vendor's name from the engagement row (already loaded): no query per agreement.
                seen[row.agreement.pk] = (row.vendor.legal_name, row.agreement)
        for _, agreement in seen.values():
            agreement.provisions.sort(key=lambda review: int(review.provision[1:]))
            # The packet prints one row per BAA and its missing provisions; every provision, with its
            # page, is in the attached workbook (issue 17: the full tables were most of its pages).
            agreement.provisions_missing = [review for review in agreement.provisions if not review.present]
            agreement.provisions_present = len(agreement.provisions) - len(agreement.provisions_missing)
        return list(seen.values())


def report_data(
    *,
    organization: Organization,
    facility: Facility | None,
    as_of: datetime.date,
    user=None,
    generated_at: datetime.datetime | None = None,
) -> ReportData:
    """Everything one report shows. The number of queries does not grow with the inventory."""
    generated_at = generated_at or timezone.now()
    scope = Scope(organization_id=organization.pk, facility_id=facility.pk if facility else None, user=user)

    inventory = _inventory(scope, as_of)
    engagements = [row.engagement for row in inventory]
    vendor_ids = {e.vendor_id for e in engagements}
    findings_as_of = as_of != timezone.localtime(generated_at).date()
    if findings_as_of:
        findings = _findings_as_of(scope, vendor_ids, as_of)
    else:
        findings = _findings(scope, vendor_ids, generated_at)
    timeline_chart, timeline_gaps = _timeline(scope, as_of, {e.pk for e in engagements})
    checklists = _checklists(scope, engagements, as_of)
    chains = _chains(scope, inventory, as_of)
    agreement_ids = {row.agreement.pk for row in inventory if row.agreement is not None}
    chain_vendor_ids = vendor_ids | {row.link.subcontractor_id for row in chains}
    changes_since = as_of - CHANGE_WINDOW
    changes = _changes(
        scope,
        since=changes_since,
        until=generated_at,
        vendor_ids=chain_vendor_ids,
        agreement_ids=agreement_ids,
        link_ids={row.link.pk for row in chains},
        checklists={block.engagement.teleradiology_checklist.pk: block.engagement for block in checklists},
    )
    documents = _documents_to_append(inventory)
    return ReportData(
        organization=organization,
        facility=facility,
        as_of=as_of,
        generated_at=generated_at,
        summary=_summary(inventory, findings),
        inventory=inventory,
        findings=findings,
        checklists=checklists,
        readers=_readers(scope, engagements, as_of),
        chains=chains,
        changes=changes,
        changes_since=changes_since,
        documents=documents,
        findings_as_of=findings_as_of,
        timeline_chart=timeline_chart,
        timeline_gaps=timeline_gaps,
    )


#: The report's timeline chart shows at most this many engagements (those with a gap first).
REPORT_TIMELINE_ROWS = 40


def _timeline(scope: Scope, as_of: datetime.date, engagement_ids: set[int]) -> tuple[str, list]:
    """The coverage timeline chart (compliance.charts) of the scope's engagements with a period
    without a BAA, and those periods as rows (the chart's text equivalent)."""
    from compliance.charts import TimelineRow, coverage_timeline_chart

    timeline = build_timelines(as_of, organization_id=scope.organization_id, engagement_ids=list(engagement_ids))
    with_gaps = [
        t
        for t in sorted(timeline.engagements.values(), key=lambda t: (t.facility_name, t.vendor_name, t.engagement_id))
        if any(not p.covered for p in t.periods)
    ]
    shown = with_gaps[:REPORT_TIMELINE_ROWS]
    rows = [TimelineRow(f"{t.vendor_name} at {t.facility_name}", t.phi_periods, t.periods) for t in shown]
    gaps = [(t, p) for t in with_gaps for p in t.periods if not p.covered]
    return coverage_timeline_chart(rows, as_of=as_of, chart_id="report-timeline"), gaps


def _findings_as_of(scope: Scope, vendor_ids: set[int], as_of: datetime.date) -> list[FindingRow]:
    """The findings the rules find for ``as_of`` (read-only, nothing stored), through the same gate as
    the stored ones (compliance.selectors.findings_as_of), in the report's scope as ``_findings``."""
    from compliance.selectors import findings_as_of

    # Agreement findings come back only for agreements that cover the facility (one query with the gate's).
    findings = findings_as_of(scope.user, scope.organization_id, as_of, facility_id=scope.facility_id)
    if scope.facility_id is not None:
        findings = [
            x
            for x in findings
            if x.facility_id == scope.facility_id or (x.facility_id is None and x.vendor_id in vendor_ids)
        ]
    return [FindingRow(finding=x, age_days=0, citation=kinds.get(x.kind).citation) for x in findings]


# --- Inventory and coverage -------------------------------------------------------------------------


def _engagements(scope: Scope) -> QuerySet[Engagement]:
    queryset = scope.of(Engagement)
    if scope.facility_id is not None:
        queryset = queryset.filter(facility_id=scope.facility_id)
    return queryset


def _inventory(scope: Scope, as_of: datetime.date) -> list[InventoryRow]:
    """Every engagement of the scope with the agreement that covers it, using the engine's building blocks."""
    in_force = covering(agreements_in_force(as_of), as_of=as_of)
    # The agreement shown where none is in force: the latest signed one (it says when coverage
    # ended), else the latest draft or negotiation.
    signed_first = Case(When(status__in=SIGNED_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField())
    latest_covering = covering(BusinessAssociateAgreement.objects.not_archived()).order_by(
        signed_first, F("effective_on").desc(nulls_last=True), "-pk"
    )
    phi_now = engagements_with_phi_access(as_of).filter(pk=OuterRef("pk"))
    engagements = (
        with_reader_items_computed(with_item_one_computed(_engagements(scope), as_of), as_of)
        .annotate(
            covered=Exists(in_force),
            phi_access_now=Exists(phi_now),
            shown_agreement_id=Coalesce(
                Subquery(in_force.order_by("-effective_on", "-pk").values("pk")[:1]),
                Subquery(latest_covering.values("pk")[:1]),
            ),
        )
        .select_related("vendor", "facility")
        .order_by("vendor__legal_name", "facility__name", "service_description", "pk")
    )
    engagements = list(engagements)
    shown_ids = {e.shown_agreement_id for e in engagements if e.shown_agreement_id}
    documents = (
        AgreementDocument.objects.filter(kind__in=(DocumentKind.SIGNED_AGREEMENT, DocumentKind.AMENDMENT))
        .select_related("reading")
        .order_by("-uploaded_at", "-pk")
    )
    agreements = {
        agreement.pk: agreement
        for agreement in scope.of(BusinessAssociateAgreement)
        .filter(pk__in=shown_ids)
        .prefetch_related(
            Prefetch("documents", queryset=documents, to_attr="documents_on_file"),
            # The provision review of each BAA, with page references: what an auditor samples.
            Prefetch(
                "provision_reviews",
                queryset=ProvisionReview.objects.order_by("pk").select_related("decided_by"),
                to_attr="provisions",
            ),
        )
    }
    rows = []
    for engagement in engagements:
        agreement = agreements.get(engagement.shown_agreement_id)
        signed = next(
            (d for d in (agreement.documents_on_file if agreement else []) if d.kind == DocumentKind.SIGNED_AGREEMENT),
            None,
        )
        status, tone = _baa_status(engagement, agreement)
        rows.append(
            InventoryRow(
                engagement=engagement,
                agreement=agreement,
                covered=engagement.covered,
                phi_access_now=engagement.phi_access_now,
                baa_status=status,
                baa_status_tone=tone,
                signed_document=signed,
            )
        )
    return rows


def _baa_status(engagement: Engagement, agreement: BusinessAssociateAgreement | None) -> tuple[str, str]:
    if engagement.covered:
        return "In force", "ok"
    needs_baa = engagement.has_phi_access and not engagement.vendor.is_conduit
    if agreement is not None:
        label = AgreementStatus(agreement.status).label
        if agreement.status == AgreementStatus.EXECUTED:
            label = "Executed, not in force"
        return label, "gap" if engagement.phi_access_now else "neutral"
    if engagement.vendor.is_conduit:
        return "Not required (mere conduit)", "neutral"
    if not needs_baa:
        return "Not required (no PHI access)", "neutral"
    if engagement.phi_access_now:
        return "Missing", "gap"
    return "None yet", "neutral"


def _summary(inventory: list[InventoryRow], findings: list[FindingRow]) -> Summary:
    with_phi: set[int] = set()
    with_gap: set[int] = set()
    for row in inventory:
        if row.phi_access_now:
            with_phi.add(row.engagement.vendor_id)
            if not row.covered:
                with_gap.add(row.engagement.vendor_id)
    counts = Counter(row.finding.severity for row in findings)
    by_kind = Counter((row.finding.kind, row.finding.severity) for row in findings)
    kind_counts = [
        KindCount(
            label=kinds.label(kind),
            severity=severity,
            severity_label=Severity(severity).label,
            count=count,
            citation=kinds.get(kind).citation,
        )
        for (kind, severity), count in by_kind.items()
    ]
    kind_counts.sort(key=lambda k: (SEVERITY_RANK[k.severity], -k.count, k.label))
    return Summary(
        findings_by_kind=kind_counts,
        vendors_with_phi_access=len(with_phi),
        vendors_covered=len(with_phi - with_gap),
        vendors_with_gaps=len(with_gap),
        engagements=len(inventory),
        engagements_with_phi_access=sum(1 for row in inventory if row.phi_access_now),
        engagements_covered=sum(1 for row in inventory if row.phi_access_now and row.covered),
        findings_by_severity=[(s.value, s.label, counts.get(s.value, 0)) for s in Severity],
    )


# --- Findings ----------------------------------------------------------------------------------------


def _findings(scope: Scope, vendor_ids: set[int], now: datetime.datetime) -> list[FindingRow]:
    """Open findings of the scope, most urgent first, with the citation of the rule that opened them."""
    queryset = scope.of(Finding).open()
    if scope.facility_id is not None:
        # Agreement and subcontractor findings have no facility: they belong to a facility's report
        # when their vendor serves the facility (and, for an agreement, the agreement covers it).
        covers_facility = BusinessAssociateAgreement.objects.filter(pk=OuterRef("agreement_id")).filter(
            Q(covers_all_facilities=True) | Q(covered_facilities=scope.facility_id)
        )
        queryset = queryset.filter(
            Q(facility_id=scope.facility_id)
            | Q(facility__isnull=True, vendor_id__in=vendor_ids, agreement__isnull=True)
            | Q(facility__isnull=True, vendor_id__in=vendor_ids, agreement__isnull=False) & Q(Exists(covers_facility))
        )
    findings = list(queryset.select_related("vendor", "facility", "agreement", "acknowledged_by"))
    today = timezone.localtime(now).date()
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], f.first_seen_at, f.pk))
    return [
        FindingRow(
            finding=finding,
            age_days=max(0, (today - timezone.localtime(finding.first_seen_at).date()).days),
            citation=kinds.get(finding.kind).citation,
        )
        for finding in findings
    ]


# --- Teleradiology checklists -----------------------------------------------------------------------

#: Items 2 and 3, computed from the readers' records (see the "Who reads here" section).
READER_ITEM_EVIDENCE = {
    (2, True): "Computed from the readers' licenses: everyone reading holds a license of the facility's state.",
    (2, False): "Computed from the readers' licenses: no reader recorded, or one reads without a license of the "
    "facility's state.",
    (3, True): "Computed from the readers' privileges: everyone reading is privileged here, directly or by proxy "
    "under a written agreement in force.",
    (3, False): "Computed from the readers' privileges: no reader recorded, or one reads without current privileges "
    "on a sound basis.",
}


def _checklists(scope: Scope, engagements: list[Engagement], as_of: datetime.date) -> list[ChecklistBlock]:
    by_engagement = {e.pk: e for e in engagements if checklist_applies(e.vendor.category)}
    if not by_engagement:
        return []
    items = ChecklistItem.objects.select_related("verified_by").order_by("number")
    checklists = (
        scope.of(TeleradiologyChecklist)
        .filter(engagement_id__in=list(by_engagement))
        .prefetch_related(Prefetch("items", queryset=items, to_attr="ordered_items"))
    )
    blocks = []
    for checklist in checklists:
        engagement = by_engagement[checklist.engagement_id]
        engagement.teleradiology_checklist = checklist
        rows = []
        for item in checklist.ordered_items:
            if item.is_computed:
                met = bool(
                    {1: engagement.baa_before_phi, 2: engagement.readers_licensed, 3: engagement.readers_privileged}[
                        item.number
                    ]
                )
                status = "Met" if met else "Not met"
                done = met
            else:
                status = ItemStatus(item.status).label
                done = item.status in (ItemStatus.COMPLETE, ItemStatus.NOT_APPLICABLE)
            evidence = item.evidence_note or item.not_applicable_reason
            if item.number == 1:
                evidence = (
                    "Computed from the agreements: a BAA in force, executed before PHI access began."
                    if done
                    else "Computed from the agreements: no BAA in force executed before PHI access began."
                )
            elif item.is_computed:
                evidence = READER_ITEM_EVIDENCE[(item.number, done)]
            rows.append(
                ChecklistItemRow(
                    number=item.number,
                    text=item.text,
                    status=status,
                    done=done,
                    evidence=_shorten(evidence, 300),
                    evidence_file=os.path.basename(item.evidence_file.name) if item.evidence_file else "",
                    verified_by=_user_label(item.verified_by) if item.verified_by else "",
                    verified_on=item.verified_on,
                    next_review_on=item.next_review_on,
                    review_overdue=checklist_item_due(item.next_review_on, as_of),
                )
            )
        blocks.append(ChecklistBlock(engagement=engagement, items=rows))
    blocks.sort(key=lambda b: (b.engagement.vendor.legal_name, b.engagement.facility.name, b.engagement.pk))
    return blocks


# --- Subcontractor chains ---------------------------------------------------------------------------


def _readers(scope: Scope, engagements: list[Engagement], as_of: datetime.date) -> list[ReaderRow]:
    """The radiologists reading for the scope's teleradiology engagements on ``as_of``, in one query."""
    ids = [e.pk for e in engagements if e.vendor.category == VendorCategory.TELERADIOLOGY]
    if not ids:
        return []
    license = (
        licenses_practising_on(as_of)
        .filter(radiologist=OuterRef("radiologist"), state=OuterRef("engagement__facility__state"))
        .order_by("-expires_on")
    )
    privilege = (
        privileges_current_on(as_of)
        .filter(radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility"))
        .order_by("-expires_on")
    )
    assignments = with_reader_standing(
        assignments_active_on(as_of).filter(engagement__in=ids).filter(pk__in=scope.of(ReadingAssignment).values("pk")),
        as_of,
    ).annotate(
        license_number=Subquery(license.values("number")[:1]),
        license_expires_on=Subquery(license.values("expires_on")[:1]),
        privilege_basis=Subquery(privilege.values("basis")[:1]),
        privilege_expires_on=Subquery(privilege.values("expires_on")[:1]),
    )
    rows = assignments.select_related("radiologist", "engagement__vendor", "engagement__facility").order_by(
        "engagement__facility__name", "radiologist__last_name", "radiologist__first_name", "pk"
    )
    return [
        ReaderRow(
            radiologist_name=row.radiologist.name,
            npi=row.radiologist.npi,
            vendor=row.engagement.vendor.legal_name,
            facility=row.engagement.facility.name,
            state=row.engagement.facility.state,
            license_number=row.license_number or "",
            license_expires_on=row.license_expires_on,
            privilege_basis=PrivilegeBasis(row.privilege_basis).label if row.privilege_basis else "",
            privilege_expires_on=row.privilege_expires_on,
            privileged_validly=row.privileged_validly,
        )
        for row in rows
    ]


def _chains(scope: Scope, inventory: list[InventoryRow], as_of: datetime.date) -> list[ChainRow]:
    """The subcontractors under each business associate of the inventory, and theirs, depth first."""
    links = scope.of(SubcontractorLink).select_related("vendor", "subcontractor").order_by("subcontractor__legal_name")
    children: dict[int, list[SubcontractorLink]] = defaultdict(list)
    for link in links:
        children[link.vendor_id].append(link)
    roots: list[int] = []
    for row in inventory:
        if row.engagement.vendor_id not in roots:
            roots.append(row.engagement.vendor_id)
    rows: list[ChainRow] = []

    def walk(vendor_id: int, depth: int, path: frozenset[int]) -> None:
        for link in children.get(vendor_id, []):
            if link.subcontractor_id in path:
                continue  # a cycle in the data: show each link of it once
            if not link.touches_phi:
                state, tone = "No PHI access", "neutral"
            elif link.subcontractor.is_conduit:
                state, tone = "Mere conduit: no BAA needed", "neutral"
            elif subcontractor_bound(link, as_of):
                state, tone = f"Downstream BAA attested on {link.downstream_baa_attested_on:%Y-%m-%d}", "ok"
            else:
                state, tone = "Gap: no downstream BAA attested", "gap"
            rows.append(ChainRow(depth=depth, link=link, state=state, tone=tone))
            walk(link.subcontractor_id, depth + 1, path | {link.subcontractor_id})

    for vendor_id in roots:
        walk(vendor_id, 0, frozenset({vendor_id}))
    return rows


# --- Signed documents to append --------------------------------------------------------------------


def _documents_to_append(inventory: list[InventoryRow]) -> list[AgreementDocument]:
    """The signed agreement (and amendments) of each agreement shown, once each, in inventory order."""
    seen: set[int] = set()
    documents: list[AgreementDocument] = []
    for row in inventory:
        if row.agreement is None or row.agreement.pk in seen:
            continue
        seen.add(row.agreement.pk)
        on_file = row.agreement.documents_on_file
        signed = [d for d in on_file if d.kind == DocumentKind.SIGNED_AGREEMENT][:1]
        amendments = sorted((d for d in on_file if d.kind == DocumentKind.AMENDMENT), key=lambda d: d.uploaded_at)
        for document in signed + amendments:
            document.agreement = row.agreement
            documents.append(document)
    return documents


# --- Changes of the last 12 months (django-simple-history) -------------------------------------------

_HISTORY_KINDS = {"+": "Created", "~": "Changed", "-": "Deleted"}
_SKIPPED_FIELDS = {"id", "created_at", "history_id", "history_date", "history_change_reason", "history_type"}
#: Shown in the subject of a change already, or set by the database: not worth a line of details.
_SUBJECT_FIELDS = {"organization", "vendor", "facility", "agreement", "checklist", "number", "sha256", "size_bytes"}


@dataclass
class _Names:
    vendors: dict[int, str]
    facilities: dict[int, str]
    agreements: dict[int, str]
    users: dict[int, str]

    def of(self, related_model: type[models.Model], pk: Any) -> str:
        if pk is None:
            return "none"
        table = {
            Vendor: self.vendors,
            Facility: self.facilities,
            BusinessAssociateAgreement: self.agreements,
            get_user_model(): self.users,
        }.get(related_model, {})
        return table.get(pk, f"#{pk}")


def _changes(
    scope: Scope,
    *,
    since: datetime.date,
    until: datetime.datetime,
    vendor_ids: set[int],
    agreement_ids: set[int],
    link_ids: set[int],
    checklists: dict[int, Engagement],
) -> list[ChangeRow]:
    """Who changed what and when, from the history kept of every record (45 CFR 164.312(b) audit controls).

    One query per kind of record: each object's full history up to ``until`` is read so that the first
    change inside the window can be compared with the state before it.
    """
    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    organization_wide = scope.facility_id is None
    facility_ids = list(scope.of(Facility).values_list("pk", flat=True))
    sources: list[tuple[type[models.Model], Q]] = [
        (Vendor, Q(organization_id=scope.organization_id) if organization_wide else Q(id__in=vendor_ids)),
        (Engagement, Q(facility_id__in=facility_ids if organization_wide else [scope.facility_id])),
        (
            BusinessAssociateAgreement,
            Q(organization_id=scope.organization_id) if organization_wide else Q(id__in=agreement_ids),
        ),
        (AgreementDocument, Q(agreement_id__in=agreement_ids)),
        (SubcontractorLink, Q(id__in=link_ids)),
        (ChecklistItem, Q(checklist_id__in=list(checklists))),
    ]
    if organization_wide:
        # An organization-wide report covers every agreement and subcontractor of the organization.
        organization_vendors = Vendor.objects.filter(organization_id=scope.organization_id).values("pk")
        organization_agreements = BusinessAssociateAgreement.objects.filter(
            organization_id=scope.organization_id
        ).values("pk")
        sources[3] = (AgreementDocument, Q(agreement_id__in=organization_agreements))
        sources[4] = (SubcontractorLink, Q(vendor_id__in=organization_vendors))
    histories: list[tuple[type[models.Model], list]] = []
    for model, condition in sources:
        records = list(
            model.history.filter(condition, history_date__lte=until)
            .select_related("history_user")
            .order_by("id", "history_date", "history_id")
        )
        histories.append((model, records))

    user_ids: set[int] = set()
    for model, records in histories:
        if model is ChecklistItem:
            user_ids |= {r.verified_by_id for r in records if r.verified_by_id}
    # Names through the gate of the report's scope (issue #15 item 4): a facility report names only its
    # facility, and a report of a member limited to some facilities only those.
    facility_rows = scope.of(Facility)
    if scope.facility_id is not None:
        facility_rows = facility_rows.filter(pk=scope.facility_id)
    names = _Names(
        vendors=GatedNames(scope.of(Vendor).values_list("pk", "legal_name"), "another vendor"),
        facilities=GatedNames(facility_rows.values_list("pk", "name"), "another facility"),
        agreements=GatedNames(scope.of(BusinessAssociateAgreement).values_list("pk", "title"), "another agreement"),
        users={u.pk: _user_label(u) for u in get_user_model().objects.filter(pk__in=user_ids)},
    )
    engagement_names = {
        pk: f"{names.vendors.get(v, f'#{v}')} at {names.facilities.get(f, f'#{f}')}"
        for pk, v, f in scope.of(Engagement).values_list("pk", "vendor_id", "facility_id")
    }

    rows: list[ChangeRow] = []
    for model, records in histories:
        previous = None
        for record in records:
            if previous is not None and previous.id != record.id:
                previous = None
            if record.history_date >= start:
                details = _record_details(model, record, previous, names)
                if record.history_type != "~" or details:
                    rows.append(
                        ChangeRow(
                            at=record.history_date,
                            who=_user_label(record.history_user) if record.history_user else "System",
                            kind=_HISTORY_KINDS.get(record.history_type, record.history_type),
                            subject=_record_subject(model, record, names, engagement_names, checklists),
                            details=details,
                        )
                    )
            previous = record
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows


def _record_subject(model, record, names: _Names, engagement_names: dict[int, str], checklists) -> str:
    if model is Vendor:
        return f"Vendor {record.legal_name}"
    if model is Engagement:
        vendor = names.vendors.get(record.vendor_id, f"#{record.vendor_id}")
        facility = names.facilities.get(record.facility_id, f"#{record.facility_id}")
        return f"Engagement of {vendor} at {facility}: {record.service_description}"
    if model is BusinessAssociateAgreement:
        return f"BAA \u201c{record.title}\u201d with {names.vendors.get(record.vendor_id, f'#{record.vendor_id}')}"
    if model is AgreementDocument:
        title = names.agreements.get(record.agreement_id, f"#{record.agreement_id}")
        kind = DocumentKind(record.kind).label if record.kind in DocumentKind.values else record.kind
        return f"{kind} {record.original_name} (SHA-256 {record.sha256[:12]}) of BAA \u201c{title}\u201d"
    if model is SubcontractorLink:
        sub = names.vendors.get(record.subcontractor_id, f"#{record.subcontractor_id}")
        return f"Subcontractor {sub} under {names.vendors.get(record.vendor_id, f'#{record.vendor_id}')}"
    if model is ChecklistItem:
        engagement = checklists.get(record.checklist_id)
        where = engagement_names.get(engagement.pk, "") if engagement else f"checklist #{record.checklist_id}"
        return f"Teleradiology checklist item {record.number} ({where})"
    return f"{model._meta.verbose_name} #{record.id}"


def _record_details(model, record, previous, names: _Names) -> list[str]:
    """'field: old \u2192 new' for each field that changed; the main facts of a creation."""
    fields = [
        f
        for f in model._meta.concrete_fields
        if f.name not in _SKIPPED_FIELDS and f.attname != "id" and not getattr(f, "auto_now_add", False)
    ]
    if record.history_type == "-":
        return []
    if previous is None:
        # A creation, or the first change of a record created without history (a bulk insert):
        # its main facts rather than a difference.
        shown = []
        for f in fields:
            value = getattr(record, f.attname)
            if value in (None, "", False) or isinstance(f, models.FileField | models.TextField):
                continue
            if f.name in _SUBJECT_FIELDS:
                continue
            shown.append(f"{f.verbose_name}: {_display(f, value, names)}")
        return shown
    return [
        f"{f.verbose_name}: {_display(f, getattr(previous, f.attname), names)} \u2192 "
        f"{_display(f, getattr(record, f.attname), names)}"
        for f in changed_fields(previous, record, fields)
    ]


def _display(f: models.Field, value: Any, names: _Names) -> str:
    if value is None or value == "":
        return "none"
    if f.is_relation and f.related_model is not None:
        return names.of(f.related_model, value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if isinstance(value, datetime.date):
        return f"{value:%Y-%m-%d}"
    if isinstance(f, models.FileField):
        return os.path.basename(str(value))
    return _shorten(str(value), _TEXT_LIMIT)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _user_label(user) -> str:
    return user.get_full_name() or user.get_username()
