"""Reads of the agreements app, always through the permission gate (``restrict(user, action)``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import models
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from agreements.models import AgreementDocument, BusinessAssociateAgreement
from baatracker.history import HistoryEntry, HistorySource, change_history
from compliance.models import Finding, FindingKind
from compliance.selectors import findings_by_urgency, findings_visible_to
from compliance.timeline import (
    agreements_in_force,
    agreements_not_ended,
    agreements_signed,
    covering,
    engagements_with_phi_access,
)
from facilities.models import Facility
from organizations.querysets import HIDDEN_AGREEMENT, HIDDEN_FACILITY, Action, names_through_gate
from vendors.models import Engagement


class ExpiryWindow(models.TextChoices):
    WITHIN_30 = "30", "Expiring within 30 days"
    WITHIN_60 = "60", "Expiring within 60 days"
    WITHIN_90 = "90", "Expiring within 90 days"
    EXPIRED = "expired", "Expired"
    EVERGREEN = "evergreen", "Evergreen (no expiry date)"


def agreement_list(user, as_of: datetime.date) -> QuerySet[BusinessAssociateAgreement]:
    """Visible agreements with vendor, document and open-finding counts, and whether each is in force
    (the rules' ``agreements_in_force``), in one query plus one prefetch of covered facilities."""
    open_findings = Finding.objects.restrict(user, Action.VIEW).open().filter(agreement=OuterRef("pk"))
    return (
        BusinessAssociateAgreement.objects.restrict(user, Action.VIEW)
        .select_related("vendor")
        .annotate(
            document_count=Coalesce(
                Subquery(
                    AgreementDocument.objects.filter(agreement=OuterRef("pk"))
                    .order_by()
                    .values("agreement")
                    .annotate(n=Count("pk"))
                    .values("n")[:1]
                ),
                0,
                output_field=IntegerField(),
            ),
            open_finding_count=Coalesce(
                Subquery(open_findings.order_by().values("agreement").annotate(n=Count("pk")).values("n")[:1]),
                0,
                output_field=IntegerField(),
            ),
            in_force=Exists(agreements_in_force(as_of).filter(pk=OuterRef("pk"))),
            # Signed, and its span (compliance.timeline) has ended: the list marks its expiry date.
            has_ended=ExpressionWrapper(
                Q(Exists(agreements_signed().filter(pk=OuterRef("pk"))))
                & ~Q(Exists(agreements_not_ended(as_of).filter(pk=OuterRef("pk")))),
                output_field=BooleanField(),
            ),
        )
        # The covered facilities the user may see: the gate applies to names too (issue #15 item 4).
        .prefetch_related(
            Prefetch("covered_facilities", queryset=Facility.objects.restrict(user, Action.VIEW).order_by("name"))
        )
    )


def filter_by_expiry(queryset: QuerySet, window: str, as_of: datetime.date) -> QuerySet:
    """The list's expiry filter, from the one derivation of each state: "expiring within N days" is an
    open expiring or terminating finding due within N days (the rules decide, so a renewal executed
    in advance is not expiring here either); "expired" is a signed agreement whose span has ended
    (compliance.timeline), whatever its status says."""
    if window in (ExpiryWindow.WITHIN_30, ExpiryWindow.WITHIN_60, ExpiryWindow.WITHIN_90):
        end = as_of + datetime.timedelta(days=int(window))
        ending = Finding.objects.open().filter(
            kind__in=(FindingKind.BAA_EXPIRING, FindingKind.BAA_TERMINATING), due_on__lte=end
        )
        return queryset.filter(pk__in=ending.values("agreement_id"))
    if window == ExpiryWindow.EXPIRED:
        return queryset.filter(pk__in=agreements_signed().values("pk")).exclude(
            pk__in=agreements_not_ended(as_of).values("pk")
        )
    if window == ExpiryWindow.EVERGREEN:
        return queryset.filter(expires_on__isnull=True)
    return queryset


def agreements_covering_facility(user, facility: Facility, as_of: datetime.date) -> QuerySet:
    """Visible, not archived agreements whose coverage includes the facility."""
    return (
        BusinessAssociateAgreement.objects.restrict(user, Action.VIEW)
        .not_archived()
        .filter(organization_id=facility.organization_id)
        .filter(Q(covers_all_facilities=True) | Q(covered_facilities=facility))
        .select_related("vendor")
        .distinct()
        .order_by("vendor__legal_name", "-effective_on")
    )


def agreement_documents(user, agreement: BusinessAssociateAgreement) -> QuerySet[AgreementDocument]:
    return (
        AgreementDocument.objects.restrict(user, Action.VIEW)
        .filter(agreement=agreement)
        .select_related("uploaded_by", "reading")
        .order_by("-uploaded_at")
    )


def agreement_findings(user, agreement: BusinessAssociateAgreement) -> QuerySet[Finding]:
    return findings_by_urgency(findings_visible_to(user).open().filter(agreement=agreement))


def agreement_engagements(user, agreement: BusinessAssociateAgreement) -> QuerySet[Engagement]:
    """The vendor's visible engagements at the facilities the agreement covers."""
    engagements = (
        Engagement.objects.restrict(user, Action.VIEW).filter(vendor_id=agreement.vendor_id).select_related("facility")
    )
    if not agreement.covers_all_facilities:
        engagements = engagements.filter(facility__in=agreement.covered_facilities.all())
    return engagements.order_by("facility__name", "service_description")


def visible_covered_facilities(user, agreement: BusinessAssociateAgreement) -> tuple[list[Facility], int]:
    """The covered facilities the user may see, and how many others it covers."""
    covered = list(agreement.covered_facilities.order_by("name"))
    visible_ids = set(Facility.objects.restrict(user, Action.VIEW).values_list("pk", flat=True))
    visible = [f for f in covered if f.pk in visible_ids]
    return visible, len(covered) - len(visible)


def agreement_history(user, agreement: BusinessAssociateAgreement, *, limit: int = 50) -> list[HistoryEntry]:
    """Changes of the agreement (coverage included) and of its documents, newest first."""
    facility_names = names_through_gate(
        user, Facility, "name", hidden=HIDDEN_FACILITY, organization_id=agreement.organization_id
    )
    titles = names_through_gate(
        user, BusinessAssociateAgreement, "title", hidden=HIDDEN_AGREEMENT, organization_id=agreement.organization_id
    )
    names = {"facility": facility_names, "supersedes": titles, "vendor": {agreement.vendor_id: str(agreement.vendor)}}
    return change_history(
        [
            HistorySource("Agreement", agreement.history.all(), lambda r: r.title, diff_m2m=True),
            HistorySource(
                "Document",
                AgreementDocument.history.filter(agreement_id=agreement.pk),
                lambda r: f"{r.original_name} (SHA-256 {r.sha256[:12]})",
            ),
        ],
        names=names,
        limit=limit,
    )


@dataclass(frozen=True)
class TerminationConsequences:
    """What a termination on ``terminated_on`` ends, as the officer may see it."""

    terminated_on: datetime.date
    covers_all_facilities: bool
    facilities: list[Facility]
    hidden_facility_count: int
    engagements: list[Engagement]


def termination_consequences(
    user, agreement: BusinessAssociateAgreement, terminated_on: datetime.date, today: datetime.date
) -> TerminationConsequences:
    """The facilities the agreement stops covering and the engagements left without a BAA in force
    from ``terminated_on`` (and still today, for a date in the past).

    Computed with the rules' own building blocks (compliance.timeline: PHI access, dated coverage, in force),
    so that the page promises exactly the findings the rules engine will open.
    """
    facilities, hidden = visible_covered_facilities(user, agreement)
    engagements: dict[int, Engagement] = {}
    for day in sorted({terminated_on, max(terminated_on, today)}):
        others = agreements_in_force(day).exclude(pk=agreement.pk)
        losing = (
            engagements_with_phi_access(day)
            .filter(vendor_id=agreement.vendor_id, pk__in=agreement_engagements(user, agreement).values("pk"))
            .filter(~Exists(covering(others, as_of=day)))
            .select_related("facility")
        )
        for engagement in losing:
            engagements.setdefault(engagement.pk, engagement)
    return TerminationConsequences(
        terminated_on=terminated_on,
        covers_all_facilities=agreement.covers_all_facilities,
        facilities=facilities,
        hidden_facility_count=hidden,
        engagements=sorted(engagements.values(), key=lambda e: (e.facility.name, e.service_description, e.pk)),
    )
