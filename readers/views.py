"""Pages of the teleradiology readers: a vendor's roster with its licensure matrix, the radiologist's
page, the forms that record licenses, assignments, privileges and proxy agreements (through the
services), the facility's licensure matrix and the imports."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from alerts.services import vendor_contact_preference_for, vendor_contact_reminders_set
from baatracker.forms import render_form, save_with_service
from checklists.models import checklist_applies
from compliance.rules import on_roster
from facilities.models import Facility
from organizations.mixins import action_required, can, get_restricted_object_or_404
from organizations.querysets import Action
from readers import importing, selectors
from readers.forms import (
    ImlcLetterForm,
    PrivilegeForm,
    ProxyAgreementForm,
    RadiologistForm,
    ReadersImportForm,
    ReadingAssignmentForm,
    RosterRemovalForm,
    StateLicenseForm,
)
from readers.models import (
    ImlcLetter,
    Privilege,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
)
from readers.services import (
    imlc_letter_save,
    privilege_save,
    proxy_agreement_save,
    radiologist_remove_from_roster,
    radiologist_save,
    reading_assignment_save,
    state_license_save,
)
from vendors.models import Vendor


def _teleradiology_vendor(request, pk: int, action: str = Action.VIEW) -> Vendor:
    vendor = get_restricted_object_or_404(Vendor, request, pk=pk, action=action)
    if not checklist_applies(vendor.category):  # the vendors with readers (readers.services)
        raise Http404("Only teleradiology vendors have reading radiologists.")
    return vendor


@require_http_methods(["GET"])
@action_required(Action.VIEW)
def roster(request, vendor_pk: int):
    vendor = _teleradiology_vendor(request, vendor_pk)
    today = timezone.localdate()
    return render(
        request,
        "readers/roster.html",
        {
            "vendor": vendor,
            "matrix": selectors.licensure_matrix(request.user, as_of=today, vendor=vendor),
            "proxy_agreements": selectors.proxy_agreements(request.user, vendor),
            "contact_reminders": vendor_contact_preference_for(vendor),
            "can_change": can(request, Action.CHANGE),
        },
    )


@require_POST
@action_required(Action.CHANGE)
def contact_reminders(request, vendor_pk: int):
    """Turn the credential reminders to the vendor's contact on or off (alerts.services)."""
    vendor = _teleradiology_vendor(request, vendor_pk, Action.CHANGE)
    enabled = request.POST.get("credential_reminders") == "on"
    vendor_contact_reminders_set(vendor=vendor, credential_reminders=enabled, changed_by=request.user)
    state = "will receive" if enabled else "will no longer receive"
    messages.success(request, f"The contact of {vendor.legal_name} {state} the credential reminders.")
    return redirect("readers:roster", vendor_pk=vendor.pk)


@require_http_methods(["GET"])
@action_required(Action.VIEW)
def facility_matrix(request, facility_pk: int):
    facility = get_restricted_object_or_404(Facility, request, pk=facility_pk)
    today = timezone.localdate()
    return render(
        request,
        "readers/facility_matrix.html",
        {"facility": facility, "matrix": selectors.licensure_matrix(request.user, as_of=today, facility=facility)},
    )


@require_http_methods(["GET"])
@action_required(Action.VIEW)
def radiologist_detail(request, pk: int):
    radiologist = get_restricted_object_or_404(Radiologist.objects.select_related("vendor"), request, pk=pk)
    return render(
        request,
        "readers/radiologist_detail.html",
        {
            "radiologist": radiologist,
            "off_roster": radiologist.roster_ends_on is not None and not on_roster(radiologist, timezone.localdate()),
            "today": timezone.localdate(),
            "removal_form": RosterRemovalForm(initial={"roster_ends_on": timezone.localdate()}),
            "can_change": can(request, Action.CHANGE),
            **selectors.radiologist_page(request.user, radiologist),
        },
    )


def _save_form(request, form, save, *, done_message: str, next_url: str, template: str, context):
    """Validate ``form``, save its instance through the service ``save`` (which schedules the compliance run)."""
    if save_with_service(request, form, lambda: save(form.instance), message=lambda _saved: done_message) is not None:
        return redirect(next_url)
    return render_form(request, template, {"form": form, **context})


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def radiologist_create(request, vendor_pk: int):
    vendor = _teleradiology_vendor(request, vendor_pk, Action.CHANGE)
    form = RadiologistForm(
        request.POST or None, instance=Radiologist(vendor=vendor), initial={"roster_starts_on": timezone.localdate()}
    )
    radiologist = save_with_service(
        request,
        form,
        lambda: radiologist_save(radiologist=form.instance),
        message=lambda saved: f"{saved.name} added to the roster.",
    )
    if radiologist is not None:
        return redirect("readers:radiologist_detail", pk=radiologist.pk)
    return render_form(
        request,
        "readers/form.html",
        {"form": form, "vendor": vendor, "title": f"Add a radiologist to {vendor.legal_name}'s roster"},
    )


def _radiologist_for_change(request, pk: int) -> Radiologist:
    return get_restricted_object_or_404(
        Radiologist.objects.select_related("vendor"), request, pk=pk, action=Action.CHANGE
    )


def _child_form(request, radiologist: Radiologist, form, save, what: str):
    return _save_form(
        request,
        form,
        save,
        done_message=f"{what} of {radiologist.name} saved.",
        next_url=radiologist_url(radiologist),
        template="readers/form.html",
        context={"radiologist": radiologist, "vendor": radiologist.vendor, "title": f"{what}: {radiologist.name}"},
    )


def radiologist_url(radiologist: Radiologist) -> str:
    from django.urls import reverse

    return reverse("readers:radiologist_detail", args=[radiologist.pk])


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def license_create(request, pk: int):
    radiologist = _radiologist_for_change(request, pk)
    form = StateLicenseForm(
        request.POST or None,
        request.FILES or None,
        instance=StateLicense(radiologist=radiologist),
        organization_id=radiologist.vendor.organization_id,
        radiologist=radiologist,
        initial={"verified_by": request.user.pk, "verified_on": timezone.localdate()},
    )
    return _child_form(request, radiologist, form, lambda obj: state_license_save(license=obj), "State license")


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def imlc_letter_create(request, pk: int):
    radiologist = _radiologist_for_change(request, pk)
    form = ImlcLetterForm(request.POST or None, request.FILES or None, instance=ImlcLetter(radiologist=radiologist))
    return _child_form(request, radiologist, form, lambda obj: imlc_letter_save(letter=obj), "IMLC letter")


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def assignment_create(request, pk: int):
    radiologist = _radiologist_for_change(request, pk)
    form = ReadingAssignmentForm(
        request.POST or None,
        instance=ReadingAssignment(radiologist=radiologist),
        user=request.user,
        radiologist=radiologist,
        initial={"starts_on": timezone.localdate()},
    )
    return _child_form(
        request, radiologist, form, lambda obj: reading_assignment_save(assignment=obj), "Reading assignment"
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def privilege_create(request, pk: int):
    radiologist = _radiologist_for_change(request, pk)
    form = PrivilegeForm(request.POST or None, instance=Privilege(radiologist=radiologist), user=request.user)
    return _child_form(request, radiologist, form, lambda obj: privilege_save(privilege=obj), "Privileges")


@require_POST
@action_required(Action.CHANGE)
def radiologist_remove(request, pk: int):
    radiologist = _radiologist_for_change(request, pk)
    form = RosterRemovalForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                radiologist_remove_from_roster(radiologist=radiologist, on=form.cleaned_data["roster_ends_on"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{radiologist.name} removed from the roster.")
    else:
        messages.error(request, "Give the date the radiologist left the roster.")
    return redirect("readers:radiologist_detail", pk=radiologist.pk)


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def proxy_agreement_create(request, vendor_pk: int):
    vendor = _teleradiology_vendor(request, vendor_pk, Action.CHANGE)
    form = ProxyAgreementForm(
        request.POST or None,
        request.FILES or None,
        instance=ProxyCredentialingAgreement(vendor=vendor, distant_site_name=vendor.legal_name),
        user=request.user,
    )
    from django.urls import reverse

    return _save_form(
        request,
        form,
        lambda obj: proxy_agreement_save(agreement=obj),
        done_message="Proxy credentialing agreement saved.",
        next_url=reverse("readers:roster", args=[vendor.pk]),
        template="readers/form.html",
        context={"vendor": vendor, "title": f"Proxy credentialing agreement with {vendor.legal_name}"},
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def readers_import(request, vendor_pk: int):
    """Roster, licenses or privileges from CSV/XLSX, or licenses from an NPPES monthly file: all rows
    saved or none, with a message per row to fix."""
    vendor = _teleradiology_vendor(request, vendor_pk, Action.CHANGE)
    form = ReadersImportForm(request.POST or None, request.FILES or None, kinds=importing.ImportKind.choices)
    result = None
    if request.method == "POST" and form.is_valid():
        result = importing.readers_import(
            kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], vendor=vendor, user=request.user
        )
        if result.saved:
            messages.success(request, f"{result.saved} rows imported.")
            return redirect("readers:roster", vendor_pk=vendor.pk)
    return render(
        request,
        "readers/import.html",
        {"form": form, "vendor": vendor, "result": result, "kinds": importing.COLUMNS},
        status=400 if (form.errors or (result and result.errors)) else 200,
    )
