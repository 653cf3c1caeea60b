"""Pages of the documents app: the officer's decisions on the provision review and key terms, and
full-text search. Every read and write goes through the permission gate (organizations.mixins)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agreements.models import BreachWindowUnit
from documents.models import KeyTerm, KeyTermSuggestion, OfficerVerdict, ProvisionReview
from documents.selectors import search_pages
from documents.services import key_term_decide, provision_decide
from organizations.mixins import action_required, get_restricted_object_or_404
from organizations.querysets import Action


@require_POST
@action_required(Action.CHANGE)
def provision_decide_view(request, pk: int):
    review = get_restricted_object_or_404(
        ProvisionReview.objects.select_related("agreement"), request, pk=pk, action=Action.CHANGE
    )
    verdict = request.POST.get("verdict", "")
    if verdict not in OfficerVerdict.values:
        messages.error(request, "Choose present, missing, or clear the decision.")
    else:
        try:
            provision_decide(review=review, verdict=verdict, note=request.POST.get("note", ""), user=request.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, f"{review.provision}: {message}")
        else:
            messages.success(request, f"{review.provision}: {review.get_officer_verdict_display().lower()}.")
    return redirect(reverse("agreements:detail", args=[review.agreement_id]) + "#provisions-heading")


def _corrected_value(term: str, post) -> dict:
    """The officer's correction, in the shape the reader proposes."""
    if term == KeyTerm.BREACH_WINDOW:
        unit = post.get("unit", "")
        if unit not in BreachWindowUnit.values:
            raise ValidationError("Choose the unit: hours, calendar days, business days or not stated.")
        if unit == BreachWindowUnit.NOT_STATED:
            return {"value": None, "unit": unit}
        raw = post.get("value", "").strip()
        if not raw.isdigit():
            raise ValidationError("Give the window as a whole number in its unit, e.g. 4 (hours) or 30 (days).")
        return {"value": int(raw), "unit": unit}
    if term in (KeyTerm.EFFECTIVE_ON, KeyTerm.EXPIRES_ON):
        try:
            return {"date": datetime.date.fromisoformat(post.get("date", "").strip()).isoformat()}
        except ValueError as exc:
            raise ValidationError("Give the date as YYYY-MM-DD.") from exc
    raise ValidationError("This term can be accepted or dismissed; correct it on the agreement's edit page.")


@require_POST
@action_required(Action.CHANGE)
def key_term_decide_view(request, pk: int):
    suggestion = get_restricted_object_or_404(
        KeyTermSuggestion.objects.select_related("agreement"), request, pk=pk, action=Action.CHANGE
    )
    action = request.POST.get("action", "")
    try:
        value = _corrected_value(suggestion.term, request.POST) if action == "correct" else None
        key_term_decide(suggestion=suggestion, action=action, user=request.user, value=value)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, f"{suggestion.get_term_display()}: {message}")
    else:
        messages.success(request, f"{suggestion.get_term_display()}: {suggestion.get_state_display().lower()}.")
    return redirect(reverse("agreements:detail", args=[suggestion.agreement_id]) + "#key-terms-heading")


@require_GET
@action_required(Action.VIEW)
def search(request):
    query = request.GET.get("q", "").strip()[:200]
    hits = search_pages(request.user, query) if query else []
    return render(request, "documents/search.html", {"query": query, "hits": hits})
