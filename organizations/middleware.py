"""Every page needs an active membership: signed-in users without one see a page that says so.

Sign-in itself is required by django.contrib.auth's LoginRequiredMiddleware (settings.MIDDLEWARE);
this middleware is the second half of the same door. Views that must work without a membership
(sign-out, password change, health check, the Django admin with its own staff check) are exempt.
"""

from __future__ import annotations

from django.shortcuts import render

from organizations.mixins import NoActiveMembership
from organizations.selectors import active_membership

#: URL names that a signed-in user without a membership may still use.
EXEMPT_URL_NAMES = frozenset({"logout", "password_change", "password_change_done", "healthz"})
EXEMPT_NAMESPACES = frozenset({"admin"})


def membership_not_required(view_func):
    """Mark a view usable by a signed-in user who has no active membership."""
    view_func.membership_required = False
    return view_func


def render_no_membership(request):
    return render(request, "organizations/no_membership.html", status=403)


class ActiveMembershipMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # LoginRequiredMiddleware (or a login_not_required view) decides
        if not getattr(view_func, "login_required", True) or not getattr(view_func, "membership_required", True):
            return None
        match = request.resolver_match
        if match is not None and (match.url_name in EXEMPT_URL_NAMES or EXEMPT_NAMESPACES & set(match.namespaces)):
            return None
        if active_membership(user) is None:
            return render_no_membership(request)
        return None

    def process_exception(self, request, exception):
        if isinstance(exception, NoActiveMembership):
            return render_no_membership(request)
        return None
