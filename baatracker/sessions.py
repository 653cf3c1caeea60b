"""Idle logoff without a session write on every page (issue 17).

45 CFR 164.312(a)(2)(iii) asks for an automatic logoff after a period of inactivity: the session
ends SESSION_COOKIE_AGE after the last request. Renewing it on every request (SESSION_SAVE_EVERY_REQUEST)
costs an UPDATE of the session row per page. Here it is renewed at most once per RENEW_EVERY: the
session then ends between SESSION_COOKIE_AGE - RENEW_EVERY and SESSION_COOKIE_AGE after the last
request, never later than the idle limit.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils import timezone

#: The most often a signed-in session is renewed, in seconds.
RENEW_EVERY = 60
#: Where the session keeps the time it was last renewed (seconds since the epoch).
RENEWED_AT = "_renewed_at"


def _now() -> int:
    """Seconds since the epoch, by the clock that dates the session's expiry (Django's sessions
    compute and check expire_date with timezone.now())."""
    return int(timezone.now().timestamp())


def renew_every() -> int:
    """RENEW_EVERY, or less for a very short idle limit (tests), so the logoff stays near its limit."""
    return max(0, min(RENEW_EVERY, settings.SESSION_COOKIE_AGE // 4))


def stamp_on_login(sender, request, user, **kwargs) -> None:
    """Signing in saves the session: it counts as its first renewal (connected in organizations.apps)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[RENEWED_AT] = _now()


class SessionRenewalMiddleware:
    """Renews a signed-in session when it was last renewed RENEW_EVERY ago or more.

    Placed after SessionMiddleware: its response hook runs first, so the session middleware saves
    the renewed session (and its new expiry date) in the same response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not session.get(SESSION_KEY):
            return response
        now = _now()
        if session.modified or now - session.get(RENEWED_AT, 0) >= renew_every():
            session[RENEWED_AT] = now  # marks the session modified: saved with a new expiry date
        return response
