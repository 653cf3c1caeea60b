"""Form helpers shared by every app: the date widget, a service's errors on a form, the upload size limit,
and the save block of the edit views."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render

T = TypeVar("T")

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: each message on its field when the form has it."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


def upload_limit_text() -> str:
    """The upload limit as the forms state it."""
    return f"at most {settings.MAX_UPLOAD_MEGABYTES} MB"


def check_file_size(upload, what: str = "file") -> None:
    limit = settings.MAX_UPLOAD_MEGABYTES * 1024 * 1024
    if upload is not None and getattr(upload, "size", 0) > limit:
        raise ValidationError(f"The {what} is larger than {settings.MAX_UPLOAD_MEGABYTES} MB; upload a smaller file.")


def save_with_service(
    request,
    form: forms.BaseForm,
    save: Callable[[], T],
    *,
    message: Callable[[T], str],
    on_refusal: Callable[[], None] | None = None,
) -> T | None:
    """The save block of every edit view: on a POST with a valid form, run the service in one
    transaction; its ValidationError goes onto the form (nothing is saved), its success into a message.
    ``on_refusal`` runs after the rollback, e.g. to reload an instance the service had begun to change
    before the page shows it again.

    Returns what the service returned, or None when nothing was saved (a GET, an invalid form or a
    refusal, whose errors are on the form).
    """
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        with transaction.atomic():
            result = save()
    except ValidationError as error:
        if on_refusal is not None:
            on_refusal()
        add_service_errors(form, error)
        return None
    messages.success(request, message(result))
    return result


def render_form(request, template: str, context: dict) -> HttpResponse:
    """The form page, with status 400 when its form has errors (so a failed POST is not a 200)."""
    form = context["form"]
    return render(request, template, context, status=400 if form.errors else 200)
