"""OpenID Connect Discovery 1.0: an issuer's endpoints and keys from /.well-known/openid-configuration.

mozilla-django-oidc takes fixed endpoints from settings; each organization here has its own provider,
so the endpoints are read from the provider's discovery document instead (cached for an hour).
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache

CACHE_SECONDS = 3600
REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class DiscoveryError(Exception):
    """The issuer's discovery document cannot be read or is not usable; the message says why."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    token_auth_methods: tuple[str, ...]
    signing_algorithms: tuple[str, ...]
    code_challenge_methods: tuple[str, ...]


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def provider_metadata(issuer: str, *, refresh: bool = False) -> ProviderMetadata:
    issuer = issuer.rstrip("/")
    key = f"identity:oidc-discovery:{issuer}"
    document = None if refresh else cache.get(key)
    if document is None:
        try:
            response = requests.get(discovery_url(issuer), timeout=settings.OIDC_TIMEOUT)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise DiscoveryError(f"Could not read {discovery_url(issuer)}: {error}") from error
        missing = [name for name in REQUIRED if not document.get(name)]
        if missing:
            raise DiscoveryError(f"The discovery document of {issuer} lacks {', '.join(missing)}.")
        # OpenID Connect Discovery 1.0 section 4.3: the issuer in the document MUST be the one asked for.
        if document["issuer"].rstrip("/") != issuer:
            raise DiscoveryError(f"The discovery document names the issuer {document['issuer']}, not {issuer}.")
        cache.set(key, document, CACHE_SECONDS)
    return ProviderMetadata(
        issuer=document["issuer"],
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=document.get("userinfo_endpoint", ""),
        token_auth_methods=tuple(document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]),
        signing_algorithms=tuple(document.get("id_token_signing_alg_values_supported") or ["RS256"]),
        code_challenge_methods=tuple(document.get("code_challenge_methods_supported") or ()),
    )
