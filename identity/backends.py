"""Single sign-on with OpenID Connect through mozilla-django-oidc, one identity provider per organization.

mozilla-django-oidc does the authorization code flow: state, nonce and PKCE (S256) in the session, the
token request, the ID token's signature checked against the provider's JWKS, the nonce compared. Its
settings are global; here every ``OIDC_*`` value comes from the organization's IdentityProvider and its
discovery document (``get_settings`` is the library's own hook for that). Added here, because the
library leaves them out: the ID token's ``aud`` must be our client id and ``iss`` the provider's
issuer (OpenID Connect Core 1.0 section 3.1.3.7, items 2-4), and the userinfo ``sub`` must be the ID
token's (section 5.3.4).
"""

from __future__ import annotations

import logging

import jwt
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from identity.discovery import ProviderMetadata, provider_metadata
from identity.models import IdentityProvider

logger = logging.getLogger(__name__)

SESSION_PROVIDER_KEY = "identity_sso_provider_id"


def provider_settings(provider: IdentityProvider, metadata: ProviderMetadata) -> dict[str, object]:
    """The ``OIDC_*`` settings of mozilla-django-oidc for one organization's provider."""
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": metadata.authorization_endpoint,
        "OIDC_OP_TOKEN_ENDPOINT": metadata.token_endpoint,
        "OIDC_OP_USER_ENDPOINT": metadata.userinfo_endpoint,
        "OIDC_OP_JWKS_ENDPOINT": metadata.jwks_uri,
        "OIDC_RP_CLIENT_ID": provider.client_id,
        "OIDC_RP_SIGN_ALGO": "RS256" if "RS256" in metadata.signing_algorithms else metadata.signing_algorithms[0],
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_USE_NONCE": True,
        "OIDC_CREATE_USER": provider.allow_new_users,
        "OIDC_TOKEN_USE_BASIC_AUTH": provider.token_endpoint_auth == "client_secret_basic",
    }


def email_from_claims(claims: dict) -> str:
    """The person's e-mail address. Entra ID often sends it only as ``preferred_username`` (the UPN)."""
    email = claims.get("email") or ""
    if not email and "@" in (claims.get("preferred_username") or ""):
        email = claims["preferred_username"]
    return email.strip().lower()


class OrganizationOIDCBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # The library's __init__ reads fixed endpoints from settings; they come per request instead.
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()
        self.provider: IdentityProvider | None = None
        self.metadata: ProviderMetadata | None = None
        self._provider_settings: dict[str, object] = {}

    def get_settings(self, attr, *args):
        if attr in self._provider_settings:
            return self._provider_settings[attr]
        return getattr(settings, attr, *args) if args else getattr(settings, attr)

    def authenticate(self, request, **kwargs):
        if request is None or "nonce" not in kwargs:
            return None  # a password sign-in: ModelBackend's business
        provider_id = request.session.get(SESSION_PROVIDER_KEY)
        self.provider = IdentityProvider.objects.filter(pk=provider_id, is_enabled=True).first()
        if self.provider is None:
            return None
        self.metadata = provider_metadata(self.provider.issuer)
        self._provider_settings = provider_settings(self.provider, self.metadata)
        self.OIDC_OP_TOKEN_ENDPOINT = self.metadata.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = self.metadata.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = self.metadata.jwks_uri
        self.OIDC_RP_CLIENT_ID = self.provider.client_id
        self.OIDC_RP_CLIENT_SECRET = self.provider.client_secret()
        self.OIDC_RP_SIGN_ALGO = self._provider_settings["OIDC_RP_SIGN_ALGO"]
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def _verify_jws(self, payload, key):
        """The library's check of signature and algorithm, plus audience, issuer and expiry."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(
                f"The ID token is signed with {header.get('alg')!r}, not {self.OIDC_RP_SIGN_ALGO}."
            )
        try:
            claims = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self.metadata.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
            )
        except jwt.InvalidTokenError as error:
            raise SuspiciousOperation(f"The ID token was refused: {error}.") from error
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("The ID token has several audiences and another authorized party (azp).")
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        if not self.OIDC_OP_USER_ENDPOINT:
            return dict(payload)
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo response is about another subject than the ID token.")
        return {**payload, **userinfo}

    def verify_claims(self, claims):
        email = email_from_claims(claims)
        if not email:
            logger.warning("SSO refused: the provider %s sent no e-mail address", self.provider.pk)
            return False
        if claims.get("email_verified") is False:
            logger.warning("SSO refused: the provider says %s is not verified", email)
            return False
        return self.provider.accepts_email(email)

    def filter_users_by_claims(self, claims):
        email = email_from_claims(claims)
        return self.UserModel.objects.filter(
            email__iexact=email, membership__organization_id=self.provider.organization_id
        )

    def create_user(self, claims):
        from identity.services import sso_member_create

        return sso_member_create(provider=self.provider, email=email_from_claims(claims), claims=claims).user

    def describe_user_by_claims(self, claims):
        return f"email {email_from_claims(claims)}"
