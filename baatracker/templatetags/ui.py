"""Template helpers of the shared layout (``{% load ui %}``): idle logoff, optional includes, the
controls a role may see, links with a fallback, widths and colours of rates.

Links to pages of other apps are resolved here with a fallback, so that a page of one app never
breaks because another app has not routed a URL yet. The findings' own tags are in
compliance/templatetags/findings.py (``{% load findings %}``).
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse

from organizations.selectors import active_membership

register = template.Library()


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
