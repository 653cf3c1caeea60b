"""The API's own authentication: ``Authorization: Bearer <personal API token>``."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from api.models import ApiToken
from api.services import api_token_touch, token_digest
from organizations.selectors import active_membership


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """A usable token (not revoked, not expired) of an active user whose membership is still in the
    token's organization. Anything else is a 401 with a message that says which of these failed."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give the token after \u201cBearer \u201d, with no spaces in it.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("This is not a BAA Tracker API token.") from None
        token = ApiToken.objects.select_related("user").filter(token_hash=token_digest(raw)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown API token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API token was revoked.")
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("This API token has expired: create a new one.")
        user = token.user
        membership = active_membership(user)
        if membership is None or membership.organization_id != token.organization_id:
            raise exceptions.AuthenticationFailed("The token's owner no longer has access to its organization.")
        api_token_touch(token=token)
        return user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
