"""The sign-in log is fed by django.contrib.auth's and django-axes' signals, the one place every
sign-in and failed sign-in passes (the sign-in page, the admin's, the two-factor step)."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from identity import twofactor
from identity.models import SignInMethod, SignInOutcome
from identity.services import sign_in_event_record
from organizations.models import Membership
from organizations.selectors import active_membership

OIDC_BACKEND = "identity.backends.OrganizationOIDCBackend"


def client_address(request) -> str | None:
    # django-axes has already worked out the client's address (behind a proxy too): use the same one.
    if request is None:
        return None
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")


def _organization_of(user) -> int | None:
    return Membership.objects.filter(user=user).values_list("organization_id", flat=True).first()


@receiver(user_logged_in, dispatch_uid="identity_signed_in")
def on_signed_in(sender, request, user, **kwargs):
    if request is None or getattr(user, "backend", "") == OIDC_BACKEND:
        return  # single sign-on is recorded by its callback view, which knows the provider
    membership = active_membership(user)
    pending = twofactor.needs_second_factor(user, membership)
    if hasattr(request, "session"):
        request.session[twofactor.SESSION_METHOD_KEY] = SignInMethod.PASSWORD
        if pending:
            request.session[twofactor.SESSION_PENDING_KEY] = True
        else:
            request.session.pop(twofactor.SESSION_PENDING_KEY, None)
    organization_id = membership.organization_id if membership else _organization_of(user)
    if organization_id is None:
        return
    sign_in_event_record(
        organization_id=organization_id,
        user=user,
        username=user.get_username(),
        method=SignInMethod.PASSWORD,
        outcome=SignInOutcome.SUCCEEDED,
        detail="Password correct; two-factor code asked next" if pending else "",
        ip_address=client_address(request),
    )


@receiver(user_login_failed, dispatch_uid="identity_sign_in_failed")
def on_sign_in_failed(sender, credentials, request=None, **kwargs):
    username = (credentials or {}).get(get_user_model().USERNAME_FIELD) or (credentials or {}).get("username")
    if not username:
        return  # e.g. a single sign-on callback, recorded by its view
    user = get_user_model()._default_manager.filter(**{f"{get_user_model().USERNAME_FIELD}__iexact": username}).first()
    organization_id = _organization_of(user) if user else None
    if organization_id is None:
        return  # an unknown username belongs to no organization; django-axes still counts it
    method = credentials.get("identity_method", SignInMethod.PASSWORD)
    sign_in_event_record(
        organization_id=organization_id,
        user=user,
        username=username,
        method=method,
        outcome=SignInOutcome.FAILED,
        detail="Wrong two-factor code" if method != SignInMethod.PASSWORD else "Wrong password",
        ip_address=client_address(request),
    )


@receiver(user_locked_out, dispatch_uid="identity_locked_out")
def on_locked_out(sender, request, username, ip_address, **kwargs):
    user = get_user_model()._default_manager.filter(**{f"{get_user_model().USERNAME_FIELD}__iexact": username}).first()
    organization_id = _organization_of(user) if user else None
    if organization_id is None:
        return
    sign_in_event_record(
        organization_id=organization_id,
        user=user,
        username=username,
        method=SignInMethod.PASSWORD,
        outcome=SignInOutcome.LOCKED_OUT,
        detail="Too many failed attempts: sign-in locked for a while",
        ip_address=ip_address,
    )
