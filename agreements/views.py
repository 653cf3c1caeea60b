"""Pages of the business associate agreements: list, detail, forms, lifecycle actions, signed
documents and export. BAAs are never deleted (45 CFR 164.316(b)(2)(i)): there is no delete view,
only archive. Every read and write goes through the permission gate (organizations.mixins)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agreements import selectors
from agreements.forms import (
    AgreementFilter,
    AgreementForm,
    DocumentUploadForm,
    ExecuteForm,
    RenewForm,
    TerminateForm,
    TerminationCorrectionForm,
)
from agreements.models import (
    ALLOWED_TRANSITIONS,
    AgreementDocument,
    AgreementStatus,
    BreachWindowUnit,
    BusinessAssociateAgreement,
    DocumentKind,
)
from agreements.services import (
    agreement_archive,
    agreement_execute,
    agreement_renew,
    agreement_require_coverage_scope,
    agreement_save,
    agreement_terminate,
    agreement_termination_correct,
    agreement_transition,
    document_store,
)
from baatracker.forms import render_form, save_with_service
from baatracker.spreadsheets import SpreadsheetFormat, spreadsheet_response
from compliance.models import Finding, FindingKind
from compliance.timeline import agreement_spans, agreement_state
from documents.models import OfficerVerdict, Safety
from documents.selectors import agreement_review
from facilities.models import Facility
from organizations.mixins import action_required, can, get_restricted_object_or_404, restricted_queryset
from organizations.models import AccessAction
from organizations.querysets import Action
from organizations.services import access_log_record
from vendors.models import Vendor

PER_PAGE = 25

#: Lifecycle buttons of the detail page: action -> (target status, label). Executing, terminating,
#: renewing and archiving have their own handling below.
SIMPLE_TRANSITIONS = {
    "send": (AgreementStatus.SENT, "Mark sent for signature"),
    "negotiate": (AgreementStatus.IN_NEGOTIATION, "Mark in negotiation"),
    "draft": (AgreementStatus.DRAFT, "Back to draft"),
}


def _filtered(request) -> AgreementFilter:
    agreements = selectors.agreement_list(request.user, timezone.localdate())
    return AgreementFilter(request.GET, queryset=agreements, request=request)


@require_GET
@action_required(Action.VIEW)
def agreement_list(request):
    agreement_filter = _filtered(request)
    page = Paginator(agreement_filter.qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/list.html",
        {
            "filter": agreement_filter,
            "page": page,
            "can_change": can(request, Action.CHANGE),
            "today": timezone.localdate(),
        },
    )


def _visible(request, pk: int, action: str = Action.VIEW) -> BusinessAssociateAgreement:
    return get_restricted_object_or_404(
        BusinessAssociateAgreement.objects.select_related("vendor", "supersedes", "organization"),
        request,
        pk=pk,
        action=action,
    )


@require_GET
@action_required(Action.VIEW)
def agreement_detail(request, pk: int):
    agreement = _visible(request, pk)
    return _render_detail(request, agreement)


def _render_detail(request, agreement: BusinessAssociateAgreement, *, status: int = 200, **forms):
    today = timezone.localdate()
    successor = (
        BusinessAssociateAgreement.objects.restrict(request.user, Action.VIEW).filter(supersedes=agreement).first()
    )
    predecessor = None
    if agreement.supersedes_id:
        predecessor = (
            BusinessAssociateAgreement.objects.restrict(request.user, Action.VIEW)
            .filter(pk=agreement.supersedes_id)
            .first()
        )
    covered, hidden_count = selectors.visible_covered_facilities(request.user, agreement)
    findings = list(selectors.agreement_findings(request.user, agreement))
    allowed = ALLOWED_TRANSITIONS[AgreementStatus(agreement.status)]
    can_change = can(request, Action.CHANGE)
    scope_refusal = ""
    if can_change:
        try:
            agreement_require_coverage_scope(agreement=agreement, actor=request.user, doing="terminate or renew")
        except ValidationError as error:
            scope_refusal = " ".join(error.messages)
    context = {
        "agreement": agreement,
        "successor": successor,
        "predecessor": predecessor,
        "covered_facilities": covered,
        "hidden_facility_count": hidden_count,
        "documents": selectors.agreement_documents(request.user, agreement),
        "review": agreement_review(request.user, agreement),
        "verdicts": OfficerVerdict.choices,
        "breach_units": BreachWindowUnit.choices,
        "findings": findings,
        "engagements": selectors.agreement_engagements(request.user, agreement),
        "history": selectors.agreement_history(request.user, agreement),
        "in_force": selectors.agreements_in_force(today).filter(pk=agreement.pk).exists(),
        # Derived once (compliance.timeline and the findings), never compared in the template.
        "state": agreement_state(
            agreement_spans(today, agreement_ids=[agreement.pk]).get(agreement.pk),
            today,
            horizon_days=settings.EXPIRY_HORIZON_DAYS,
        ),
        "finding_kinds": {finding.kind for finding in findings},
        "phi_before_engagements": set(
            Finding.objects.restrict(request.user, Action.VIEW)
            .open()
            .filter(kind=FindingKind.PHI_BEFORE_BAA, vendor_id=agreement.vendor_id)
            .values_list("engagement_id", flat=True)
        ),
        "can_change": can_change,
        "simple_transitions": [
            (action, label) for action, (target, label) in SIMPLE_TRANSITIONS.items() if target in allowed
        ],
        "can_execute": AgreementStatus.EXECUTED in allowed,
        "scope_refusal": scope_refusal,
        "can_terminate": AgreementStatus.TERMINATED in allowed and not scope_refusal,
        "can_renew": agreement.status in (AgreementStatus.EXECUTED, AgreementStatus.EXPIRED)
        and successor is None
        and not scope_refusal,
        "can_archive": agreement.archived_at is None and agreement.status != AgreementStatus.EXECUTED,
        "execute_form": forms.get("execute_form")
        or ExecuteForm(initial={"executed_on": agreement.executed_on or today, "effective_on": agreement.effective_on}),
        "can_correct_termination": agreement.status == AgreementStatus.TERMINATED
        and agreement.archived_at is None
        and not scope_refusal,
        "renew_form": forms.get("renew_form")
        or RenewForm(
            initial={
                "title": f"{agreement.title} (renewal)",
                "effective_on": agreement.expires_on,
            }
        ),
        "upload_form": forms.get("upload_form") or DocumentUploadForm(),
        "today": today,
    }
    return render(request, "agreements/detail.html", context, status=status)


# --- create and edit ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def agreement_create(request):
    """A new agreement; ?vendor=ID&facility=ID (from the coverage matrix or a finding) prefill it."""
    agreement = BusinessAssociateAgreement(organization_id=request.membership.organization_id)
    initial = {"title": "Business Associate Agreement"}
    vendor = _prefill(request, Vendor, "vendor")
    if vendor is not None:
        initial["vendor"] = vendor
        initial["title"] = f"Business Associate Agreement with {vendor.legal_name}"
    facility = _prefill(request, Facility, "facility")
    if facility is not None:
        initial["covers_all_facilities"] = False
        initial["covered_facilities"] = [facility]
    elif request.membership.limited_facility_ids is not None:
        initial["covers_all_facilities"] = False
    return _agreement_form(request, agreement, created=True, initial=initial)


def _prefill(request, model, name: str):
    value = request.GET.get(name, "")
    if not value.isdigit():
        return None
    # Only what the user may change is offered; anything else is silently not prefilled.
    return restricted_queryset(model, request, Action.CHANGE).filter(pk=int(value)).first()


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def agreement_update(request, pk: int):
    agreement = _visible(request, pk, Action.CHANGE)
    return _agreement_form(request, agreement, created=False)


def _store_signed_pdf(agreement: BusinessAssociateAgreement, upload, *, user) -> None:
    try:
        document_store(
            agreement=agreement,
            upload=upload,
            original_name=upload.name,
            uploaded_by=user,
            kind=DocumentKind.SIGNED_AGREEMENT,
        )
    except ValidationError as error:
        # The document's refusals are about the file field, named signed_pdf on this form.
        if hasattr(error, "error_dict") and "file" in error.error_dict:
            raise ValidationError({"signed_pdf": error.error_dict["file"]}) from error
        raise


def _agreement_form(request, agreement: BusinessAssociateAgreement, *, created: bool, initial=None):
    form = AgreementForm(
        request.POST or None,
        request.FILES or None,
        instance=agreement,
        initial=initial,
        user=request.user,
        membership=request.membership,
    )

    def save() -> BusinessAssociateAgreement:
        saved = agreement_save(
            agreement=form.instance, covered_facilities=form.covered_facilities_to_save(), actor=request.user
        )
        signed_pdf = form.cleaned_data.get("signed_pdf")
        if signed_pdf:
            # Same transaction (save_with_service): the agreement is recorded with its signed copy, or not at all.
            _store_signed_pdf(saved, signed_pdf, user=request.user)
        return saved

    saved = save_with_service(
        request, form, save, message=lambda a: f"Agreement \u201c{a.title}\u201d {'added' if created else 'saved'}."
    )
    if saved is not None:
        if form.breach_window_warning:
            messages.warning(request, form.breach_window_warning)
        return redirect("agreements:detail", pk=saved.pk)
    if created and form.instance.pk is not None:  # rolled back: the form shows a new agreement again
        form.instance.pk = None
        form.instance._state.adding = True
    return render_form(request, "agreements/form.html", {"form": form, "agreement": agreement, "created": created})


# --- lifecycle ------------------------------------------------------------------------------------


@require_POST
@action_required(Action.CHANGE)
def agreement_transition_view(request, pk: int):
    """One lifecycle step through agreements.services; a refused step shows the service's message.
    Terminating has its own page with a confirmation step (agreement_terminate_view)."""
    agreement = _visible(request, pk, Action.CHANGE)
    action = request.POST.get("action", "")
    forms = {}
    try:
        with transaction.atomic():
            if action in SIMPLE_TRANSITIONS:
                agreement_transition(agreement=agreement, to_status=SIMPLE_TRANSITIONS[action][0])
                done = f"Agreement marked {agreement.get_status_display().lower()}."
            elif action == "execute":
                form = forms["execute_form"] = ExecuteForm(request.POST)
                if not form.is_valid():
                    raise _FormInvalid
                agreement_execute(
                    agreement=agreement,
                    executed_on=form.cleaned_data["executed_on"],
                    effective_on=form.cleaned_data["effective_on"],
                )
                done = f"Agreement executed on {agreement.executed_on:%Y-%m-%d}."
                if agreement.supersedes_id:
                    done += " The agreement it renews is now superseded."
            elif action == "archive":
                agreement_archive(agreement=agreement)
                done = "Agreement archived. It is kept, never deleted (45 CFR 164.316(b)(2)(i): 6 years)."
            else:
                raise ValidationError("Unknown action.")
    except _FormInvalid:
        agreement.refresh_from_db()
        messages.error(request, "Correct the dates below.")
        return _render_detail(request, agreement, status=400, **forms)
    except ValidationError as error:
        agreement.refresh_from_db()
        for message in error.messages:
            messages.error(request, message)
        return _render_detail(request, agreement, status=400)
    messages.success(request, done)
    return redirect("agreements:detail", pk=agreement.pk)


class _FormInvalid(Exception):
    pass


@require_POST
@action_required(Action.CHANGE)
def agreement_renew_view(request, pk: int):
    """Renewal: a new draft agreement that supersedes this one once it is executed."""
    agreement = _visible(request, pk, Action.CHANGE)
    form = RenewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Correct the renewal below.")
        return _render_detail(request, agreement, status=400, renew_form=form)
    try:
        with transaction.atomic():
            renewal = agreement_renew(
                previous=agreement,
                title=form.cleaned_data["title"],
                effective_on=form.cleaned_data["effective_on"],
                expires_on=form.cleaned_data["expires_on"],
                actor=request.user,
            )
    except ValidationError as error:
        agreement.refresh_from_db()
        for message in error.messages:
            messages.error(request, message)
        return _render_detail(request, agreement, status=400, renew_form=form)
    messages.success(
        request,
        f"Renewal \u201c{renewal.title}\u201d created as a draft. Once it is executed it supersedes "
        f"\u201c{agreement.title}\u201d, which stays in force until then.",
    )
    return redirect("agreements:detail", pk=renewal.pk)


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def agreement_terminate_view(request, pk: int):
    """Terminate in two steps: the date and the reason, then the consequences (the facilities it stops
    covering, the engagements left without a BAA, from when) and a confirmation. Nothing changes before
    the officer confirms; a mistaken termination is corrected on agreement_correct_termination_view."""
    agreement = _visible(request, pk, Action.CHANGE)
    if agreement.status != AgreementStatus.EXECUTED:
        messages.error(request, "Only an executed agreement can be terminated.")
        return redirect("agreements:detail", pk=agreement.pk)
    form = TerminateForm(request.POST or None)
    consequences = None
    status = 200
    try:
        # Said before the officer fills anything in; agreement_terminate checks it again.
        agreement_require_coverage_scope(agreement=agreement, actor=request.user, doing="terminate")
    except ValidationError as error:
        # 403: the officer's role may terminate, but not for facilities outside their scope.
        context = {"agreement": agreement, "form": None, "refusal": error.messages}
        return render(request, "agreements/terminate.html", context, status=403)
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        elif request.POST.get("confirm") == "yes":
            terminated = save_with_service(
                request,
                form,
                lambda: agreement_terminate(
                    agreement=agreement,
                    terminated_on=form.cleaned_data["terminated_on"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                ),
                message=lambda done: (
                    f"Agreement terminated on {done.terminated_on:%Y-%m-%d}. If this was a mistake, correct it "
                    "from this page: the correction is kept in the history."
                ),
                on_refusal=agreement.refresh_from_db,
            )
            if terminated is not None:
                return redirect("agreements:detail", pk=agreement.pk)
            status = 400
        else:
            consequences = selectors.termination_consequences(
                request.user, agreement, form.cleaned_data["terminated_on"], timezone.localdate()
            )
    return render(
        request,
        "agreements/terminate.html",
        {"agreement": agreement, "form": form, "consequences": consequences},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def agreement_correct_termination_view(request, pk: int):
    """Correct a mistaken termination (reinstate, or fix the date), with a reason kept in the history."""
    agreement = _visible(request, pk, Action.CHANGE)
    form = TerminationCorrectionForm(request.POST or None, initial={"terminated_on": agreement.terminated_on})
    corrected = save_with_service(
        request,
        form,
        lambda: agreement_termination_correct(
            agreement=agreement,
            correction=form.cleaned_data["correction"],
            terminated_on=form.cleaned_data["terminated_on"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
        ),
        message=lambda done: (
            "Termination corrected: the agreement is in force again."
            if done.status == AgreementStatus.EXECUTED
            else f"Termination date corrected to {done.terminated_on:%Y-%m-%d}."
        ),
        on_refusal=agreement.refresh_from_db,
    )
    if corrected is not None:
        return redirect("agreements:detail", pk=agreement.pk)
    return render_form(request, "agreements/correct_termination.html", {"agreement": agreement, "form": form})


# --- documents ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def document_upload(request, pk: int):
    agreement = _visible(request, pk, Action.CHANGE)
    form = DocumentUploadForm(request.POST or None, request.FILES or None)
    stored = save_with_service(
        request,
        form,
        lambda: document_store(
            agreement=agreement,
            upload=form.cleaned_data["file"],
            original_name=form.cleaned_data["file"].name,
            uploaded_by=request.user,
            kind=form.cleaned_data["kind"],
        ),
        message=lambda d: f"Stored {d.original_name} ({d.size_bytes:,} bytes), SHA-256 {d.sha256}.",
    )
    if stored is not None:
        return redirect("agreements:detail", pk=agreement.pk)
    return render_form(request, "agreements/upload.html", {"form": form, "agreement": agreement})


@require_GET
@action_required(Action.VIEW)
def document_download(request, pk: int):
    """The stored PDF, only for users who may see its agreement; every download is recorded
    (45 CFR 164.312(b) audit controls)."""
    document = get_restricted_object_or_404(
        AgreementDocument.objects.select_related("agreement", "reading"), request, pk=pk
    )
    reading = getattr(document, "reading", None)
    if reading is not None and reading.safety == Safety.REFUSED:
        # Refused at the safety check (documents.pdfsafety): its bytes were not kept.
        raise Http404("This document was refused at upload and not kept.")
    try:
        handle = document.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The stored file is missing.") from exc
    access_log_record(
        request=request,
        action=AccessAction.DOWNLOAD,
        obj=document,
        description=f"Downloaded {document.original_name} of \u201c{document.agreement.title}\u201d "
        f"(SHA-256 {document.sha256[:12]})",
    )
    response = FileResponse(handle, as_attachment=True, filename=document.original_name, content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


# --- export ---------------------------------------------------------------------------------------

EXPORT_HEADERS = [
    "vendor",
    "title",
    "status",
    "in_force",
    "covers",
    "executed_on",
    "effective_on",
    "expires_on",
    "auto_renews",
    "renewal_term_months",
    "renewal_notice_days",
    "breach_notification_days",
    "amended_on",
    "terminated_on",
    "supersedes",
    "documents",
    "open_findings",
    "archived",
]


@require_GET
@action_required(Action.VIEW)
def agreement_export(request):
    """The agreements shown by the list's filters; recorded in the access log, formula-injection safe."""
    fmt = request.GET.get("format", SpreadsheetFormat.XLSX)
    if fmt not in SpreadsheetFormat.values:
        fmt = SpreadsheetFormat.XLSX
    agreements = list(_filtered(request).qs.select_related("supersedes"))
    visible_facilities = set(Facility.objects.restrict(request.user, Action.VIEW).values_list("pk", flat=True))
    access_log_record(
        request=request,
        action=AccessAction.EXPORT,
        obj=request.membership.organization,
        description=f"Exported the agreements ({len(agreements)} agreements, {fmt.upper()})",
    )
    rows = [
        [
            agreement.vendor.legal_name,
            agreement.title,
            agreement.get_status_display(),
            "yes" if agreement.in_force else "no",
            "All facilities"
            if agreement.covers_all_facilities
            else "; ".join(f.name for f in agreement.covered_facilities.all() if f.pk in visible_facilities),
            agreement.executed_on,
            agreement.effective_on,
            agreement.expires_on,
            "yes" if agreement.auto_renews else "no",
            agreement.renewal_term_months,
            agreement.renewal_notice_days,
            agreement.breach_notification_days,
            agreement.amended_on,
            agreement.terminated_on,
            agreement.supersedes.title if agreement.supersedes else "",
            agreement.document_count,
            agreement.open_finding_count,
            "yes" if agreement.archived_at else "no",
        ]
        for agreement in agreements
    ]
    return spreadsheet_response(fmt=fmt, filename="agreements", headers=EXPORT_HEADERS, rows=rows)
