"""Pages of bulk onboarding: the review queue (upload, progress, the spreadsheet of terms) and the
review screen of one draft. Every read and write goes through the permission gate."""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from baatracker.forms import add_service_errors
from baatracker.spreadsheets import MAX_IMPORT_BYTES, SpreadsheetError
from documents.selectors import VENDOR_MATCH_THRESHOLD
from onboarding import terms as terms_sheet
from onboarding.forms import ConfirmForm, UploadForm
from onboarding.models import DraftState, OnboardingDraft
from onboarding.selectors import proposed_provisions, proposed_terms, review_queue, review_vendor
from onboarding.services import MAX_FILES, Confirmation, draft_confirm, draft_discard, drafts_upload, limits_text
from organizations.mixins import action_required, can, get_restricted_object_or_404
from organizations.querysets import Action


def _render_queue(request, *, form=None, terms_result=None, terms_error="", status=200):
    queue = review_queue(request.user)
    return render(
        request,
        "onboarding/queue.html",
        {
            "queue": queue,
            "form": form or UploadForm(user=request.user, initial={"covers_all_facilities": False}),
            "limits": limits_text(),
            "max_files": MAX_FILES,
            "terms_columns": terms_sheet.COLUMNS,
            "terms_result": terms_result,
            "terms_error": terms_error,
            "may_change": can(request, Action.CHANGE),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.VIEW, write=Action.CHANGE)
def queue(request):
    """The review queue; a POST uploads many signed PDFs (or ZIPs of them) at once."""
    if request.method == "GET":
        return _render_queue(request)
    form = UploadForm(request.POST, user=request.user)
    files = request.FILES.getlist("files")
    if not files:
        form.add_error(None, "Choose the signed PDFs (or a ZIP of them) to upload.")
    if (
        form.is_valid()
        and form.cleaned_data["covers_all_facilities"]
        and request.membership.limited_facility_ids is not None
    ):
        form.add_error(None, "You manage only some facilities: choose the facilities these agreements cover.")
    if not form.is_valid():
        return _render_queue(request, form=form, status=400)
    if len(files) > MAX_FILES:
        form.add_error(None, f"{len(files)} files chosen; upload at most {MAX_FILES} at once. Nothing was saved.")
        return _render_queue(request, form=form, status=400)
    try:
        result = drafts_upload(
            uploads=[(upload.name, upload.read()) for upload in files],
            user=request.user,
            membership=request.membership,
            covers_all_facilities=form.cleaned_data["covers_all_facilities"],
            facilities=list(form.cleaned_data["facilities"]),
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return _render_queue(request, form=form, status=400)
    if result.created:
        messages.success(
            request,
            f"{len(result.created)} PDF{'s' if len(result.created) != 1 else ''} added to the review queue; "
            "the worker is reading them.",
        )
    for name, reason in result.refused:
        messages.error(request, f"{name}: {reason} Nothing was saved for it.")
    return redirect("onboarding:queue")


@require_POST
@action_required(Action.CHANGE)
def terms_upload(request):
    """A spreadsheet of agreement terms for the queued PDFs: all rows or none."""
    upload = request.FILES.get("terms_file")
    if upload is None:
        return _render_queue(request, terms_error="Choose a CSV or Excel (.xlsx) file.", status=400)
    if upload.size > MAX_IMPORT_BYTES:
        return _render_queue(
            request, terms_error=f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.", status=400
        )
    try:
        sheet = terms_sheet.read_terms(io.BytesIO(upload.read()), name=upload.name)
    except SpreadsheetError as exc:
        return _render_queue(request, terms_error=str(exc), status=400)
    result = terms_sheet.terms_import(sheet=sheet, user=request.user, commit=True)
    if not result.ok:
        return _render_queue(request, terms_result=result, status=400)
    messages.success(request, f"Terms of {len(result.rows)} PDFs taken from {upload.name}; confirm each draft.")
    return redirect("onboarding:queue")


def _confirmation(form: ConfirmForm) -> Confirmation:
    data = form.cleaned_data
    return Confirmation(
        title=data["title"],
        executed_on=data["executed_on"],
        effective_on=data["effective_on"],
        expires_on=data["expires_on"],
        breach_notification_window=data["breach_notification_window"],
        breach_notification_unit=data["breach_notification_unit"],
        covers_all_facilities=data["covers_all_facilities"],
        facilities=list(data["facilities"]),
        vendor=data["vendor"],
        new_vendor_name=data["new_vendor_name"],
        new_vendor_category=data["new_vendor_category"],
        verdicts=form.verdicts(),
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.VIEW, write=Action.CHANGE)
def draft_review(request, pk: int):
    """One screen per draft: vendor (matched or new), terms, coverage and provisions; confirming
    creates the agreement and its signed document."""
    action = Action.CHANGE if request.method == "POST" else Action.VIEW
    draft = get_restricted_object_or_404(
        OnboardingDraft.objects.select_related("vendor"), request, pk=pk, action=action
    )
    initial = proposed_terms(draft)
    initial["facilities"] = list(draft.facilities.all())
    vendor, score, proposed_name = review_vendor(request.user, draft)
    if "vendor" not in initial and vendor is not None:
        initial["vendor"] = vendor.pk
    initial["new_vendor_name"] = proposed_name if vendor is None else ""
    form = ConfirmForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                agreement = draft_confirm(draft=draft, confirmation=_confirmation(form), user=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Agreement \u201c{agreement.title}\u201d created from {draft.original_name}.")
            next_draft = review_queue(request.user).drafts
            ready = [d for d in next_draft if d.state == DraftState.READY]
            return redirect("onboarding:draft", pk=ready[0].pk) if ready else redirect("onboarding:queue")
    return render(
        request,
        "onboarding/draft.html",
        {
            "draft": draft,
            "form": form,
            "match": {"vendor": vendor, "score": score, "proposed_name": proposed_name},
            "provision_rows": [
                (p, form[f"verdict_{p.provision}"], form[f"note_{p.provision}"]) for p in proposed_provisions(draft)
            ],
            "key_terms": draft.key_terms,
            "threshold": VENDOR_MATCH_THRESHOLD,
            "may_change": can(request, Action.CHANGE),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@action_required(Action.CHANGE)
def draft_discard_view(request, pk: int):
    draft = get_restricted_object_or_404(OnboardingDraft, request, pk=pk, action=Action.CHANGE)
    try:
        draft_discard(draft=draft, user=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"{draft.original_name} discarded; its file was deleted.")
    return redirect("onboarding:queue")
