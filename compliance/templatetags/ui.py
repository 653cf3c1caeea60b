"""Template helpers of the shared layout: idle logoff, optional includes, links to what to fix.

Links to pages of other apps are resolved here with a fallback, so that a page of one app never
breaks because another app has not routed a URL yet.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse

from compliance import kinds
from compliance.kinds import FixPage, Severity
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
    """Where to fix a finding, and what to do there, as its kind declares (compliance/kinds.py):
    a new BAA, the checklist, the agreement or the vendor.

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
    """What the date of a finding means (its kind's declaration): a deadline, or when something started."""
    return kinds.get(finding.kind).due_label
