"""The calendar page (create or revoke the secret feed URL), the feed itself, and one agreement's .ics."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agreements.models import BusinessAssociateAgreement
from calendars.events import EVENT_SOURCES, agreement_events, events_for
from calendars.ics import to_ics
from calendars.models import CalendarFeed
from calendars.services import calendar_feed_create, calendar_feed_fetched, calendar_feed_revoke, secret_digest
from organizations.middleware import membership_not_required
from organizations.mixins import action_required, get_restricted_object_or_404
from organizations.models import AccessAction
from organizations.querysets import Action
from organizations.selectors import active_membership
from organizations.services import access_log_record

ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"


def _ics_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=ICS_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@action_required(Action.VIEW)
def calendar_page(request):
    feed = CalendarFeed.objects.restrict(request.user, Action.VIEW).active().first()
    feed_url = None
    if request.method == "POST":
        feed, secret = calendar_feed_create(user=request.user)
        feed_url = request.build_absolute_uri(reverse("calendars:feed", args=[secret]))
        messages.success(request, "New calendar feed URL created. Copy it now: it is shown only once.")
    today = timezone.localdate()
    response = render(
        request,
        "calendars/calendar.html",
        {
            "feed": feed,
            "feed_url": feed_url,
            "sources": [source.label for source in EVENT_SOURCES.values()],
            "upcoming": events_for(request.user, today)[:20],
        },
    )
    response["Cache-Control"] = "no-store"  # a new feed URL is on this page once: never in a cache
    return response


@require_POST
@action_required(Action.VIEW)
def calendar_revoke(request):
    for feed in CalendarFeed.objects.restrict(request.user, Action.VIEW).active():
        calendar_feed_revoke(feed=feed)
    messages.success(request, "Calendar feed revoked: calendar clients can no longer fetch it.")
    return redirect("calendars:page")


@require_GET
@login_not_required
@membership_not_required
def calendar_feed(request, secret: str):
    """The feed, for calendar clients (no session): the secret is the credential. Anything that does not
    grant access today (unknown, revoked, the owner's access ended or moved) is a 404, saying nothing."""
    feed = CalendarFeed.objects.active().select_related("user").filter(secret_hash=secret_digest(secret)).first()
    if feed is None:
        raise Http404
    user = feed.user
    membership = active_membership(user)
    if membership is None or membership.organization_id != feed.organization_id:
        raise Http404
    events = events_for(user, timezone.localdate())
    calendar_feed_fetched(feed=feed, ip_address=request.META.get("REMOTE_ADDR"), events=len(events))
    return _ics_response(to_ics(events, name=f"BAA Tracker: {membership.organization.name}"), "baa-tracker.ics")


@require_GET
@action_required(Action.VIEW)
def agreement_ics(request, pk: int):
    """One agreement's dates as an .ics file to import; recorded in the access log as a download."""
    agreement = get_restricted_object_or_404(
        BusinessAssociateAgreement.objects.select_related("vendor"), request, pk=pk
    )
    events = list(agreement_events(agreement, timezone.localdate()))
    access_log_record(
        request=request,
        action=AccessAction.DOWNLOAD,
        obj=agreement,
        description=f"Downloaded the calendar file of \u201c{agreement.title}\u201d ({len(events)} events)",
    )
    return _ics_response(to_ics(events, name=agreement.title), f"baa-{agreement.pk}.ics")
