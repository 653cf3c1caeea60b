"""View-side helpers of the one permission gate: every view of every app uses these.

Visibility is decided only by ``Model.objects.restrict(user, action)`` (organizations/querysets.py);
these helpers make calling it the easy path and give every app the same answers:

* signed out                              -> redirect to sign-in (``LoginRequiredMiddleware``, settings)
* signed in, no active membership         -> the "no access" page, status 403
  (``organizations.middleware.ActiveMembershipMiddleware`` renders it for every page; an auditor
  whose ``access_expires_on`` has passed is in this case)
* the role may not do the action at all   -> 403 (e.g. a viewer or auditor POSTing an edit)
* the object is in another organization,
  or a facility the user may not see      -> 404 (never confirm that it exists)

Names to import (``from organizations.mixins import ...``):

Functions, for function-based views:
    ``require_action(request, action=Action.VIEW) -> Membership``
        The active membership if its role allows ``action``; raises ``PermissionDenied`` (403)
        otherwise, ``NoActiveMembership`` when there is none.
    ``restricted_queryset(model_or_queryset, request, action=Action.VIEW) -> QuerySet``
        ``require_action`` + ``.restrict(request.user, action)``. Accepts a Model or a queryset of
        a restricted model (so ``select_related`` etc. can be applied first).
    ``get_restricted_object_or_404(model_or_queryset, request, pk=None, action=Action.VIEW, **lookups)``
        The object through the gate, 403 if the role may not ``action`` at all, 404 if the object
        is outside what the user may ``action``.
    ``can(request, action) -> bool``
        For templates/context: whether to show edit buttons (never a substitute for the gate).

Decorator, for function-based views:
    ``@action_required(Action.CHANGE)`` - runs ``require_action`` before the view and puts the
    membership on ``request.membership``. ``@action_required(Action.VIEW, write=Action.CHANGE)``
    requires VIEW for safe methods (GET/HEAD/OPTIONS) and CHANGE for POST and the others.

Every routed view uses ``@action_required`` (tests/test_gate.py checks it): the views are functions, and
the decorator is the one base they share.

Form choice lists must also go through the gate, e.g.
``form.fields["facility"].queryset = restricted_queryset(Facility, request, Action.CHANGE)``.
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404

from organizations.querysets import Action
from organizations.selectors import active_membership

if TYPE_CHECKING:
    from django.http import HttpRequest

    from organizations.models import Membership

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = [
    "Action",
    "NoActiveMembership",
    "action_required",
    "can",
    "get_restricted_object_or_404",
    "require_action",
    "restricted_queryset",
]


class NoActiveMembership(PermissionDenied):
    """Signed in, but no organization grants access today (none, deactivated, or expired auditor).

    A PermissionDenied, so it is a 403 everywhere; the middleware renders a page that says why.
    """


def require_action(request: HttpRequest, action: str = Action.VIEW) -> Membership:
    membership = active_membership(request.user)
    if membership is None:
        raise NoActiveMembership("No active membership.")
    if not membership.allows(action):
        raise PermissionDenied(f"Your role does not allow this ({action}).")
    return membership


def can(request: HttpRequest, action: str) -> bool:
    membership = active_membership(getattr(request, "user", None))
    return membership is not None and membership.allows(action)


def _queryset_of(model_or_queryset: type[models.Model] | models.QuerySet) -> models.QuerySet:
    if isinstance(model_or_queryset, models.QuerySet):
        return model_or_queryset
    return model_or_queryset._default_manager.all()


def restricted_queryset(
    model_or_queryset: type[models.Model] | models.QuerySet, request: HttpRequest, action: str = Action.VIEW
) -> models.QuerySet:
    require_action(request, action)
    return _queryset_of(model_or_queryset).restrict(request.user, action)


def get_restricted_object_or_404(
    model_or_queryset: type[models.Model] | models.QuerySet,
    request: HttpRequest,
    pk: Any = None,
    action: str = Action.VIEW,
    **lookups: Any,
) -> models.Model:
    if pk is not None:
        lookups["pk"] = pk
    if not lookups:
        raise Http404
    return get_object_or_404(restricted_queryset(model_or_queryset, request, action), **lookups)


def action_required(action: str = Action.VIEW, *, write: str | None = None):
    """Decorator: the role must allow ``action`` (and ``write`` for unsafe methods, if given)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            needed = write if (write is not None and request.method not in SAFE_METHODS) else action
            request.membership = require_action(request, needed)
            return view(request, *args, **kwargs)

        # Read by the gate test (tests/test_gate.py): every routed view carries it, or says why not.
        wrapper.gate_action = action
        return wrapper

    return decorator
