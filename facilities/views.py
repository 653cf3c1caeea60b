"""Pages of the facilities: list, detail, create and edit. Every read and write goes through the gate."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from agreements.selectors import agreements_covering_facility
from baatracker.forms import render_form, save_with_service
from facilities import selectors
from facilities.forms import FacilityForm
from facilities.models import Facility
from facilities.services import facility_save
from organizations.mixins import action_required, can, get_restricted_object_or_404
from organizations.querysets import Action

PER_PAGE = 50
#: Rows shown per section of a facility page; the section links to the whole filtered list. A large
#: facility has a thousand engagements, and an agreement covering all facilities is listed at each
#: one: uncapped, the page grew to several MB (docs/benchmarks.md).
DETAIL_ROWS = 50


@require_GET
@action_required(Action.VIEW)
def facility_list(request):
    show = request.GET.get("show", "active")
    active = {"active": True, "inactive": False}.get(show)
    q = request.GET.get("q", "").strip()[:100]
    facilities = selectors.facility_list(request.user, timezone.localdate(), active=active, q=q)
    page = Paginator(facilities, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "facilities/list.html",
        {
            "page": page,
            "show": show,
            "q": q,
            "can_create": _may_create(request),
        },
    )


@require_GET
@action_required(Action.VIEW)
def facility_detail(request, pk: int):
    facility = get_restricted_object_or_404(Facility, request, pk=pk)
    engagements = selectors.facility_engagements(request.user, facility)
    agreements = agreements_covering_facility(request.user, facility, timezone.localdate())
    findings = selectors.facility_open_findings(request.user, facility)
    return render(
        request,
        "facilities/detail.html",
        {
            "facility": facility,
            "engagements": engagements[:DETAIL_ROWS],
            "engagement_count": engagements.count(),
            "agreements": agreements[:DETAIL_ROWS],
            "agreement_count": agreements.count(),
            "findings": findings[:DETAIL_ROWS],
            "finding_count": findings.count(),
            "detail_rows": DETAIL_ROWS,
            "can_change": can(request, Action.CHANGE),
        },
    )


def _may_create(request) -> bool:
    """A member limited to some facilities could not see a facility they create: only members who see
    every facility of the organization add facilities."""
    membership = getattr(request, "membership", None)
    return can(request, Action.CHANGE) and membership is not None and membership.limited_facility_ids is None


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def facility_create(request):
    if not _may_create(request):
        raise PermissionDenied("Only a member who sees every facility of the organization can add facilities.")
    facility = Facility(organization_id=request.membership.organization_id)
    return _edit(request, facility, created=True)


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def facility_update(request, pk: int):
    facility = get_restricted_object_or_404(Facility, request, pk=pk, action=Action.CHANGE)
    return _edit(request, facility, created=False)


def _edit(request, facility: Facility, *, created: bool):
    form = FacilityForm(request.POST or None, instance=facility)
    saved = save_with_service(
        request,
        form,
        lambda: facility_save(facility=form.instance),
        message=lambda f: f"Facility \u201c{f.name}\u201d {'added' if created else 'saved'}.",
    )
    if saved is not None:
        return redirect("facilities:detail", pk=saved.pk)
    return render_form(request, "facilities/form.html", {"form": form, "facility": facility, "created": created})
