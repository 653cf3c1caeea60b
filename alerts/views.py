"""Pages of the alerts: the organization's alerts (through the permission gate), each person's
preferences, and the unsubscribe link of every email, which works without signing in."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import selectors
from alerts.emails import (
    UNSUBSCRIBE_MAX_AGE_DAYS,
    unsubscribe_token_expired,
    user_id_from_unsubscribe_token,
    vendor_from_unsubscribe_token,
    vendor_unsubscribe_token_expired,
)
from alerts.forms import AlertFilterForm, AlertPreferenceForm
from alerts.models import Alert
from alerts.schedule import alert_schedule
from alerts.services import (
    ALERT_ROLES,
    alert_preference_for,
    alert_preference_unsubscribe,
    alert_preference_update,
    alert_retry,
    vendor_contact_unsubscribe,
)
from organizations.middleware import membership_not_required
from organizations.mixins import action_required, can, get_restricted_object_or_404
from organizations.querysets import Action

ALERTS_PER_PAGE = 50


@require_GET
@action_required(Action.VIEW)
def alert_list(request):
    form = AlertFilterForm(request.GET, recipients=selectors.alert_recipients_of(request.user))
    alerts = selectors.filter_alerts(selectors.alerts_visible_to(request.user), **form.filters())
    page = Paginator(alerts, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    is_admin = can(request, Action.ADMINISTER)
    return render(
        request,
        "alerts/list.html",
        {
            "form": form,
            "page": page,
            "counts": selectors.alert_counts(Alert.objects.restrict(request.user, Action.VIEW)),
            "last_run": selectors.last_dispatch(request.membership.organization_id),
            "schedule": alert_schedule(),
            "can_change": can(request, Action.CHANGE),
            "refused": selectors.refused_addresses(request.user) if is_admin else None,
        },
    )


@require_POST
@action_required(Action.CHANGE)
def alert_retry_view(request, pk: int):
    alert = get_restricted_object_or_404(Alert, request, pk=pk, action=Action.CHANGE)
    try:
        alert_retry(alert=alert)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The alert to {alert.email or alert.recipient} will be sent again in a moment.")
    return redirect("alerts:list")


@require_http_methods(["GET", "POST"])
@action_required(Action.VIEW)
def preferences(request):
    preference = alert_preference_for(request.user)
    form = AlertPreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        alert_preference_update(user=request.user, **form.cleaned_data)
        messages.success(request, "Your alert preferences are saved.")
        return redirect("alerts:preferences")
    return render(
        request,
        "alerts/preferences.html",
        {
            "form": form,
            "receives_alerts": request.membership.role in ALERT_ROLES,
            "has_email": bool(request.user.email),
        },
        status=400 if form.errors else 200,
    )


@login_not_required
@membership_not_required
@csrf_exempt  # RFC 8058 one-click unsubscribe: mail clients POST without a CSRF token; the signed token is the key
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """Turn off every alert email of the one user the signed token names. GET only asks (link scanners
    follow links); POST, from the page or a mail client's one-click button, does it."""
    user_id = user_id_from_unsubscribe_token(token)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
    if user is None:
        context = {"invalid": True, "expired": unsubscribe_token_expired(token), "days": UNSUBSCRIBE_MAX_AGE_DAYS}
        return render(request, "alerts/unsubscribe.html", context, status=404)
    if request.method == "POST":
        alert_preference_unsubscribe(user_id=user.pk)
        return render(request, "alerts/unsubscribe.html", {"done": True, "email": _masked(user.email)})
    return render(request, "alerts/unsubscribe.html", {"token": token, "email": _masked(user.email)})


@login_not_required
@membership_not_required
@csrf_exempt  # RFC 8058 one-click unsubscribe, as for the members' link; the signed token is the key
@require_http_methods(["GET", "POST"])
def vendor_unsubscribe(request, token: str):
    """Stop the credential reminders to a vendor's contact (the link of those reminders). GET asks, POST
    does it, and only while the address the token names is still the vendor's contact."""
    from vendors.models import Vendor

    named = vendor_from_unsubscribe_token(token)
    vendor = Vendor.objects.filter(pk=named[0]).first() if named else None
    if vendor is None:
        context = {
            "invalid": True,
            "expired": vendor_unsubscribe_token_expired(token),
            "days": UNSUBSCRIBE_MAX_AGE_DAYS,
        }
        return render(request, "alerts/vendor_unsubscribe.html", context, status=404)
    email = named[1]
    current = vendor.contact_email.lower() == email.lower()
    context = {"token": token, "email": _masked(email), "vendor_name": vendor.legal_name, "current": current}
    if request.method == "POST" and current:
        vendor_contact_unsubscribe(vendor_id=vendor.pk, email=email)
        context["done"] = True
    return render(request, "alerts/vendor_unsubscribe.html", context)


def _masked(email: str) -> str:
    """j***@example.org: enough to recognise one's address, not to harvest it from a forwarded link."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else ""
