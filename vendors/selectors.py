"""Reads of the vendors app, always through the permission gate (``restrict(user, action)``).

A vendor's BAA status is never decided here: it is read from the open findings of the rules
engine (compliance/rules.py) and from the engine's own building blocks (who has PHI access, which
agreements cover it), so the vendor list, the coverage matrix and the findings never disagree.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from baatracker.history import HistoryEntry, HistorySource, change_history
from checklists.models import DONE_STATUSES, ChecklistItem
from compliance.models import Finding, FindingKind
from compliance.rules import agreements_in_force, covering, engagements_with_phi_access, phi_access_q
from compliance.selectors import findings_by_urgency, findings_visible_to
from organizations.querysets import HIDDEN_FACILITY, HIDDEN_VENDOR, Action, names_through_gate
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor


class BaaStatus(models.TextChoices):
    """The vendor list's answer to 'is this vendor covered?', most urgent first."""

    MISSING = "missing", "BAA missing"
    EXPIRING = "expiring", "BAA expiring"
    COVERED = "covered", "Covered"
    NO_PHI = "no_phi", "No PHI access"


BAA_STATUS_RANK = {BaaStatus.MISSING: 0, BaaStatus.EXPIRING: 1, BaaStatus.COVERED: 2, BaaStatus.NO_PHI: 3}

#: The conditions of each status, most urgent first (the first that holds wins); covered otherwise.
_STATUS_WHEN = (
    (Q(baa_missing=True), BaaStatus.MISSING),
    (Q(has_phi=False), BaaStatus.NO_PHI),
    (Q(baa_expiring=True), BaaStatus.EXPIRING),
)

#: Findings that mean "PHI flows without a BAA in force" (rules 1 and 2).
MISSING_KINDS = (FindingKind.MISSING_BAA, FindingKind.BAA_LAPSED)


def _count_of(queryset: QuerySet, group_by: str) -> Coalesce:
    return Coalesce(
        Subquery(queryset.order_by().values(group_by).annotate(n=Count("pk", distinct=True)).values("n")[:1]),
        0,
        output_field=IntegerField(),
    )


def _vendor_in(queryset: QuerySet) -> ExpressionWrapper:
    """True for the vendors of the rows of ``queryset`` (whose ``vendor`` is never null)."""
    return ExpressionWrapper(Q(pk__in=queryset.values("vendor")), output_field=BooleanField())


def vendors_with_status(
    user, as_of: datetime.date, action: str = Action.VIEW, *, vendor_ids: Sequence[int] | None = None
) -> QuerySet[Vendor]:
    """Visible vendors annotated with ``baa_status`` (a BaaStatus), ``has_phi``, ``phi_planned``,
    ``open_finding_count``, ``facility_count`` and ``visible_engagements`` (prefetched).

    Everything the list shows comes from one query for the page plus one prefetch, whatever the
    number of vendors. A user limited to some facilities gets the status at those facilities only.

    * missing: an open missing-BAA or lapsed-BAA finding (rules 1-2), or, until the next run of the
      engine, a visible engagement with PHI access that no BAA in force covers (the building blocks
      of rule 1), so that a vendor is never shown as covered before the engine has seen it;
    * no PHI: no visible engagement in which the vendor touches PHI today (160.103's four verbs);
    * expiring: an open BAA-expiring finding (rule 3, which knows auto-renewal notice dates);
    * covered: anything else.

    ``vendor_ids`` (a page of the list, or one vendor) narrows the vendors and every subquery to
    them: PostgreSQL may compute a correlated EXISTS once for the whole set (a hashed subplan), and
    the set is then the page's engagements rather than the organization's. Sorting and filtering the
    whole list need only the expressions they use: the list pages its primary keys first (see
    vendors.views.vendor_list), then annotates that page with ``vendor_ids``.
    """
    vendors = Vendor.objects.restrict(user, action)
    visible_engagements = Engagement.objects.restrict(user, Action.VIEW)
    phi_engagements = engagements_with_phi_access(as_of).restrict(user, Action.VIEW)
    open_findings = Finding.objects.restrict(user, Action.VIEW).open()
    if vendor_ids is not None:
        vendors = vendors.filter(pk__in=vendor_ids)
        visible_engagements = visible_engagements.filter(vendor__in=vendor_ids)
        phi_engagements = phi_engagements.filter(vendor__in=vendor_ids)
        open_findings = open_findings.filter(vendor__in=vendor_ids)
    # Only the organization's agreements can cover its engagements (agreements.services checks the
    # vendor's organization), and one covering a visible facility is visible: restricting them
    # changes no answer, and lets PostgreSQL use the (organization, vendor, status) index.
    in_force = agreements_in_force(as_of).restrict(user, Action.VIEW)
    uncovered = phi_engagements.filter(~Exists(covering(in_force, as_of=as_of)))
    planned_phi = visible_engagements.filter(phi_access_q(), status=EngagementStatus.PLANNED)
    correlated_findings = open_findings.filter(vendor=OuterRef("pk"))
    return (
        vendors.annotate(
            # Each "vendor has one" is a set of vendor ids computed once per query (``pk IN (...)``,
            # a hashed subplan), not a subquery per vendor: sorting and filtering by status read
            # every visible vendor.
            has_phi=_vendor_in(phi_engagements),
            phi_planned=_vendor_in(planned_phi),
            baa_missing=ExpressionWrapper(
                Q(pk__in=open_findings.filter(kind__in=MISSING_KINDS).values("vendor"))
                | Q(pk__in=uncovered.values("vendor")),
                output_field=BooleanField(),
            ),
            baa_expiring=_vendor_in(open_findings.filter(kind=FindingKind.BAA_EXPIRING)),
        )
        .annotate(
            baa_status=Case(
                *[When(condition, then=Value(status.value)) for condition, status in _STATUS_WHEN],
                default=Value(BaaStatus.COVERED.value),
                output_field=models.CharField(),
            ),
            # Ranked from the same conditions rather than from baa_status: a Case over baa_status
            # would repeat its whole SQL once per status (and the uncovered-PHI subquery with it).
            status_rank=Case(
                *[When(condition, then=Value(BAA_STATUS_RANK[status])) for condition, status in _STATUS_WHEN],
                default=Value(BAA_STATUS_RANK[BaaStatus.COVERED]),
                output_field=IntegerField(),
            ),
            open_finding_count=_count_of(correlated_findings, "vendor"),
            facility_count=Coalesce(
                Subquery(
                    visible_engagements.filter(vendor=OuterRef("pk"))
                    .order_by()
                    .values("vendor")
                    .annotate(n=Count("facility", distinct=True))
                    .values("n")[:1]
                ),
                0,
                output_field=IntegerField(),
            ),
        )
        .prefetch_related(
            Prefetch(
                "engagements",
                queryset=visible_engagements.select_related("facility").order_by("facility__name", "pk"),
                to_attr="visible_engagements",
            )
        )
    )


def vendors_in_order(user, as_of: datetime.date, vendor_ids: Sequence[int]) -> list[Vendor]:
    """These vendors with their status (``vendors_with_status``), in the order of ``vendor_ids``.

    One query for the vendors plus one prefetch, whatever the size of the inventory; a vendor no
    longer visible (deleted meanwhile) is left out."""
    rows = {vendor.pk: vendor for vendor in vendors_with_status(user, as_of, vendor_ids=vendor_ids).order_by()}
    return [rows[pk] for pk in vendor_ids if pk in rows]


def vendor_engagements(user, vendor: Vendor) -> QuerySet[Engagement]:
    """The vendor's visible engagements with their checklist progress (teleradiology)."""
    done_items = ChecklistItem.objects.filter(checklist__engagement=OuterRef("pk"), status__in=DONE_STATUSES)
    return (
        Engagement.objects.restrict(user, Action.VIEW)
        .filter(vendor=vendor)
        .select_related("facility", "teleradiology_checklist")
        .annotate(checklist_done=_count_of(done_items, "checklist__engagement"))
        .order_by("facility__name", "service_description", "pk")
    )


def vendor_agreements(user, vendor: Vendor) -> QuerySet:
    from agreements.models import BusinessAssociateAgreement
    from facilities.models import Facility

    return (
        BusinessAssociateAgreement.objects.restrict(user, Action.VIEW)
        .filter(vendor=vendor)
        .annotate(document_count=Count("documents", distinct=True))
        .prefetch_related(
            Prefetch("covered_facilities", queryset=Facility.objects.restrict(user, Action.VIEW).order_by("name"))
        )
        .select_related("supersedes")
        .order_by("archived_at", "-effective_on", "-pk")
    )


def vendor_subcontractors(user, vendor: Vendor) -> QuerySet[SubcontractorLink]:
    """The vendor's own subcontractors (its business associates)."""
    return (
        SubcontractorLink.objects.restrict(user, Action.VIEW)
        .filter(vendor=vendor)
        .select_related("subcontractor")
        .order_by("subcontractor__legal_name")
    )


def vendor_serves_as_subcontractor(user, vendor: Vendor) -> QuerySet[SubcontractorLink]:
    """Where this vendor is itself a subcontractor of another vendor."""
    return (
        SubcontractorLink.objects.restrict(user, Action.VIEW)
        .filter(subcontractor=vendor)
        .select_related("vendor")
        .order_by("vendor__legal_name")
    )


def vendor_open_findings(user, vendor: Vendor) -> QuerySet[Finding]:
    return findings_by_urgency(findings_visible_to(user).open().filter(vendor=vendor))


# --- Change history (baatracker/history.py) ------------------------------------------------------------


def vendor_history(user, vendor: Vendor, *, limit: int = 50) -> list[HistoryEntry]:
    """Changes of the vendor, of its visible engagements and subcontractor links and of its visible
    agreements, newest first."""
    from agreements.models import BusinessAssociateAgreement
    from facilities.models import Facility

    engagement_ids = Engagement.objects.restrict(user, Action.VIEW).filter(vendor=vendor).values("pk")
    agreement_ids = BusinessAssociateAgreement.objects.restrict(user, Action.VIEW).filter(vendor=vendor).values("pk")
    link_ids = SubcontractorLink.objects.restrict(user, Action.VIEW).filter(vendor=vendor).values("pk")
    facility_names = names_through_gate(
        user, Facility, "name", hidden=HIDDEN_FACILITY, organization_id=vendor.organization_id
    )
    vendor_names = names_through_gate(
        user, Vendor, "legal_name", hidden=HIDDEN_VENDOR, organization_id=vendor.organization_id
    )
    names = {"facility": facility_names, "vendor": vendor_names, "subcontractor": vendor_names}
    sources = [
        HistorySource("Vendor", vendor.history.all(), lambda r: r.legal_name),
        HistorySource(
            "Engagement",
            Engagement.history.filter(id__in=engagement_ids),
            lambda r: f"{facility_names.get(r.facility_id, 'facility')}: {r.service_description}",
        ),
        HistorySource("Agreement", BusinessAssociateAgreement.history.filter(id__in=agreement_ids), lambda r: r.title),
        HistorySource(
            "Subcontractor",
            SubcontractorLink.history.filter(id__in=link_ids),
            lambda r: vendor_names.get(r.subcontractor_id, "subcontractor"),
        ),
    ]
    return change_history(sources, names=names, limit=limit)


def inventory_rows(vendors: Iterable[Vendor]) -> Iterable[list[Any]]:
    """Rows of the inventory export, one per visible engagement (a vendor without one gets one row),
    in the columns of the import (vendors.importing.COLUMNS), so an export can be imported again."""
    for vendor in vendors:
        base = [
            vendor.legal_name,
            vendor.get_category_display(),
            "yes" if vendor.is_conduit else "no",
            vendor.contact_name,
            vendor.contact_email,
            vendor.contact_phone,
            vendor.website,
        ]
        engagements = getattr(vendor, "visible_engagements", None) or [None]
        for engagement in engagements:
            if engagement is None:
                yield base + [""] * 10 + [vendor.notes]
                continue
            yield base + [
                engagement.facility.name,
                engagement.service_description,
                "yes" if engagement.phi_creates else "no",
                "yes" if engagement.phi_receives else "no",
                "yes" if engagement.phi_maintains else "no",
                "yes" if engagement.phi_transmits else "no",
                engagement.phi_access_starts_on,
                engagement.ends_on,
                engagement.get_status_display(),
                engagement.data_location,
                vendor.notes,
            ]
