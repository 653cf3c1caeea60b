"""Reads of the facilities app, always through the permission gate."""

from __future__ import annotations

import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from compliance.models import Finding
from compliance.rules import engagements_with_phi_access
from compliance.selectors import findings_by_urgency, findings_visible_to
from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Engagement


def _count(queryset: QuerySet) -> Subquery:
    return Coalesce(Subquery(queryset.order_by().values("facility").annotate(n=Count("pk")).values("n")[:1]), 0)


def facility_list(user, as_of: datetime.date, *, active: bool | None = None, q: str = "") -> QuerySet[Facility]:
    """Visible facilities with their vendor and open-finding counts (one query, whatever the size)."""
    facilities = Facility.objects.restrict(user, Action.VIEW)
    if active is not None:
        facilities = facilities.filter(active=active)
    if q:
        facilities = facilities.filter(Q(name__icontains=q) | Q(city__icontains=q) | Q(state__iexact=q))
    engagements = Engagement.objects.filter(facility=OuterRef("pk"))
    return facilities.annotate(
        engagement_count=_count(engagements),
        phi_engagement_count=_count(engagements_with_phi_access(as_of).filter(facility=OuterRef("pk"))),
        open_finding_count=_count(Finding.objects.open().filter(facility=OuterRef("pk"))),
        has_open_critical=Exists(Finding.objects.open().filter(facility=OuterRef("pk"), severity="critical")),
    ).order_by("-active", "name")


def facility_engagements(user, facility: Facility) -> QuerySet[Engagement]:
    return (
        Engagement.objects.restrict(user, Action.VIEW)
        .filter(facility=facility)
        .select_related("vendor")
        .order_by("vendor__legal_name", "service_description")
    )


def facility_open_findings(user, facility: Facility) -> QuerySet[Finding]:
    return findings_by_urgency(findings_visible_to(user).open().filter(facility=facility))
