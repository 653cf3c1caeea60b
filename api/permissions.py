"""The API side of the one permission gate (organizations.querysets / organizations.mixins).

The same answers as the pages: no membership or a role that may not act -> 403; an object outside
the user's organization or facilities -> 404 (the viewsets' querysets are always restricted). A
read-only token refuses every write with 403.
"""

from __future__ import annotations

from rest_framework import exceptions, permissions

from api.models import ApiToken
from organizations.querysets import Action
from organizations.selectors import active_membership


class GatePermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated("Send a personal API token: Authorization: Bearer <token>.")
        membership = active_membership(user)
        if membership is None:
            raise exceptions.PermissionDenied("No active membership: your access has ended or was never given.")
        unsafe = request.method not in permissions.SAFE_METHODS
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if unsafe and token is not None and not token.allows_writes:
            raise exceptions.PermissionDenied("This token is read-only: create a read-write token to write.")
        action = view.required_action(request) if hasattr(view, "required_action") else Action.VIEW
        if not membership.allows(action):
            raise exceptions.PermissionDenied(f"Your role does not allow this ({action}).")
        return True
