"""The base of every API view: the permission gate applied by construction, and the access log.

``RestrictedViewSet.get_queryset`` always returns ``base_queryset().restrict(user, action)``;
subclasses say what to select (``base_queryset``) but cannot replace ``get_queryset`` (a subclass
that tries is refused when its class is created), so no endpoint can forget the gate.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.services import api_request_record
from organizations.models import AccessAction
from organizations.querysets import Action


class RestrictedViewSet(viewsets.GenericViewSet):
    #: The action a write needs (the pages' ``write_action``); reads need VIEW.
    write_action: str = Action.CHANGE
    #: Written to the access log instead of the generic "Used the API" (e.g. a download).
    access_actions: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} overrides get_queryset: override base_queryset instead (the gate).")

    @classmethod
    def as_view(cls, *args, **kwargs):
        # Authentication is the API's own (a token, or the session): the sign-in redirect of
        # LoginRequiredMiddleware is for pages. GatePermission refuses the anonymous with 401.
        view = login_not_required(super().as_view(*args, **kwargs))
        # Read by the gate test (tests/test_gate.py): reads need VIEW; writes the viewset's write_action,
        # both checked by GatePermission, and every queryset is restricted by get_queryset below.
        view.gate_action = Action.VIEW
        return view

    def base_queryset(self):
        raise NotImplementedError

    def required_action(self, request) -> str:
        return Action.VIEW if request.method in permissions.SAFE_METHODS else self.write_action

    def get_queryset(self):
        queryset = self.base_queryset()
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular building the schema
            return queryset.none()
        return queryset.restrict(self.request.user, self.required_action(self.request))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if not getattr(self, "swagger_fake_view", False) and request.user is not None and request.user.is_authenticated:
            api_request_record(
                request=request,
                status_code=response.status_code,
                action=self.access_actions.get(self.action, AccessAction.API)
                if response.status_code < 400
                else AccessAction.API,
                obj=getattr(response, "logged_object", None),
                description=getattr(response, "logged_description", ""),
            )
        return response


def exception_handler(exc, context):
    """The services' ValidationError (a Django one) is a 400 with the services' messages, as on the pages."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "Correct the fields below.", "errors": response.data}
    elif isinstance(response.data, list):
        response.data = {"detail": " ".join(str(m) for m in response.data), "errors": {}}
    return response


def bad_request(message: str) -> Response:
    return Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)


def login_not_required_api(view):
    """An API view outside the viewsets (the schema): DRF authenticates, not the sign-in redirect."""
    return login_not_required(view)
