"""Two-factor sign-in (TOTP, django-otp) for local passwords: who needs it and the door that asks for it.

Required for administrators (settings.TWO_FACTOR_REQUIRED_FOR_ADMINS, on unless switched off) and for
everyone in an organization whose SignInPolicy says so; anyone who enrolled a device is asked too. The
decision is taken once, when the password sign-in succeeds (identity.signals), and kept in the session:
until a code is given, every page except the two-factor pages and sign-out sends the person there, so
a stolen password alone opens nothing (45 CFR 164.312(d), person or entity authentication).
Single sign-on is exempt: the identity provider applies the hospital's own MFA policy. So are the
credentials that are not a session sign-in: a personal API token (created on a page behind this door,
and scoped and expiring on its own) and a calendar feed's secret URL.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from organizations.models import Role

SESSION_PENDING_KEY = "identity_two_factor_pending"
SESSION_METHOD_KEY = "identity_sign_in_method"

#: URL names a person may use between the password and the code.
EXEMPT_URL_NAMES = frozenset({"logout", "healthz", "login"})
EXEMPT_IDENTITY_URL_NAMES = frozenset({"two_factor", "two_factor_enrol", "two_factor_verify"})
#: Views whose credential is a secret in the URL, not the session: a calendar client's feed. The pending
#: session of whoever else uses the browser neither grants nor blocks it.
SECRET_URL_VIEWS = frozenset({("calendars", "feed")})


def _api_token_request(request) -> bool:
    """A request that signs in with a personal API token (``Authorization: Bearer``). DRF's first
    authenticator (api.authentication.ApiTokenAuthentication) then takes the token or answers 401; it
    never falls back to the session, so a pending session cookie sent along is not used."""
    words = request.META.get("HTTP_AUTHORIZATION", "").split()
    return bool(words) and words[0].lower() == "bearer"


def has_two_factor_device(user) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_required(user, membership) -> bool:
    """Whether this person must use a second factor after their password."""
    from identity.models import SignInPolicy

    if settings.TWO_FACTOR_REQUIRED_FOR_ADMINS and (
        user.is_superuser or user.is_staff or (membership is not None and membership.role == Role.ADMIN)
    ):
        return True
    if membership is None:
        return False
    return SignInPolicy.objects.filter(organization_id=membership.organization_id, two_factor_required=True).exists()


def needs_second_factor(user, membership) -> bool:
    return has_two_factor_device(user) or two_factor_required(user, membership)


class TwoFactorMiddleware:
    """Between a correct password and a correct code, only the two-factor pages and sign-out open."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not request.session.get(SESSION_PENDING_KEY):
            return None
        if user.is_verified() or _api_token_request(request):
            return None
        match = request.resolver_match
        if match is not None:
            if (":".join(match.namespaces), match.url_name) in SECRET_URL_VIEWS:
                return None
            if match.url_name in EXEMPT_URL_NAMES and not match.namespaces:
                return None
            if "identity" in match.namespaces and match.url_name in EXEMPT_IDENTITY_URL_NAMES:
                return None
        query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
        return redirect(reverse("identity:two_factor") + (f"?{query}" if query else ""))
