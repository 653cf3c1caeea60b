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

Mixins, for class-based views (put them first in the bases):
    ``ActionRequiredMixin``   - attribute ``action`` (default VIEW); ``write_action`` (default
                                CHANGE) for unsafe methods; sets ``self.membership`` and
                                ``request.membership``; adds ``can_change`` / ``can_administer``
                                to the context.
    ``RestrictedQuerysetMixin`` - ``get_queryset()`` = ``super().get_queryset().restrict(user,
                                  self.queryset_action())`` (VIEW on GET, ``write_action`` on POST).
Ready-made bases:
    ``RestrictedListView``    (ListView, paginate_by=25, VIEW)
    ``RestrictedDetailView``  (DetailView, VIEW)
    ``RestrictedCreateView``  (CreateView, CHANGE)
    ``RestrictedUpdateView``  (UpdateView, CHANGE; the object is fetched with restrict(CHANGE))
    ``RestrictedFormView``    (FormView, CHANGE)

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
from django.views.generic import CreateView, DetailView, FormView, ListView, UpdateView

from organizations.querysets import Action
from organizations.selectors import active_membership

if TYPE_CHECKING:
    from django.http import HttpRequest

    from organizations.models import Membership

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = [
    "Action",
    "ActionRequiredMixin",
    "NoActiveMembership",
    "RestrictedCreateView",
    "RestrictedDetailView",
    "RestrictedFormView",
    "RestrictedListView",
    "RestrictedQuerysetMixin",
    "RestrictedUpdateView",
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


class ActionRequiredMixin:
    action: str = Action.VIEW
    write_action: str = Action.CHANGE

    def required_action(self) -> str:
        if self.request.method in SAFE_METHODS:
            return self.action
        # A page readable by viewers may still only be written by someone allowed to change.
        return self.write_action if self.action == Action.VIEW else self.action

    def dispatch(self, request, *args, **kwargs):
        self.membership = require_action(request, self.required_action())
        request.membership = self.membership
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("can_change", self.membership.allows(Action.CHANGE))
        context.setdefault("can_administer", self.membership.allows(Action.ADMINISTER))
        return context


class RestrictedQuerysetMixin(ActionRequiredMixin):
    def queryset_action(self) -> str:
        return self.required_action()

    def get_queryset(self):
        return super().get_queryset().restrict(self.request.user, self.queryset_action())


class RestrictedListView(RestrictedQuerysetMixin, ListView):
    paginate_by = 25


class RestrictedDetailView(RestrictedQuerysetMixin, DetailView):
    pass


class RestrictedCreateView(ActionRequiredMixin, CreateView):
    action = Action.CHANGE


class RestrictedUpdateView(RestrictedQuerysetMixin, UpdateView):
    action = Action.CHANGE


class RestrictedFormView(ActionRequiredMixin, FormView):
    action = Action.CHANGE
