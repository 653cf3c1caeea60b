"""The API tokens page: a user creates, sees and revokes their own personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api.forms import ApiTokenForm
from api.models import TokenScope
from api.selectors import tokens_of
from api.services import api_token_create, api_token_revoke
from baatracker.forms import add_service_errors
from organizations.mixins import action_required, can, get_restricted_object_or_404
from organizations.querysets import Action


@require_http_methods(["GET", "POST"])
@action_required(Action.VIEW)
def token_list(request):
    """Every member may have tokens (a viewer's are read-only): the token acts with the member's rights."""
    form = ApiTokenForm(request.POST or None)
    if not can(request, Action.CHANGE):
        form.fields["scope"].choices = [(TokenScope.READ.value, TokenScope.READ.label)]
    raw = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                token, raw = api_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    lifetime_days=form.cleaned_data["lifetime_days"],
                )
            except ValidationError as error:
                add_service_errors(form, error)
                status = 400
            else:
                messages.success(
                    request, f"Token \u201c{token.name}\u201d created. Copy it now: it is shown only once."
                )
                form = ApiTokenForm()
        else:
            status = 400
    response = render(
        request,
        "api/tokens.html",
        {"form": form, "tokens": tokens_of(request.user), "raw_token": raw},
        status=status,
    )
    response["Cache-Control"] = "no-store"  # the new token is on this page once: never in a cache
    return response


@require_POST
@action_required(Action.VIEW)
def token_revoke(request, pk: int):
    token = get_restricted_object_or_404(tokens_of(request.user), request, pk=pk)
    api_token_revoke(token=token)
    messages.success(request, f"Token \u201c{token.name}\u201d revoked: it no longer works.")
    return redirect("api:tokens")
