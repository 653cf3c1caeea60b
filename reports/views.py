"""Pages of the reports app. Every report is found through the permission gate; others answer 404."""

from __future__ import annotations

import hashlib

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from organizations.mixins import Action, action_required, get_restricted_object_or_404
from organizations.models import AccessAction, AccessLogEntry
from organizations.services import access_log_record
from reports.forms import AuditReportForm, VerifyForm
from reports.models import AuditReport, ReportStatus
from reports.selectors import reports_visible_to
from reports.services import audit_report_request

REPORTS_PER_PAGE = 25


def _visible_report(request, pk: int) -> AuditReport:
    return get_restricted_object_or_404(reports_visible_to(request.user), request, pk=pk)


@action_required(Action.VIEW)
@require_GET
def report_list(request):
    return _render_list(request, AuditReportForm(user=request.user))


def _render_list(request, form: AuditReportForm, status: int = 200):
    page = Paginator(reports_visible_to(request.user), REPORTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "reports/list.html", {"form": form, "page": page}, status=status)


@action_required(Action.VIEW)
@require_POST
def report_create(request):
    """Anyone who may see a facility may ask for its report, viewers and auditors included: a report
    changes no record, and a surveyor's auditor is precisely who needs one."""
    form = AuditReportForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    report = audit_report_request(
        requested_by=request.user,
        facility=form.cleaned_data["facility"],
        paper_size=form.cleaned_data["paper_size"],
        include_signed_documents=form.cleaned_data["include_signed_documents"],
        as_of=form.cleaned_data.get("as_of"),
    )
    access_log_record(
        request=request,
        action=AccessAction.GENERATE,
        obj=report,
        description=f"Requested audit report {report.pk} ({report.scope_label}, as of {report.as_of:%Y-%m-%d})",
    )
    return redirect("reports:detail", pk=report.pk)


@action_required(Action.VIEW)
@require_GET
def report_detail(request, pk: int):
    report = _visible_report(request, pk)
    # Downloads and verifications of this report, through the access log's own gate.
    history = (
        AccessLogEntry.objects.restrict(request.user, Action.VIEW)
        .filter(object_type=AuditReport._meta.label_lower, object_id=str(report.pk))
        .select_related("user")[:100]
    )
    return render(request, "reports/detail.html", {"report": report, "history": history})


@action_required(Action.VIEW)
@require_GET
def report_status(request, pk: int):
    """The small JSON the detail page polls while the report is generated."""
    report = _visible_report(request, pk)
    return JsonResponse(
        {
            "id": report.pk,
            "status": report.status,
            "status_label": report.get_status_display(),
            "progress": report.progress,
            # Pages laid out so far while running (WeasyPrint's page events), the page count once done.
            "pages": report.page_count,
            "finished": report.is_finished,
            "error": report.error if report.status == ReportStatus.FAILED else "",
            "download_url": reverse("reports:download", args=[report.pk])
            if report.status == ReportStatus.DONE
            else None,
        }
    )


@action_required(Action.VIEW)
@require_GET
def report_download(request, pk: int):
    """The stored PDF, as generated; every download is recorded (45 CFR 164.312(b))."""
    report = _visible_report(request, pk)
    if report.status != ReportStatus.DONE:
        raise Http404("This report is not ready.")
    access_log_record(
        request=request,
        action=AccessAction.DOWNLOAD,
        obj=report,
        description=f"Downloaded audit report {report.pk} ({report.scope_label}), SHA-256 {report.sha256[:12]}",
    )
    response = FileResponse(
        report.file.open("rb"), as_attachment=True, filename=report.download_name, content_type="application/pdf"
    )
    response["Cache-Control"] = "no-store"
    return response


@action_required(Action.VIEW)
@require_http_methods(["GET", "POST"])
def report_verify(request):
    """Is this PDF one of ours? The SHA-256 of the upload against the reports the user may see."""
    membership = request.membership
    result = None
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES)
        if form.is_valid():
            digest = hashlib.sha256()
            for chunk in form.cleaned_data["file"].chunks():
                digest.update(chunk)
            sha256 = digest.hexdigest()
            match = reports_visible_to(request.user).done().filter(sha256=sha256).order_by("pk").first()
            result = {"sha256": sha256, "report": match, "name": form.cleaned_data["file"].name}
            if match is not None:
                access_log_record(
                    request=request,
                    action=AccessAction.VERIFY,
                    obj=match,
                    description=f"Verified a copy of audit report {match.pk}: checksum matches",
                )
            else:
                access_log_record(
                    request=request,
                    action=AccessAction.VERIFY,
                    obj=membership.organization,
                    description=f"Verified a PDF not produced by this system (SHA-256 {sha256[:12]})",
                )
    else:
        form = VerifyForm()
    return render(request, "reports/verify.html", {"form": form, "result": result}, status=400 if form.errors else 200)
