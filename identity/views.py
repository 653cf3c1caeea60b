"""Sign-in pages: single sign-on (OpenID Connect), the two-factor step and enrolment, and the
organization's sign-in settings (administrators)."""

from __future__ import annotations

import logging

import django_otp
import requests
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from identity import qr, selectors, services, twofactor
from identity.backends import SESSION_PROVIDER_KEY, provider_settings
from identity.crypto import SecretUnreadable
from identity.discovery import DiscoveryError, provider_metadata
from identity.forms import IdentityProviderForm, SignInPolicyForm, SsoEmailForm, TokenForm
from identity.models import IdentityProvider, SignInMethod, SignInOutcome
from identity.signals import client_address
from organizations.middleware import membership_not_required
from organizations.mixins import action_required
from organizations.querysets import Action

logger = logging.getLogger(__name__)


# --- Single sign-on ---------------------------------------------------------------------------------


def _sign_in_page_with(request, *, error: str):
    """Back to the sign-in page with a message that says what to do."""
    messages.error(request, error)
    return redirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': _safe_next(request)})}")


def _safe_next(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_not_required
@require_POST
def sso_by_email(request):
    """The e-mail box on the sign-in page: its domain picks the organization's identity provider."""
    form = SsoEmailForm(request.POST)
    if not form.is_valid():
        return _sign_in_page_with(request, error="Type your work e-mail address, e.g. name@hospital.org.")
    provider = selectors.provider_for_email(form.cleaned_data["email"])
    if provider is None:
        return _sign_in_page_with(
            request, error="Single sign-on is not set up for that e-mail domain. Sign in with your username."
        )
    url = reverse("identity:sso_start", args=[provider.pk])
    return redirect(f"{url}?{urlencode({'next': _safe_next(request), 'login_hint': form.cleaned_data['email']})}")


@method_decorator([login_not_required, never_cache], name="dispatch")
class OrganizationSsoStartView(OIDCAuthenticationRequestView):
    """mozilla-django-oidc's authorization request, with the organization's provider and PKCE."""

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)  # not the settings-reading one
        self._provider_settings: dict[str, object] = {}

    def get_settings(self, attr, *args):
        if attr in self._provider_settings:
            return self._provider_settings[attr]
        return getattr(settings, attr, *args) if args else getattr(settings, attr)

    def get(self, request, pk: int):
        provider = get_object_or_404(IdentityProvider, pk=pk, is_enabled=True)
        try:
            metadata = provider_metadata(provider.issuer)
        except DiscoveryError as error:
            logger.warning("SSO start failed for provider %s: %s", provider.pk, error)
            return _sign_in_page_with(request, error=f"{provider.name} cannot be reached just now. Try again later.")
        self._provider_settings = provider_settings(provider, metadata)
        self.OIDC_OP_AUTH_ENDPOINT = metadata.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = provider.client_id
        self.login_hint = request.GET.get("login_hint", "")[:254]
        request.session[SESSION_PROVIDER_KEY] = provider.pk
        return super().get(request)

    def get_extra_params(self, request):
        return {"login_hint": self.login_hint} if self.login_hint else {}


@method_decorator([login_not_required, never_cache], name="dispatch")
class OrganizationSsoCallbackView(OIDCAuthenticationCallbackView):
    """mozilla-django-oidc's callback; a refused token is a failed sign-in with a message, not an error page."""

    def get(self, request):
        provider_id = request.session.get(SESSION_PROVIDER_KEY)
        try:
            return super().get(request)
        except (
            SuspiciousOperation,
            ValidationError,
            SecretUnreadable,
            DiscoveryError,
            requests.RequestException,
        ) as error:
            logger.warning("SSO refused for provider %s: %s", provider_id, error)
            self.failure_reason = str(error)
            return self.login_failure()

    @property
    def failure_url(self):
        return resolve_url(settings.LOGIN_URL)

    def _provider(self):
        provider_id = self.request.session.get(SESSION_PROVIDER_KEY)
        return IdentityProvider.objects.select_related("organization").filter(pk=provider_id).first()

    def login_failure(self):
        provider = self._provider()
        if provider is not None:
            services.sign_in_event_record(
                organization_id=provider.organization_id,
                username=f"(through {provider.name})",
                method=SignInMethod.SSO,
                outcome=SignInOutcome.FAILED,
                detail=getattr(self, "failure_reason", "")
                or self.request.GET.get("error_description", self.request.GET.get("error", ""))
                or "No account matches this person",
                ip_address=client_address(self.request),
            )
        messages.error(
            self.request,
            "Single sign-on did not sign you in. If you should have access, ask your organization's "
            "administrator to add your e-mail address as a member.",
        )
        return HttpResponseRedirect(self.failure_url)

    def login_success(self):
        provider = self._provider()
        response = super().login_success()
        self.request.session[twofactor.SESSION_METHOD_KEY] = SignInMethod.SSO
        self.request.session.pop(twofactor.SESSION_PENDING_KEY, None)
        self.request.session[SESSION_PROVIDER_KEY] = provider.pk
        services.sign_in_event_record(
            organization_id=provider.organization_id,
            user=self.user,
            username=self.user.email or self.user.get_username(),
            method=SignInMethod.SSO,
            outcome=SignInOutcome.SUCCEEDED,
            detail=f"Through {provider.name}",
            ip_address=client_address(self.request),
        )
        return response


# --- Two-factor step ---------------------------------------------------------------------------------


def _credentials(request) -> dict[str, str]:
    return {"username": request.user.get_username(), "identity_method": SignInMethod.TWO_FACTOR}


@never_cache
@membership_not_required
@require_GET
def two_factor(request):
    """Where the door sends a person after the password: the code if they enrolled, enrolment if not."""
    target = (
        "identity:two_factor_verify" if twofactor.has_two_factor_device(request.user) else "identity:two_factor_enrol"
    )
    query = urlencode({"next": _safe_next(request)})
    return redirect(f"{reverse(target)}?{query}")


@never_cache
@membership_not_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    """The second factor: a TOTP code or a recovery code, throttled with the password's counters
    (django-axes) on top of django-otp's own growing delay per device."""
    if not twofactor.has_two_factor_device(request.user):
        return redirect("identity:two_factor_enrol")
    credentials = _credentials(request)
    if AxesProxyHandler.is_locked(request, credentials):
        auth.logout(request)
        return get_lockout_response(request, None, credentials)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            django_otp.login(request, device)
            request.session.pop(twofactor.SESSION_PENDING_KEY, None)
            is_recovery = device.__class__.__name__ == "StaticDevice"
            method = SignInMethod.RECOVERY_CODE if is_recovery else SignInMethod.TWO_FACTOR
            request.session[twofactor.SESSION_METHOD_KEY] = method
            services.record_second_factor(request, method=method)
            if is_recovery:
                messages.warning(
                    request, "You used a recovery code; it works only once. Make new ones if few are left."
                )
            return redirect(_safe_next(request))
        user_login_failed.send(sender=__name__, credentials={**credentials, "password": "********"}, request=request)
        if getattr(request, "axes_locked_out", False):
            auth.logout(request)
            return get_lockout_response(request, None, credentials)
        form.add_error("token", "That code is not right. Type the 6 digits your app shows now, or a recovery code.")
    status = 400 if form.is_bound else 200
    return render(
        request, "identity/two_factor_verify.html", {"form": form, "next": _safe_next(request)}, status=status
    )


@never_cache
@membership_not_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request):
    """Set up an authenticator app: a QR code (SVG, rendered here), a code to confirm, recovery codes."""
    user = request.user
    if twofactor.has_two_factor_device(user) and not user.is_verified():
        # Someone with only the password must not replace the real owner's device.
        return redirect("identity:two_factor_verify")
    device = selectors.unconfirmed_totp_device(user, request.session.get("identity_enrol_device_id"))
    if device is None:
        device = services.totp_device_start(user=user)
        request.session["identity_enrol_device_id"] = device.pk
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_device_confirm(device=device, token=form.cleaned_data["token"])
        except ValidationError as error:
            form.add_error("token", error.message_dict.get("token", error.messages))
        else:
            request.session.pop("identity_enrol_device_id", None)
            django_otp.login(request, device)
            request.session.pop(twofactor.SESSION_PENDING_KEY, None)
            services.record_second_factor(request, method=SignInMethod.TWO_FACTOR, detail="Authenticator app set up")
            return render(request, "identity/recovery_codes.html", {"codes": codes, "next": _safe_next(request)})
    context = {
        "form": form,
        "qr_svg": qr.svg_of(device.config_url),
        "secret": selectors.base32_secret(device),
        "next": _safe_next(request),
        "required": request.session.get(twofactor.SESSION_PENDING_KEY, False),
    }
    return render(request, "identity/two_factor_enrol.html", context, status=400 if form.is_bound else 200)


@never_cache
@membership_not_required
@require_POST
def recovery_codes_new(request):
    if not request.user.is_verified():
        raise Http404
    codes = services.recovery_codes_replace(user=request.user)
    return render(request, "identity/recovery_codes.html", {"codes": codes, "next": reverse("identity:security")})


@never_cache
@membership_not_required
@require_GET
def security(request):
    """The person's own sign-in security: two-factor status, recovery codes."""
    context = {
        "enrolled": twofactor.has_two_factor_device(request.user),
        "verified": request.user.is_verified(),
        "method": request.session.get(twofactor.SESSION_METHOD_KEY, ""),
        "recovery_codes_left": selectors.recovery_codes_left(request.user),
    }
    return render(request, "identity/security.html", context)


# --- The organization's sign-in settings (administrators) ----------------------------------------------


@require_http_methods(["GET", "POST"])
@action_required(Action.ADMINISTER)
def sign_in_settings(request):
    organization = request.membership.organization
    provider = (
        IdentityProvider.objects.restrict(request.user, Action.ADMINISTER).filter(organization=organization).first()
    )
    instance = provider or IdentityProvider(organization=organization)
    is_policy_form = request.POST.get("form") == "policy"
    provider_form = IdentityProviderForm(
        request.POST if request.method == "POST" and not is_policy_form else None, instance=instance, prefix="idp"
    )
    policy = selectors.sign_in_policy(organization.pk)
    policy_form = SignInPolicyForm(
        request.POST if is_policy_form else None, initial={"two_factor_required": policy.two_factor_required}
    )
    if request.method == "POST" and is_policy_form and policy_form.is_valid():
        services.sign_in_policy_update(
            organization=organization, two_factor_required=policy_form.cleaned_data["two_factor_required"]
        )
        messages.success(request, "Saved. The rule applies from each person's next sign-in.")
        return redirect("identity:sign_in_settings")
    if request.method == "POST" and not is_policy_form and provider_form.is_valid():
        data = provider_form.cleaned_data
        try:
            services.identity_provider_save(
                organization=organization,
                name=data["name"],
                issuer=data["issuer"],
                client_id=data["client_id"],
                client_secret=provider_form.secret_to_store(),
                client_secret_env=data["client_secret_env"],
                email_domains=data["email_domains"],
                show_button=data["show_button"],
                allow_new_users=data["allow_new_users"],
                default_role=data["default_role"],
                is_enabled=data["is_enabled"],
                token_endpoint_auth=data["token_endpoint_auth"],
            )
        except ValidationError as error:
            provider_form.add_error(None, error)
        else:
            messages.success(request, "Single sign-on settings saved.")
            return redirect("identity:sign_in_settings")
    context = {
        "provider_form": provider_form,
        "policy_form": policy_form,
        "provider": provider,
        "callback_url": request.build_absolute_uri(reverse("identity:sso_callback")),
        "has_secret": bool(provider and provider.client_secret_encrypted),
    }
    return render(request, "identity/sign_in_settings.html", context, status=400 if request.method == "POST" else 200)


@require_POST
@action_required(Action.ADMINISTER)
def member_two_factor_reset(request, pk: int):
    """A member lost their phone and their recovery codes: an administrator of their organization removes
    their two-factor devices; they enrol again at their next sign-in. Recorded in the member's history."""
    from organizations.models import Membership

    membership = get_object_or_404(
        Membership.objects.select_related("user"), pk=pk, organization=request.membership.organization
    )
    if membership.user_id == request.user.pk:
        messages.error(request, "Ask another administrator to reset your own two-factor sign-in.")
        return redirect("organizations:members")
    services.member_two_factor_reset(membership=membership, by=request.user)
    messages.success(
        request,
        f"Two-factor sign-in of {membership.user.get_username()} was reset: they set it up again at their next "
        "sign-in. Make sure it was really them who asked (call them back on a known number).",
    )
    return redirect("organizations:members")
