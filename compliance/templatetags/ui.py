"""Template helpers of the shared layout: idle logoff, optional includes, links to what to fix.

Links to pages of other apps are resolved here with a fallback, so that a page of one app never
breaks because another app has not routed a URL yet.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse

from compliance.models import Severity
from organizations.selectors import active_membership

register = template.Library()

SEVERITY_BADGE = {
    Severity.CRITICAL: "text-bg-danger",
    Severity.HIGH: "text-bg-warning",
    Severity.MEDIUM: "text-bg-info",
    Severity.LOW: "text-bg-secondary",
}


@register.simple_tag
def idle_logoff_minutes() -> str:
    """45 CFR 164.312(a)(2)(iii): the JS timer signs out after as long as the server session lasts."""
    return f"{settings.SESSION_COOKIE_AGE / 60:g}"


@register.simple_tag
def template_exists(name: str) -> bool:
    try:
        get_template(name)
    except template.TemplateDoesNotExist:
        return False
    return True


@register.simple_tag(takes_context=True)
def can(context, action: str) -> bool:
    """Whether to show a control; the views enforce the same gate (organizations.mixins)."""
    request = context.get("request")
    membership = active_membership(getattr(request, "user", None))
    return membership is not None and membership.allows(action)


@register.simple_tag
def url_or_empty(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


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
    """Where to fix a finding, and what to do there: the engagement, the agreement or the vendor.

    A read-only member gets a link to look at the record, never to a form that would refuse them.
    """
    from compliance.models import FindingKind

    may_change = can(context, "change")
    vendor = ("vendors:detail", (finding.vendor_id,))
    kind = finding.kind
    if kind == FindingKind.MISSING_BAA and may_change:
        create = url_or_empty("agreements:create")
        if create:
            return {
                "url": f"{create}?vendor={finding.vendor_id}&facility={finding.facility_id or ''}",
                "label": "Add the BAA",
            }
    if kind in (FindingKind.CHECKLIST_INCOMPLETE, FindingKind.CHECKLIST_REVIEW_OVERDUE) and finding.engagement_id:
        label = "Complete the checklist" if kind == FindingKind.CHECKLIST_INCOMPLETE else "Review the checklist"
        return {
            "url": _first_url(("checklists:detail", (finding.engagement_id,)), vendor),
            "label": label if may_change else "Open the checklist",
        }
    if finding.radiologist_id:  # teleradiology readers: licenses and privileges are on the radiologist's page
        return {
            "url": _first_url(("readers:radiologist_detail", (finding.radiologist_id,)), vendor),
            "label": "Update the radiologist's records" if may_change else "Open the radiologist",
        }
    if finding.agreement_id and kind != FindingKind.MISSING_BAA:
        labels = {
            FindingKind.BAA_LAPSED: "Renew the BAA",
            FindingKind.BAA_EXPIRING: "Renew or replace the BAA",
            FindingKind.NO_SIGNED_DOCUMENT: "Upload the signed BAA",
            FindingKind.BREACH_WINDOW_TOO_LONG: "Amend the BAA",
            FindingKind.PRE_OMNIBUS_BAA: "Amend the BAA",
        }
        return {
            "url": _first_url(("agreements:detail", (finding.agreement_id,)), vendor),
            "label": labels.get(kind, "Open the agreement") if may_change else "Open the agreement",
        }
    if not may_change:
        return {"url": _first_url(vendor), "label": "Open the vendor"}
    if finding.subcontractor_link_id:
        return {"url": _first_url(vendor), "label": "Record the downstream BAA"}
    return {"url": _first_url(vendor), "label": "Review the engagement"}


@register.filter
def pct_class(value) -> str:
    """A width class of app.css (pct-0 ... pct-100, steps of 5): the CSP allows no inline style."""
    try:
        number = max(0, min(100, int(value)))
    except (TypeError, ValueError):
        return "pct-0"
    return f"pct-{5 * round(number / 5)}"


@register.filter
def rate_class(value) -> str:
    """Colour of a compliance rate: anything short of full coverage is a gap to see at a glance."""
    if value is None:
        return "rate-none"
    if value >= 100:
        return "rate-ok"
    if value >= 75:
        return "rate-warn"
    return "rate-bad"


@register.filter
def minutes(delta) -> str:
    """A timedelta as "15 minutes" (e.g. the sign-in lockout of django-axes)."""
    try:
        total = round(delta.total_seconds() / 60)
    except AttributeError:
        return ""
    return f"{total} minute{'s' if total != 1 else ''}"


@register.filter
def due_label(finding) -> str:
    """What the date of a finding means: a deadline, or when something started."""
    from compliance.models import FindingKind

    return {
        FindingKind.PHI_BEFORE_BAA: "PHI access since",
        FindingKind.CHECKLIST_REVIEW_OVERDUE: "review due since",
    }.get(finding.kind, "due")
