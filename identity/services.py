"""Writes of the identity app: sign-in settings, accounts created by single sign-on, the sign-in log,
two-factor devices."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import transaction

from identity.crypto import encrypt_secret
from identity.models import IdentityProvider, SignInEvent, SignInPolicy
from organizations.models import Membership, Organization

RECOVERY_CODE_COUNT = 10


def identity_provider_save(
    *,
    organization: Organization,
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    client_secret_env: str = "",
    email_domains: str,
    show_button: bool = False,
    allow_new_users: bool = False,
    default_role: str,
    is_enabled: bool = True,
    token_endpoint_auth: str = "client_secret_post",
) -> IdentityProvider:
    """Create or change the organization's identity provider.

    ``client_secret`` None keeps the stored one; "" removes it (a public client, PKCE only). The secret
    is encrypted before it is stored (identity.crypto), and the history never contains it.
    """
    provider = IdentityProvider.objects.filter(organization=organization).first() or IdentityProvider(
        organization=organization
    )
    provider.name = name
    provider.issuer = issuer
    provider.client_id = client_id
    provider.client_secret_env = client_secret_env
    if client_secret is not None:
        provider.client_secret_encrypted = encrypt_secret(client_secret) if client_secret else ""
    if client_secret_env:
        provider.client_secret_encrypted = ""
    provider.email_domains = email_domains
    provider.show_button = show_button
    provider.allow_new_users = allow_new_users
    provider.default_role = default_role
    provider.is_enabled = is_enabled
    provider.token_endpoint_auth = token_endpoint_auth
    provider.full_clean()
    provider.save()
    return provider


def sign_in_policy_update(*, organization: Organization, two_factor_required: bool) -> SignInPolicy:
    policy, _ = SignInPolicy.objects.get_or_create(organization=organization)
    policy.two_factor_required = two_factor_required
    policy.full_clean()
    policy.save()
    return policy


def sso_member_create(*, provider: IdentityProvider, email: str, claims: dict) -> Membership:
    """An account for someone the organization's identity provider vouches for, if it allows new accounts.

    45 CFR 164.308(a)(4)(ii)(B): access is granted by the organization's own policy, so only the
    administrator's choice (allow_new_users, default_role) decides; the account has no password
    (single sign-on only) and the least role the administrator chose.
    """
    if not provider.allow_new_users:
        raise SuspiciousOperation("The organization does not create accounts at single sign-on.")
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=email).exists():
        raise SuspiciousOperation(f"An account named {email} exists in another organization.")
    user = user_model(
        username=email,
        email=email,
        first_name=(claims.get("given_name") or "")[:150],
        last_name=(claims.get("family_name") or "")[:150],
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    membership = Membership(organization=provider.organization, role=provider.default_role)
    membership.full_clean(exclude=["user"])
    with transaction.atomic():
        user.save()
        membership.user = user
        membership._change_reason = f"Created at single sign-on through {provider.name}"
        membership.save()
    return membership


def sign_in_event_record(
    *,
    organization_id: int,
    user=None,
    username: str,
    method: str,
    outcome: str,
    detail: str = "",
    ip_address: str | None = None,
) -> SignInEvent:
    """One line of the sign-in log (45 CFR 164.308(a)(5)(ii)(C): monitoring log-in attempts)."""
    event = SignInEvent(
        organization_id=organization_id,
        user=user,
        username=username[:254],
        method=method,
        outcome=outcome,
        detail=detail[:300],
        ip_address=ip_address or None,
    )
    event.full_clean(exclude=["organization", "user"])
    event.save()
    return event


def record_second_factor(request, *, method: str, detail: str = "") -> None:
    """A completed two-factor step in the sign-in log."""
    from identity.models import SignInOutcome
    from identity.signals import _organization_of, client_address

    organization_id = _organization_of(request.user)
    if organization_id is None:
        return
    sign_in_event_record(
        organization_id=organization_id,
        user=request.user,
        username=request.user.get_username(),
        method=method,
        outcome=SignInOutcome.SUCCEEDED,
        detail=detail,
        ip_address=client_address(request),
    )


# --- Two-factor devices (django-otp) ---------------------------------------------------------------


def totp_device_start(*, user):
    """A new, unconfirmed TOTP device: it counts only once a code from the app confirms it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def totp_device_confirm(*, device, token: str) -> list[str]:
    """Confirm the device with a code from the app; replace the recovery codes. Returns the new codes."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not device.verify_token(token):
        raise ValidationError({"token": "That code is not right. Type the 6 digits the app shows now."})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = recovery_codes_replace(user=device.user)
    return codes


def recovery_codes_replace(*, user) -> list[str]:
    """Ten single-use recovery codes (django-otp's static device); the old ones stop working."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    device, _ = StaticDevice.objects.get_or_create(user=user, name="Recovery codes", defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def member_two_factor_reset(*, membership: Membership, by) -> None:
    """Remove a member's two-factor devices (a lost phone); the member's history records who did it."""
    from django_otp import devices_for_user

    with transaction.atomic():
        for device in list(devices_for_user(membership.user, confirmed=None)):
            device.delete()
        membership._change_reason = f"Two-factor sign-in reset by {by.get_username()}"
        membership.save()
