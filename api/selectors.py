"""Reads of the api app, through the gate (a user sees only their own tokens)."""

from __future__ import annotations

from django.db.models import QuerySet

from api.models import ApiToken
from organizations.querysets import Action


def tokens_of(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.restrict(user, Action.VIEW).order_by("revoked_at", "-created_at", "-pk")
