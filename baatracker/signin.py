"""Sign-in behind the reverse proxy: which address is the client's, and how failed sign-ins are throttled.

One place for both, read by django-axes (settings.AXES_*), by the access log
(organizations.services.access_log_record) and by anything else that records an address.

The address (45 CFR 164.312(b), audit controls: the access log must name where a request came from).
With ``TRUSTED_PROXY_COUNT=0`` (no proxy) it is REMOTE_ADDR. Behind N proxies, REMOTE_ADDR is the last
proxy's address and each proxy appends the address it saw to X-Forwarded-For, so the client is the
N-th entry from the right; every entry to its left was written by the client and may be forged, so it
is never used. This is django-axes' documented trusted-proxy configuration (django-ipware underneath):
``AXES_IPWARE_META_PRECEDENCE_ORDER`` names the header, ``AXES_IPWARE_PROXY_COUNT`` the proxies listed
in it (N - 1: the last proxy is REMOTE_ADDR, not a header entry), and ``IPWARE_STRICT = False`` keeps a
chain with extra (forged) entries on the left instead of discarding it.

The throttle (164.308(a)(5)(ii)(C), log-in monitoring). django-axes locks a (user name, address) pair
after ``LOGIN_FAILURE_LIMIT`` failures, so failures from one address lock that account from that
address only, never for everyone. On top of that an address with ``LOGIN_ADDRESS_FAILURE_LIMIT``
failures across any user names within the cool-off period is refused for every user name: one
address cannot try unlimited names. Both cool off after ``LOGIN_COOLOFF_MINUTES``.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum

from baatracker.proxy import proxy_settings  # noqa: F401 - the settings side, re-exported here


def client_ip(request) -> str | None:
    """The client's address, as django-axes resolves it (the settings above)."""
    return get_client_ip_address(request)


class AddressThrottledAxesHandler(AxesDatabaseHandler):
    """django-axes' database handler, plus the per-address limit across user names."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        address = getattr(request, "axes_ip_address", None) or client_ip(request)
        if address is None:
            return failures
        attempts = AccessAttempt.objects.filter(ip_address=address)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        from_address = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
        if from_address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            # Counted as reaching the (user, address) limit, so that django-axes locks and answers as usual.
            return max(failures, settings.AXES_FAILURE_LIMIT)
        return failures
