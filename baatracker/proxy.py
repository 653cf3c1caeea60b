"""The reverse-proxy settings of django-axes / django-ipware, computed when settings.py loads (so no
Django import here). Why they are what they are: baatracker/signin.py."""

from __future__ import annotations


def proxy_settings(*, trusted_proxy_count: int) -> dict[str, object]:
    """The django-axes / django-ipware settings for ``trusted_proxy_count`` reverse proxies."""
    if trusted_proxy_count <= 0:
        return {
            "AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",),
            "AXES_IPWARE_PROXY_COUNT": None,
            "IPWARE_STRICT": False,
        }
    return {
        # REMOTE_ADDR only when the header is missing: a request that did not pass through the proxy.
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
        "AXES_IPWARE_PROXY_COUNT": trusted_proxy_count - 1,
        "IPWARE_STRICT": False,
    }
