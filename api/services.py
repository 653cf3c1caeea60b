"""Writes of the api app: personal API tokens, and the access-log record of every API request."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from api.models import ApiToken, TokenScope
from organizations.models import AccessAction, AccessLogEntry
from organizations.selectors import active_membership

#: The raw token: this prefix (so that secret scanners can recognise a leaked one) and 43 URL-safe
#: characters from 32 random bytes.
TOKEN_PREFIX = "bt_"
#: A token lives at most a year: 45 CFR 164.308(a)(5)(ii)(D) password management, by analogy, and a
#: stolen token stops working on its own.
MAX_LIFETIME_DAYS = 365
LIFETIME_CHOICES_DAYS = (30, 90, 180, 365)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, user, name: str, scope: str = TokenScope.READ, lifetime_days: int = 90) -> tuple[ApiToken, str]:
    """Create a personal token for ``user``; returns it and the raw token, which is never stored.

    The token acts as its owner within the owner's organization (and facility limits, applied at
    every request); a read-only token refuses every write. Only members may create one.
    """
    membership = active_membership(user)
    if membership is None:
        raise PermissionDenied("Only members of an organization may create API tokens.")
    if not 1 <= lifetime_days <= MAX_LIFETIME_DAYS:
        raise ValidationError({"lifetime_days": f"A token expires within {MAX_LIFETIME_DAYS} days."})
    if scope == TokenScope.READ_WRITE and not membership.allows("change"):
        raise ValidationError({"scope": "Your role only reads: create a read-only token."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken(
        user=user,
        organization_id=membership.organization_id,
        name=name.strip(),
        scope=scope,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=token_digest(raw),
        created_at=now,
        expires_at=now + datetime.timedelta(days=lifetime_days),
    )
    token.full_clean()
    token.save()
    return token, raw


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token at once; it is kept (revoked) so that the history says who used what, when."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token._change_reason = "Token revoked"
        token.full_clean()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken, now: datetime.datetime | None = None) -> None:
    """Record when the token was last used, at most once a minute (one UPDATE, no history row)."""
    now = now or timezone.now()
    ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - datetime.timedelta(minutes=1)).update(
        last_used_at=now
    )


def api_request_record(
    *, request, status_code: int, action: str = AccessAction.API, obj=None, description: str = ""
) -> AccessLogEntry | None:
    """One access-log entry per API request (audit controls, 45 CFR 164.312(b)): who, with which token,
    which method and path, and the answer. Writes are also in the change history, as from the pages."""
    user = getattr(request, "user", None)
    membership = active_membership(user)
    if membership is None:
        return None  # nobody to attribute it to: the request was refused before it reached anything
    token = request.auth if isinstance(getattr(request, "auth", None), ApiToken) else None
    via = f"token \u201c{token.name}\u201d ({token.prefix}\u2026)" if token else "session"
    path = request.get_full_path()
    text = description or f"API {request.method} {path} \u2192 {status_code}"
    return AccessLogEntry.objects.create(
        organization_id=membership.organization_id,
        user=user,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "api",
        object_id=str(obj.pk) if obj is not None else "",
        description=f"{text}, {via}"[:300],
        ip_address=request.META.get("REMOTE_ADDR"),
    )
