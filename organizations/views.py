"""The organization's administration: members (administrators only, ADMINISTER) and the audit log
(administrators, compliance officers and auditors, AUDIT).

Members of another organization are never found here (404): every lookup is scoped to the
administrator's own organization, which is the tenant boundary of the permission gate.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from baatracker.forms import add_service_errors
from organizations import audit_export, selectors, services
from organizations.forms import ActivityFilterForm, MemberCreateForm, MemberUpdateForm
from organizations.middleware import membership_not_required
from organizations.mixins import action_required
from organizations.models import AccessAction, Membership
from organizations.querysets import Action
from organizations.services import access_log_record

ACTIVITY_PER_PAGE = 50


@require_GET
@action_required(Action.ADMINISTER)
def members(request):
    from identity.selectors import users_with_two_factor

    memberships = list(selectors.members_of(request.membership.organization_id))
    today = timezone.localdate()
    for member in memberships:  # the access rule of active_membership, not compared in the template
        member.access_ended = not member.access_in_force_on(today)
    context = {
        "memberships": memberships,
        "two_factor_user_ids": users_with_two_factor([m.user_id for m in memberships]),
    }
    return render(request, "organizations/members.html", context)


@require_http_methods(["GET", "POST"])
@action_required(Action.ADMINISTER)
def member_create(request):
    organization = request.membership.organization
    form = MemberCreateForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.member_create(
                organization=organization,
                username=data["username"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password"],
                role=data["role"],
                facilities=list(data["facilities"]),
                access_expires_on=data["access_expires_on"],
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                add_service_errors(form, error)
            else:
                form.add_error("password", error)
        else:
            messages.success(
                request,
                f"{membership.user.get_username()} can now sign in. Give them the initial password in person or "
                "by phone, and ask them to change it.",
            )
            return redirect("organizations:members")
    status = 400 if form.is_bound else 200
    return render(request, "organizations/member_form.html", {"form": form, "creating": True}, status=status)


def _member_of_my_organization(request, pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"), pk=pk, organization=request.membership.organization
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.ADMINISTER)
def member_update(request, pk: int):
    membership = _member_of_my_organization(request, pk)
    initial = {
        "role": membership.role,
        "facilities": list(membership.facilities.all()),
        "access_expires_on": membership.access_expires_on,
    }
    form = MemberUpdateForm(request.POST or None, initial=initial, organization=membership.organization)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.member_update(
                membership=membership,
                role=data["role"],
                facilities=list(data["facilities"]),
                access_expires_on=data["access_expires_on"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"{membership.user.get_username()} is now {membership.get_role_display().lower()}."
            )
            return redirect("organizations:members")
    status = 400 if form.is_bound else 200
    return render(
        request,
        "organizations/member_form.html",
        {"form": form, "member": membership, "creating": False},
        status=status,
    )


@require_POST
@action_required(Action.ADMINISTER)
def member_set_active(request, pk: int):
    membership = _member_of_my_organization(request, pk)
    active = request.POST.get("active") == "1"
    try:
        services.member_set_active(membership=membership, active=active, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        state = "reactivated" if active else "deactivated: they can no longer sign in"
        messages.success(request, f"{membership.user.get_username()} {state}.")
    return redirect("organizations:members")


def _activity_rows(request):
    """The audit log as filtered by the reader, through the gate: own organization, own facility limits."""
    organization = request.membership.organization
    form = ActivityFilterForm(request.GET, organization=organization)
    form.is_valid()  # an unknown user or record, or a bad date, is ignored (the form shows why)
    data = form.cleaned_data
    user = data.get("user")
    rows = selectors.activity_log(
        organization.pk,
        user_id=user.pk if user else None,
        source=data.get("source") or "",
        since=data.get("since"),
        until=data.get("until"),
        user=request.user,
    )
    return form, rows


@require_GET
@action_required(Action.AUDIT)
def activity(request):
    """The audit log: administrators, compliance officers and auditors (45 CFR 164.308(a)(1)(ii)(D))."""
    form, rows = _activity_rows(request)
    page = Paginator(rows, ACTIVITY_PER_PAGE).get_page(request.GET.get("page"))
    entries = selectors.activity_page_details(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "entries": entries, "export_query": query.urlencode()}
    return render(request, "organizations/activity.html", context)


AUDIT_EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


@require_GET
@action_required(Action.AUDIT)
def activity_export(request, fmt: str):
    """The filtered audit log as CSV (for people; formula-injection safe) or JSON lines (for a SIEM),
    streamed in chunks so a long log never sits in memory. The export itself is recorded."""
    if fmt not in AUDIT_EXPORT_FORMATS:
        raise Http404
    _, rows = _activity_rows(request)
    access_log_record(
        request=request,
        action=AccessAction.EXPORT,
        obj=request.membership.organization,
        description=f"Exported the audit log ({fmt.upper()}{'; ' + request.GET.urlencode() if request.GET else ''})",
    )
    lines = audit_export.csv_lines(rows) if fmt == "csv" else audit_export.json_lines(rows)
    response = StreamingHttpResponse(lines, content_type=AUDIT_EXPORT_FORMATS[fmt])
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@require_GET
@membership_not_required
def keepalive(request):
    """Renews the session (the "Stay signed in" button of the idle-logoff warning): always, not at
    most once a minute as other requests do (baatracker/sessions.py)."""
    request.session.modified = True
    return JsonResponse({"ok": True})
