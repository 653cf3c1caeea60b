"""Template helpers of the findings (``{% load findings %}``): the severity badge, what to do about a
finding and what its date means, all read from the finding-kind registry (compliance/kinds.py)."""

from __future__ import annotations

from django import template

from baatracker.templatetags.ui import can, url_or_empty
from compliance import kinds
from compliance.kinds import FixPage, Severity

register = template.Library()

SEVERITY_BADGE = {
    Severity.CRITICAL: "text-bg-danger",
    Severity.HIGH: "text-bg-warning",
    Severity.MEDIUM: "text-bg-info",
    Severity.LOW: "text-bg-secondary",
}


@register.filter
def severity_badge(severity: str) -> str:
    return SEVERITY_BADGE.get(severity, "text-bg-secondary")


def _first_url(*candidates: tuple[str, tuple]) -> str:
    for name, args in candidates:
        url = url_or_empty(name, *args)
        if url:
            return url
    return ""


@register.simple_tag(takes_context=True)
def finding_fix(context, finding) -> dict[str, str]:
    """Where to fix a finding, and what to do there, as its kind declares (compliance/kinds.py):
    a new BAA, the checklist, the radiologist, the agreement or the vendor.

    A read-only member gets a link to look at the record, never to a form that would refuse them.
    """
    may_change = can(context, "change")
    vendor = ("vendors:detail", (finding.vendor_id,))
    spec = kinds.get(finding.kind)
    page = spec.fix_page
    if page == FixPage.NEW_AGREEMENT and may_change:
        create = url_or_empty("agreements:create")
        if create:
            return {
                "url": f"{create}?vendor={finding.vendor_id}&facility={finding.facility_id or ''}",
                "label": spec.fix_label or "Add the BAA",
            }
    if page == FixPage.CHECKLIST and finding.engagement_id:
        return {
            "url": _first_url(("checklists:detail", (finding.engagement_id,)), vendor),
            "label": (spec.fix_label or "Open the checklist") if may_change else "Open the checklist",
        }
    if page == FixPage.RADIOLOGIST and finding.radiologist_id:  # licenses and privileges are on that page
        return {
            "url": _first_url(("readers:radiologist_detail", (finding.radiologist_id,)), vendor),
            "label": (spec.fix_label or "Open the radiologist") if may_change else "Open the radiologist",
        }
    if page == FixPage.RISK_ASSESSMENT and may_change and finding.pk:
        url = url_or_empty("compliance:finding_assessment", finding.pk)
        if url:
            return {"url": url, "label": spec.fix_label or "Record the risk assessment"}
    if finding.agreement_id and page != FixPage.NEW_AGREEMENT:
        label = spec.fix_label if page == FixPage.AGREEMENT and spec.fix_label else "Open the agreement"
        return {
            "url": _first_url(("agreements:detail", (finding.agreement_id,)), vendor),
            "label": label if may_change else "Open the agreement",
        }
    if not may_change:
        return {"url": _first_url(vendor), "label": "Open the vendor"}
    if page == FixPage.VENDOR and spec.fix_label:
        return {"url": _first_url(vendor), "label": spec.fix_label}
    return {"url": _first_url(vendor), "label": "Review the engagement"}


@register.filter
def due_label(finding) -> str:
    """What the date of a finding means (its kind's declaration): a deadline, or when something started."""
    return kinds.get(finding.kind).due_label


@register.inclusion_tag("compliance/_findings_updating.html", takes_context=True)
def findings_updating(context) -> dict[str, object]:
    """The notice "findings are being updated" while the engine has not run since the last edit
    (static/js/findings-refresh.js then refreshes the page's ``data-refresh-region`` parts)."""
    from compliance.selectors import compliance_run_pending

    request = context.get("request")
    pending = request is not None and compliance_run_pending(request.user)
    return {"pending": pending}
