"""Calendar feeds: a secret per-user iCalendar URL (revocable) and an .ics file per agreement, with the
dates the rest of the product derives, in the user's scope."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from agreements.services import renewal_date, renewal_notice_deadline
from calendars.events import EVENT_SOURCES, events_for
from calendars.models import CalendarFeed
from calendars.services import calendar_feed_create, calendar_feed_revoke
from checklists.models import ChecklistItem, ItemStatus
from organizations.models import AccessAction, AccessLogEntry, Membership, Role
from readers.models import LicenseStatus
from tests import factories as f
from tests.support_matrix import BACKEND, assert_matrix, expected_read, matrix_world  # noqa: F401
from vendors.models import VendorCategory
from vendors.services import engagement_save


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security


@pytest.fixture
def world(db):
    today = timezone.localdate()
    org = f.organization(name="Calendar Imaging")
    own, other = f.facility(org, name="Calendar Center"), f.facility(org, name="Hidden Center")
    pacs = f.vendor(org, legal_name="Calendar PACS")
    f.engagement(pacs, own)
    expiring = f.agreement(pacs, facilities=[own], title="PACS BAA", expires_on=today + datetime.timedelta(days=120))
    renewing = f.agreement(
        pacs,
        facilities=[own],
        title="Renewing BAA",
        expires_on=today - datetime.timedelta(days=20),  # the nightly roll has not run: renewal_date rolls it
        auto_renews=True,
        renewal_term_months=12,
        renewal_notice_days=60,
    )
    hidden_vendor = f.vendor(org, legal_name="Hidden Archive")
    f.engagement(hidden_vendor, other)
    hidden = f.agreement(
        hidden_vendor, facilities=[other], title="Hidden BAA", expires_on=today + datetime.timedelta(days=90)
    )
    f.agreement(pacs, facilities=[own], title="Evergreen BAA")
    tele = f.vendor(org, legal_name="Calendar Reads", category=VendorCategory.TELERADIOLOGY)
    engagement = engagement_save(engagement=f.engagement(tele, own, service_description="Night reads"))
    item = ChecklistItem.objects.get(checklist__engagement=engagement, number=4)
    item.status = ItemStatus.IN_PROGRESS
    item.next_review_on = today + datetime.timedelta(days=45)
    item.save()
    limited = f.user(org, role=Role.COMPLIANCE_OFFICER, facilities=[own], username="cal_limited")
    admin = f.user(org, role=Role.ADMIN, username="cal_admin")
    return {
        "today": today,
        "expiring": expiring,
        "renewing": renewing,
        "hidden": hidden,
        "item": item,
        "telerad": engagement,
        "other": other,
        "limited": limited,
        "admin": admin,
    }


def fetch(url: str) -> Calendar:
    response = Client().get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def dated(calendar: Calendar) -> dict[str, datetime.date]:
    return {str(event["summary"]): event.decoded("dtstart") for event in calendar.walk("VEVENT")}


def test_the_feed_shows_the_derived_dates_in_the_users_scope(world):
    feed, secret = calendar_feed_create(user=world["limited"])
    calendar = fetch(reverse("calendars:feed", args=[secret]))
    events = dated(calendar)
    renewing = world["renewing"]
    renews_on = renewal_date(renewing.expires_on, term_months=12, as_of=world["today"])
    assert renews_on > world["today"]
    assert events["BAA expires: PACS BAA (Calendar PACS)"] == world["expiring"].expires_on
    assert events["BAA renews automatically: Renewing BAA (Calendar PACS)"] == renews_on
    assert events["Last day to give renewal notice: Renewing BAA (Calendar PACS)"] == renewal_notice_deadline(
        renews_on, notice_days=60
    )
    assert events["Checklist review due: item 4, Calendar Reads at Calendar Center"] == world["item"].next_review_on
    assert not any("Hidden" in summary for summary in events)  # another facility's agreement
    assert not any("Evergreen" in summary for summary in events)
    uids = [str(event["uid"]) for event in calendar.walk("VEVENT")]
    assert len(uids) == len(set(uids)) == 4
    assert fetch(reverse("calendars:feed", args=[secret])).walk("VEVENT")[0]["uid"] == calendar.walk("VEVENT")[0]["uid"]
    alarm = calendar.walk("VALARM")[0]
    assert alarm.decoded("trigger") < datetime.timedelta(0)
    entries = AccessLogEntry.objects.filter(action=AccessAction.EXPORT, object_id=str(feed.pk))
    assert entries.count() == 2 and all("4 events" in entry.description for entry in entries)
    assert CalendarFeed.objects.get(pk=feed.pk).last_fetched_at is not None


def test_the_feed_shows_the_readers_license_and_privilege_expiries_in_the_users_scope(world):
    today, engagement = world["today"], world["telerad"]
    in_days = lambda n: today + datetime.timedelta(days=n)  # noqa: E731
    reads = f.radiologist(engagement.vendor, first_name="Rita", last_name="Reads")
    texas = f.state_license(reads, "TX", expires_on=in_days(200))
    f.state_license(reads, "OK", expires_on=in_days(50))  # renewed below: that expiry is no longer due
    renewal = f.state_license(reads, "OK", issued_on=in_days(-5), expires_on=in_days(800))
    f.state_license(reads, "LA", expires_on=in_days(40), status=LicenseStatus.SUSPENDED)
    grant = f.privilege(reads, engagement.facility, expires_on=in_days(300))
    f.privilege(reads, engagement.facility, granted_on=in_days(-800), expires_on=in_days(-60))  # long past
    gone = f.radiologist(engagement.vendor, first_name="Gone", last_name="Away", roster_ends_on=in_days(-1))
    f.state_license(gone, "TX", expires_on=in_days(100))
    org = engagement.vendor.organization
    elsewhere = f.vendor(org, legal_name="Hidden Reads", category=VendorCategory.TELERADIOLOGY)
    f.engagement(elsewhere, world["other"])
    hidden = f.radiologist(elsewhere, first_name="Hidden", last_name="Reader")
    f.state_license(hidden, "TX", expires_on=in_days(100))
    f.privilege(hidden, world["other"], expires_on=in_days(100))

    _, secret = calendar_feed_create(user=world["limited"])
    events = dated(fetch(reverse("calendars:feed", args=[secret])))
    assert events["State license expires: Rita Reads, Texas (Calendar Reads)"] == texas.expires_on
    assert events["State license expires: Rita Reads, Oklahoma (Calendar Reads)"] == renewal.expires_on
    assert events["Privileges end: Rita Reads at Calendar Center (Calendar Reads)"] == grant.expires_on
    readers = {summary for summary in events if summary.startswith(("State license", "Privileges end"))}
    assert len(readers) == 3  # no suspended license, no past privileges, nobody off the roster or hidden
    _, secret = calendar_feed_create(user=world["admin"])
    events = dated(fetch(reverse("calendars:feed", args=[secret])))
    assert events["State license expires: Hidden Reader, Texas (Hidden Reads)"] == in_days(100)
    assert events["Privileges end: Hidden Reader at Hidden Center (Hidden Reads)"] == in_days(100)
    assert not any("Gone Away" in summary for summary in events)


def test_an_administrator_sees_every_facility(world):
    _, secret = calendar_feed_create(user=world["admin"])
    assert "BAA expires: Hidden BAA (Hidden Archive)" in dated(fetch(reverse("calendars:feed", args=[secret])))


def test_the_feed_stops_when_revoked_replaced_or_the_access_ends(world):
    feed, secret = calendar_feed_create(user=world["limited"])
    url = reverse("calendars:feed", args=[secret])
    assert "sha" not in secret and secret not in str(CalendarFeed.objects.filter(pk=feed.pk).values().get())
    Membership.objects.filter(user=world["limited"]).update(
        role=Role.AUDITOR, access_expires_on=world["today"] - datetime.timedelta(days=1)
    )
    assert Client().get(url).status_code == 404
    Membership.objects.filter(user=world["limited"]).update(role=Role.COMPLIANCE_OFFICER, access_expires_on=None)
    assert Client().get(url).status_code == 200
    _, new_secret = calendar_feed_create(user=world["limited"])  # replacing revokes the old URL
    assert Client().get(url).status_code == 404
    new = CalendarFeed.objects.active().get(user=world["limited"])
    calendar_feed_revoke(feed=new)
    assert Client().get(reverse("calendars:feed", args=[new_secret])).status_code == 404
    assert Client().get(reverse("calendars:feed", args=["cal_guessed"])).status_code == 404


def test_the_feed_costs_the_same_queries_whatever_the_data(world):
    _, secret = calendar_feed_create(user=world["admin"])
    url = reverse("calendars:feed", args=[secret])
    Client().get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert Client().get(url).status_code == 200
        return len(captured)

    before = count()
    pacs = world["expiring"].vendor
    for n in range(4):
        f.agreement(pacs, title=f"More {n}", expires_on=world["today"] + datetime.timedelta(days=30 + n))
        person = f.radiologist(world["telerad"].vendor)
        f.state_license(person, "TX", expires_on=world["today"] + datetime.timedelta(days=60 + n))
        f.privilege(person, world["telerad"].facility, expires_on=world["today"] + datetime.timedelta(days=90 + n))
    assert count() == before


def test_the_calendar_page_creates_a_url_shown_once_and_revokes_it(world):
    client = Client()
    client.force_login(world["limited"], backend=BACKEND)
    response = client.post(reverse("calendars:page"))
    url = response.context["feed_url"]
    assert url.startswith("http://testserver/calendar/feed/cal_")
    page = client.get(reverse("calendars:page")).content.decode()
    assert url not in page and "Coming up" in page and "PACS BAA" in page
    assert client.post(reverse("calendars:revoke")).status_code == 302
    assert Client().get(url.removeprefix("http://testserver")).status_code == 404


def test_the_agreement_file_is_guarded_like_the_agreement_page(client, matrix_world):  # noqa: F811
    agreements = {
        scope: f.agreement(
            matrix_world.vendor_in(scope), facilities=[matrix_world.facility_in(scope)], expires_on=f.days(400)
        )
        for scope in ("own_facility", "other_facility", "other_org")
    }
    assert_matrix(
        client,
        matrix_world,
        url=lambda scope: reverse("calendars:agreement", args=[agreements[scope].pk]),
        expected=expected_read,
    )
    own = agreements["own_facility"]
    client.force_login(matrix_world.users["viewer"], backend=BACKEND)
    calendar = Calendar.from_ical(client.get(reverse("calendars:agreement", args=[own.pk])).content)
    assert [event.decoded("dtstart") for event in calendar.walk("VEVENT")] == [own.expires_on]
    assert AccessLogEntry.objects.filter(action=AccessAction.DOWNLOAD, object_id=str(own.pk)).exists()


def test_new_kinds_of_dates_plug_in_as_event_sources(world):
    # The extension point the radiologists' license and privilege expiries (issue #13) use.
    assert set(EVENT_SOURCES) >= {"agreements", "checklist_reviews", "reader_licenses", "reader_privileges"}
    assert all(
        event.on >= world["today"] - datetime.timedelta(days=31) for event in events_for(world["admin"], world["today"])
    )
