"""Reads of the identity app."""

from __future__ import annotations

import base64

from identity.models import IdentityProvider, SignInPolicy, _split_domains


def provider_for_email(email: str) -> IdentityProvider | None:
    """The enabled identity provider that an e-mail address's domain signs in with, if any."""
    domain = email.rpartition("@")[2].strip().lower()
    if not domain:
        return None
    candidates = IdentityProvider.objects.filter(is_enabled=True, email_domains__icontains=domain)
    for provider in candidates:
        if domain in _split_domains(provider.email_domains):
            return provider
    return None


def sign_in_buttons() -> list[IdentityProvider]:
    return list(IdentityProvider.objects.filter(is_enabled=True, show_button=True).order_by("name"))


def sign_in_policy(organization_id: int) -> SignInPolicy:
    return SignInPolicy.objects.filter(organization_id=organization_id).first() or SignInPolicy(
        organization_id=organization_id
    )


def unconfirmed_totp_device(user, device_id):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not device_id:
        return None
    return TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()


def base32_secret(device) -> str:
    """The secret as the app's "enter a key" screen wants it, in groups of four."""
    raw = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def recovery_codes_left(user) -> int:
    from django_otp.plugins.otp_static.models import StaticToken

    return StaticToken.objects.filter(device__user=user).count()


def users_with_two_factor(user_ids: list[int]) -> set[int]:
    """Which of these users have a confirmed authenticator app (one query)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return set(TOTPDevice.objects.filter(user_id__in=user_ids, confirmed=True).values_list("user_id", flat=True))
