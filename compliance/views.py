"""Pages of the compliance officer: the dashboard, the coverage matrix and the findings.

Every page reads through the permission gate (organizations.mixins); findings are decided only by
the rules engine and shown here, acknowledged (never resolved) by a person.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from baatracker.forms import render_form, save_with_service
from baatracker.spreadsheets import SpreadsheetFormat, spreadsheet_response
from compliance import charts, selectors
from compliance.forms import FindingAcknowledgeForm, FindingFilterForm
from compliance.models import Finding, FindingKind
from compliance.services import finding_acknowledge
from organizations.mixins import action_required, can, get_restricted_object_or_404
from organizations.models import AccessAction
from organizations.querysets import Action
from organizations.services import access_log_record

FINDINGS_PER_PAGE = 25
#: A vendor name is at most 200 characters; a longer search cannot match.
COVERAGE_SEARCH_MAX_LENGTH = 200
FINDING_ALERTS_TEMPLATE = "alerts/_finding_alerts.html"


def as_of_from_request(request) -> tuple[datetime.date, bool]:
    """The day a page describes: ``?as_of=YYYY-MM-DD`` (a point-in-time view, read-only), else today.
    A malformed date falls back to today (the picker says so). Returns (day, is_today)."""
    today = timezone.localdate()
    raw = request.GET.get("as_of", "").strip()
    try:
        day = datetime.date.fromisoformat(raw) if raw else today
    except ValueError:
        day = today
    return day, day == today


@require_GET
@action_required(Action.VIEW)
def dashboard(request):
    as_of, is_today = as_of_from_request(request)
    as_of_findings = None
    if not is_today:
        as_of_findings = selectors.findings_as_of(request.user, request.membership.organization_id, as_of)
    data = selectors.dashboard(request.user, as_of, as_of_findings=as_of_findings)
    return render(
        request,
        "compliance/dashboard.html",
        {
            "data": data,
            "expiry_chart": charts.expirations_chart(data.expirations),
            "as_of": as_of,
            "as_of_is_today": is_today,
        },
    )


@require_GET
@action_required(Action.VIEW)
def findings_updating(request):
    """Polled by the pages that say "findings are being updated" (static/js/findings-refresh.js)."""
    response = JsonResponse({"pending": selectors.compliance_run_pending(request.user)})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@action_required(Action.VIEW)
def coverage(request):
    """One page of vendors (columns) at a time: a health system has too many for one table.

    ``gaps=1`` keeps the vendors with a gap somewhere before paginating, so page 1 shows the first
    of them, and then hides the facilities with no gap among that page's vendors; ``q`` filters the
    vendors by name. The summary counts the whole organization, whatever the page.
    """
    as_of, is_today = as_of_from_request(request)
    gaps_only = request.GET.get("gaps") == "1"
    search = request.GET.get("q", "").strip()[:COVERAGE_SEARCH_MAX_LENGTH]
    vendors = selectors.coverage_vendors(request.user, as_of, gaps_only=gaps_only, search=search)
    page = Paginator(vendors, selectors.COVERAGE_VENDORS_PER_PAGE).get_page(request.GET.get("page"))
    matrix = selectors.coverage_matrix(request.user, as_of, gaps_only=gaps_only, vendors=page.object_list)
    return render(
        request,
        "compliance/coverage.html",
        {
            "matrix": matrix,
            "page": page,
            "summary": selectors.coverage_summary(request.user, as_of),
            "gaps_only": gaps_only,
            "search": search,
            "can_change": can(request, Action.CHANGE),
            "as_of": as_of,
            "as_of_is_today": is_today,
        },
    )


def _filtered_findings(request) -> tuple[FindingFilterForm, object]:
    form = FindingFilterForm(request.GET, user=request.user)
    findings = selectors.filter_findings(selectors.findings_visible_to(request.user), **form.filters())
    return form, selectors.findings_by_urgency(findings)


@require_GET
@action_required(Action.VIEW)
def finding_list(request):
    form, findings = _filtered_findings(request)
    page = Paginator(findings, FINDINGS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "compliance/finding_list.html", {"form": form, "page": page})


@require_GET
@action_required(Action.VIEW)
def finding_detail(request, pk: int):
    finding = get_restricted_object_or_404(selectors.findings_visible_to(request.user), request, pk)
    return _render_detail(request, finding, FindingAcknowledgeForm())


def _render_detail(request, finding: Finding, form: FindingAcknowledgeForm, status: int = 200):
    from baatracker.templatetags.ui import template_exists

    return render(
        request,
        "compliance/finding_detail.html",
        {
            "finding": finding,
            "form": form,
            "can_change": can(request, Action.CHANGE),
            "show_finding_alerts": template_exists(FINDING_ALERTS_TEMPLATE),
        },
        status=status,
    )


@require_POST
@action_required(Action.CHANGE)
def finding_acknowledge_view(request, pk: int):
    finding = get_restricted_object_or_404(selectors.findings_visible_to(request.user), request, pk, Action.CHANGE)
    form = FindingAcknowledgeForm(request.POST)
    if not finding.is_open:
        messages.error(request, "This finding is resolved; there is nothing to acknowledge.")
        return redirect("compliance:finding_detail", pk=finding.pk)
    if not form.is_valid():
        return _render_detail(request, finding, form, status=400)
    finding_acknowledge(finding=finding, user=request.user, note=form.cleaned_data["note"])
    messages.success(request, "Finding acknowledged. It stays open until the data no longer shows the problem.")
    return redirect("compliance:finding_detail", pk=finding.pk)


FINDING_EXPORT_HEADERS = [
    "Finding",
    "Severity",
    "Kind",
    "Status",
    "Vendor",
    "Facility",
    "Agreement",
    "Explanation",
    "Key date",
    "First seen",
    "Last seen",
    "Resolved",
    "Acknowledged",
    "Acknowledged by",
    "Acknowledgement note",
]


def _finding_export_row(finding: Finding) -> list:
    if finding.resolved_at:
        status = "Resolved"
    elif finding.acknowledged_at:
        status = "Open, acknowledged"
    else:
        status = "Open"
    return [
        finding.pk,
        finding.get_severity_display(),
        finding.get_kind_display(),
        status,
        finding.vendor.legal_name,
        finding.facility.name if finding.facility else "",
        finding.agreement.title if finding.agreement else "",
        finding.explanation,
        finding.due_on,
        finding.first_seen_at,
        finding.last_seen_at,
        finding.resolved_at,
        finding.acknowledged_at,
        finding.acknowledged_by.get_username() if finding.acknowledged_by else "",
        finding.acknowledgement_note,
    ]


@require_GET
@action_required(Action.VIEW)
def finding_export(request):
    """The findings of the list, with the same filters, as CSV or XLSX (formula-injection safe).

    The export is recorded in the access log (45 CFR 164.312(b)); it contains no PHI.
    """
    fmt = request.GET.get("format", SpreadsheetFormat.CSV)
    if fmt not in SpreadsheetFormat.values:
        fmt = SpreadsheetFormat.CSV
    _form, findings = _filtered_findings(request)
    rows = [_finding_export_row(finding) for finding in findings]
    filters = ", ".join(
        f"{key}={value}" for key, value in request.GET.items() if key not in ("format", "page") and value
    )
    access_log_record(
        request=request,
        action=AccessAction.EXPORT,
        obj=request.membership.organization,
        description=f"Exported {len(rows)} findings as {fmt.upper()}" + (f" ({filters})" if filters else ""),
    )
    return spreadsheet_response(fmt=fmt, filename="findings", headers=FINDING_EXPORT_HEADERS, rows=rows)


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def finding_assessment(request, pk: int):
    """Record the breach risk assessment of a past period of PHI without a BAA (45 CFR 164.402(2)):
    it closes the finding at the run scheduled on commit."""
    from compliance.forms import BreachRiskAssessmentForm
    from compliance.services import breach_risk_assessment_record

    finding = get_restricted_object_or_404(selectors.findings_visible_to(request.user), request, pk, Action.CHANGE)
    if finding.kind not in (FindingKind.PHI_WITHOUT_BAA, FindingKind.PHI_BEFORE_BAA) or not finding.is_open:
        raise Http404("Only an open finding of PHI disclosed without a BAA takes a risk assessment.")
    starts_on, ends_on = selectors.finding_period(finding)
    if ends_on is None or ends_on >= timezone.localdate():
        raise Http404("The period has not ended yet: get a BAA in force first.")
    form = BreachRiskAssessmentForm(request.POST or None, request.FILES or None)
    recorded = save_with_service(
        request,
        form,
        lambda: breach_risk_assessment_record(
            engagement=finding.engagement,
            period_starts_on=starts_on,
            period_ends_on=ends_on,
            assessed_by=request.user,
            **form.cleaned_data,
        ),
        message=lambda _: "Risk assessment recorded: the finding closes at the next compliance run.",
    )
    if recorded is not None:
        return redirect("compliance:finding_detail", pk=finding.pk)
    context = {"finding": finding, "form": form, "period": (starts_on, ends_on)}
    return render_form(request, "compliance/finding_assessment.html", context)
