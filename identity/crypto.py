"""Secrets at rest: an identity provider's client secret is stored encrypted (Fernet, AES-128-CBC +
HMAC-SHA256), never in clear text, so a database dump or backup does not hand out the credential
(45 CFR 164.312(a)(2)(iv), encryption and decryption).

The key is ``settings.SSO_SECRET_KEYS`` (environment ``SSO_SECRET_KEYS``: comma-separated Fernet keys,
newest first, so a key can be rotated: old secrets still decrypt, new ones use the first key). Without
it, a key is derived from SECRET_KEY, which is fine for development but ties the secrets to SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted with the configured keys (key changed or lost)."""


def _derived_key() -> bytes:
    digest = hashlib.sha256(b"baatracker-sso-secret:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _fernet() -> MultiFernet:
    keys = [key for key in getattr(settings, "SSO_SECRET_KEYS", []) if key] or [_derived_key()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "SSO_SECRET_KEYS must be Fernet keys (32 url-safe base64-encoded bytes), e.g. from "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        ) from error


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode("ascii")


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "The stored client secret cannot be decrypted: SSO_SECRET_KEYS (or SECRET_KEY) changed. "
            "Enter the client secret again."
        ) from error
