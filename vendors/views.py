"""Pages of the vendor inventory: list, detail, forms for vendors, engagements and subcontractors,
and the spreadsheet import and export. Every read and write goes through the permission gate
(organizations.mixins); every save that can change a finding re-runs the rules engine on commit."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from baatracker.forms import render_form, save_with_service
from baatracker.spreadsheets import (
    MAX_IMPORT_BYTES,
    Sheet,
    SpreadsheetError,
    SpreadsheetFormat,
    spreadsheet_response,
)
from compliance.services import schedule_compliance_run
from facilities.models import Facility
from organizations.mixins import action_required, can, get_restricted_object_or_404, restricted_queryset
from organizations.models import AccessAction
from organizations.querysets import Action
from organizations.services import access_log_record
from vendors import importing, selectors
from vendors.filters import VendorFilter
from vendors.forms import EngagementForm, SubcontractorLinkForm, VendorForm
from vendors.models import Engagement, SubcontractorLink, Vendor
from vendors.services import engagement_save, subcontractor_link_save, vendor_save

PER_PAGE = 25
IMPORT_SESSION_KEY = "vendor_import_tokens"


def _filtered(request, today=None) -> VendorFilter:
    vendors = selectors.vendors_with_status(request.user, today or timezone.localdate())
    return VendorFilter(request.GET or None, queryset=vendors, request=request)


@require_GET
@action_required(Action.VIEW)
def vendor_list(request):
    today = timezone.localdate()  # one day for the page's keys and for its rows
    vendor_filter = _filtered(request, today)
    # Two steps: the page's ordered keys (only what the filters and the sort need), then the status,
    # counts and subqueries for those 25 vendors. In one query PostgreSQL would compute them for every
    # vendor of the organization before skipping to the page (ORDER BY ... OFFSET).
    page = Paginator(vendor_filter.qs.values_list("pk", flat=True), PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = selectors.vendors_in_order(request.user, today, list(page.object_list))
    return render(
        request,
        "vendors/list.html",
        {"filter": vendor_filter, "page": page, "can_change": can(request, Action.CHANGE)},
    )


@require_GET
@action_required(Action.VIEW)
def vendor_detail(request, pk: int):
    from compliance import selectors as compliance_selectors
    from compliance.views import as_of_from_request

    as_of, is_today = as_of_from_request(request)
    vendor = get_restricted_object_or_404(
        selectors.vendors_with_status(request.user, timezone.localdate(), vendor_ids=[pk]), request, pk=pk
    )
    engagements = list(selectors.vendor_engagements(request.user, vendor))
    if is_today:
        findings = selectors.vendor_open_findings(request.user, vendor)
    else:  # a point-in-time view: what the rules find for that day, nothing written
        findings = [
            finding
            for finding in compliance_selectors.findings_as_of(request.user, vendor.organization_id, as_of)
            if finding.vendor_id == vendor.pk
        ]
    return render(
        request,
        "vendors/detail.html",
        {
            "vendor": vendor,
            "engagements": engagements,
            "checklist_engagements": [e for e in engagements if hasattr(e, "teleradiology_checklist")],
            "agreements": selectors.vendor_agreements(request.user, vendor),
            "subcontractors": selectors.vendor_subcontractors(request.user, vendor),
            "serves_as_subcontractor": selectors.vendor_serves_as_subcontractor(request.user, vendor),
            "findings": findings,
            "history": selectors.vendor_history(request.user, vendor),
            "can_change": can(request, Action.CHANGE),
            "checklist_total": 7,
            "timeline": compliance_selectors.vendor_timeline(request.user, vendor, as_of),
            "as_of": as_of,
            "as_of_is_today": is_today,
        },
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def vendor_create(request):
    vendor = Vendor(organization_id=request.membership.organization_id)
    return _vendor_form(request, vendor, created=True)


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def vendor_update(request, pk: int):
    vendor = get_restricted_object_or_404(Vendor, request, pk=pk, action=Action.CHANGE)
    return _vendor_form(request, vendor, created=False)


def _facility_to_engage(request) -> Facility | None:
    """The facility named by ``?facility=ID``, if the user may add engagements there."""
    value = request.GET.get("facility", "")
    if not value.isdigit():
        return None
    return restricted_queryset(Facility, request, Action.CHANGE).filter(pk=int(value), active=True).first()


def _vendor_form(request, vendor: Vendor, *, created: bool):
    form = VendorForm(request.POST or None, instance=vendor, organization_id=request.membership.organization_id)

    def save() -> Vendor:
        saved = vendor_save(vendor=form.instance)
        # The conduit flag decides whether the vendor is a business associate at all.
        schedule_compliance_run(organization_id=saved.organization_id)
        return saved

    saved = save_with_service(
        request, form, save, message=lambda v: f"Vendor \u201c{v.legal_name}\u201d {'added' if created else 'saved'}."
    )
    if saved is not None:
        at = _facility_to_engage(request) if created else None
        if at is not None:
            # "Add a vendor here" on a facility page: go on to the vendor's engagement there.
            return redirect(f"{reverse('vendors:engagement_create', args=[saved.pk])}?facility={at.pk}")
        return redirect("vendors:detail", pk=saved.pk)
    return render_form(request, "vendors/form.html", {"form": form, "vendor": vendor, "created": created})


# --- engagements ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def engagement_create(request, vendor_pk: int):
    vendor = get_restricted_object_or_404(Vendor, request, pk=vendor_pk, action=Action.CHANGE)
    return _engagement_form(request, Engagement(vendor=vendor), created=True)


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def engagement_update(request, pk: int):
    engagement = get_restricted_object_or_404(
        Engagement.objects.select_related("vendor", "facility"), request, pk=pk, action=Action.CHANGE
    )
    return _engagement_form(request, engagement, created=False)


def _engagement_form(request, engagement: Engagement, *, created: bool):
    vendor = engagement.vendor
    at = _facility_to_engage(request) if created else None
    initial = {"facility": at} if at is not None else None
    form = EngagementForm(request.POST or None, instance=engagement, user=request.user, initial=initial)

    def save() -> Engagement:
        saved = engagement_save(engagement=form.instance)
        schedule_compliance_run(organization_id=vendor.organization_id)
        return saved

    saved = save_with_service(
        request, form, save, message=lambda e: f"Engagement at {e.facility.name} {'added' if created else 'saved'}."
    )
    if saved is not None:
        return redirect("vendors:detail", pk=vendor.pk)
    return render_form(
        request,
        "vendors/engagement_form.html",
        {"form": form, "vendor": vendor, "engagement": engagement, "created": created},
    )


# --- subcontractors -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def subcontractor_create(request, vendor_pk: int):
    vendor = get_restricted_object_or_404(Vendor, request, pk=vendor_pk, action=Action.CHANGE)
    return _subcontractor_form(request, SubcontractorLink(vendor=vendor), created=True)


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def subcontractor_update(request, pk: int):
    link = get_restricted_object_or_404(
        SubcontractorLink.objects.select_related("vendor", "subcontractor"), request, pk=pk, action=Action.CHANGE
    )
    return _subcontractor_form(request, link, created=False)


def _subcontractor_form(request, link: SubcontractorLink, *, created: bool):
    vendor = link.vendor
    form = SubcontractorLinkForm(
        request.POST or None, request.FILES or None, instance=link, user=request.user, vendor=vendor
    )

    def save() -> SubcontractorLink:
        saved = subcontractor_link_save(link=form.instance)
        schedule_compliance_run(organization_id=vendor.organization_id)
        return saved

    saved = save_with_service(
        request, form, save, message=lambda s: f"Subcontractor {s.subcontractor} {'added' if created else 'saved'}."
    )
    if saved is not None:
        return redirect("vendors:detail", pk=vendor.pk)
    return render_form(
        request, "vendors/subcontractor_form.html", {"form": form, "vendor": vendor, "link": link, "created": created}
    )


@require_GET
@action_required(Action.VIEW)
def attestation_download(request, pk: int):
    """A subcontractor link's attestation file, for users who may see the vendor; every download is
    recorded (45 CFR 164.312(b) audit controls)."""
    link = get_restricted_object_or_404(
        SubcontractorLink.objects.select_related("vendor", "subcontractor"), request, pk=pk
    )
    if not link.attestation_file:
        raise Http404("This subcontractor has no attestation file.")
    try:
        handle = link.attestation_file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The stored file is missing.") from exc
    access_log_record(
        request=request,
        action=AccessAction.DOWNLOAD,
        obj=link,
        description=f"Downloaded the attestation of {link.subcontractor} as subcontractor of {link.vendor}",
    )
    name = link.attestation_file.name.rsplit("/", 1)[-1]
    response = FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


# --- export ---------------------------------------------------------------------------------------

EXPORT_HEADERS = [*importing.COLUMN_NAMES, "baa_status"]


@require_GET
@action_required(Action.VIEW)
def vendor_export(request):
    """The inventory shown by the list's filters, one row per engagement, in the import's columns.

    Every export is recorded in the access log (45 CFR 164.312(b)); cells are safe against formula
    injection (baatracker.spreadsheets).
    """
    fmt = request.GET.get("format", SpreadsheetFormat.XLSX)
    if fmt not in SpreadsheetFormat.values:
        fmt = SpreadsheetFormat.XLSX
    vendors = list(_filtered(request).qs)
    access_log_record(
        request=request,
        action=AccessAction.EXPORT,
        obj=request.membership.organization,
        description=f"Exported the vendor inventory ({len(vendors)} vendors, {fmt.upper()})",
    )
    rows = [row + [selectors.BaaStatus(vendor.baa_status).label] for vendor in vendors for row in _rows_of(vendor)]
    return spreadsheet_response(
        fmt=fmt,
        filename="vendor-inventory",
        sheets=[Sheet(title="Vendor inventory", headers=EXPORT_HEADERS, rows=rows)],
    )


def _rows_of(vendor: Vendor):
    return list(selectors.inventory_rows([vendor]))


# --- import ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def vendor_import(request):
    """Upload -> preview (every bad row listed, nothing saved) -> confirm (all rows or none)."""
    template = request.GET.get("template")
    if request.method == "GET" and template in SpreadsheetFormat.values:
        return spreadsheet_response(
            fmt=template,
            filename="vendor-inventory-template",
            headers=list(importing.COLUMN_NAMES),
            rows=importing.template_rows(),
        )
    if request.method == "POST" and "cancel" in request.POST:
        _forget(request, request.POST.get("token", ""))
        messages.info(request, "Import cancelled; nothing was saved.")
        return redirect("vendors:import")
    if request.method == "POST" and "confirm" in request.POST:
        return _import_confirm(request)
    if request.method == "POST":
        return _import_preview(request)
    return _render_import(request)


def _render_import(request, *, error: str = "", status: int = 200, **context) -> HttpResponse:
    return render(
        request,
        "vendors/import.html",
        {
            "columns": importing.COLUMNS,
            "error": error,
            "max_megabytes": MAX_IMPORT_BYTES // (1024 * 1024),
            "max_rows": importing.MAX_ROWS,
            **context,
        },
        status=status,
    )


def _import_preview(request) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        return _render_import(request, error="Choose a CSV or Excel (.xlsx) file to upload.", status=400)
    if upload.size > MAX_IMPORT_BYTES:
        return _render_import(
            request,
            error=f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it into smaller files.",
            status=400,
        )
    data = upload.read()
    try:
        sheet = importing.read_inventory(_bytes_file(data), name=upload.name)
    except SpreadsheetError as exc:
        return _render_import(request, error=str(exc), status=400)
    result = importing.import_inventory(sheet=sheet, user=request.user, membership=request.membership, commit=False)
    token = ""
    if result.ok:
        token = importing.stash_upload(data=data, original_name=upload.name, user=request.user)
        request.session[IMPORT_SESSION_KEY] = [*request.session.get(IMPORT_SESSION_KEY, [])[-4:], token]
    return _render_import(request, result=result, token=token, file_name=upload.name, status=200 if result.ok else 400)


def _import_confirm(request) -> HttpResponse:
    token = request.POST.get("token", "")
    stashed = importing.load_upload(token=token, user=request.user)
    if token not in request.session.get(IMPORT_SESSION_KEY, []) or stashed is None:
        return _render_import(
            request,
            error="This import is no longer available (it expired or was already saved). Upload the file again.",
            status=400,
        )
    data, name = stashed
    try:
        sheet = importing.read_inventory(_bytes_file(data), name=name)
    except SpreadsheetError as exc:  # pragma: no cover - it was read at the preview
        return _render_import(request, error=str(exc), status=400)
    result = importing.import_inventory(sheet=sheet, user=request.user, membership=request.membership, commit=True)
    if not result.ok:
        # The inventory changed since the preview (e.g. someone added the same engagement): nothing saved.
        return _render_import(request, result=result, token="", file_name=name, status=400)
    _forget(request, token)
    schedule_compliance_run(organization_id=request.membership.organization_id)
    messages.success(
        request,
        f"Imported {result.total_rows} rows from {name}: {result.vendors_created} new vendors and "
        f"{result.engagements_created} new engagements. Findings are being updated.",
    )
    return redirect(reverse("vendors:list"))


def _forget(request, token: str) -> None:
    importing.discard_upload(token=token)
    tokens = [t for t in request.session.get(IMPORT_SESSION_KEY, []) if t != token]
    request.session[IMPORT_SESSION_KEY] = tokens


def _bytes_file(data: bytes):
    import io

    return io.BytesIO(data)
