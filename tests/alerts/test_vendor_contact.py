"""Reminders to a teleradiology vendor's contact before a radiologist's license, board certification or
privileges lapse (issue #13 item 5): planned with the officers' reminders at the same thresholds, sent
by the same dispatcher (claims, uncertain resends, Message-ID), worded for the vendor, and stopped by
an officer on the roster page or by the contact's unsubscribe link."""

from __future__ import annotations

import datetime
import zoneinfo
from collections import Counter

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import emails
from alerts.models import Alert, AlertKind, DeliveryMode, SendStatus, VendorContactPreference
from alerts.services import (
    VENDOR_CONTACT_LEFT,
    alerts_dispatch,
    alerts_plan,
    vendor_contact_reminders_set,
)
from compliance.models import Finding, FindingKind
from organizations.models import Role
from tests import factories as f
from tests.alerts.conftest import make_world, run_rules
from vendors.models import VendorCategory

pytestmark = pytest.mark.django_db

LEAD_DAYS = [90, 60, 30, 14, 7, 1]
CONTACT = "credentialing@nighthawk.example"
BACKEND = "django.contrib.auth.backends.ModelBackend"


def at_seven(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(7), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def dispatch(day: datetime.date, *, minutes: int = 0):
    return alerts_dispatch(as_of=day, now=at_seven(day) + datetime.timedelta(minutes=minutes))


def telerad_world(*, contact_email: str = CONTACT, license_in: int | None = 100, suffix: str = ""):
    """make_world plus a teleradiology vendor reading for the imaging center, whose radiologist Grace
    Hopper holds a Texas license expiring in ``license_in`` days."""
    world = make_world(suffix=suffix)
    world.telerad = f.vendor(
        world.org,
        legal_name=f"NightHawk Reads{suffix}",
        category=VendorCategory.TELERADIOLOGY,
        contact_name="Nina Hawk",
        contact_email=contact_email,
    )
    engagement = f.engagement(world.telerad, world.center, service_description="Overnight reads")
    f.agreement(world.telerad, title="NightHawk BAA", facilities=[world.center])
    world.grace = f.radiologist(world.telerad, first_name="Grace", last_name="Hopper", npi="1234567893")
    f.assignment(world.grace, engagement)
    f.privilege(world.grace, world.center)
    if license_in is not None:
        world.license = f.state_license(world.grace, world.center.state, expires_on=f.days(license_in), number="TX-42")
    return world


def vendor_alerts():
    return Alert.objects.filter(vendor_contact__isnull=False)


def to_contact(outbox, address: str = CONTACT):
    return [message for message in outbox if message.to == [address]]


# --- Planning -------------------------------------------------------------------------------------------------


def test_the_contact_is_reminded_once_at_each_threshold_of_the_license_calendar():
    """Day by day for 100 days, each day's dispatch run twice: the contact gets one email at 90, 60, 30,
    14, 7 and 1 days before, on the officers' days, and never a second copy."""
    world = telerad_world(license_in=100)
    contact_days, officer_days = [], []
    for offset in range(0, 101):
        day = f.TODAY + datetime.timedelta(days=offset)
        run_rules(world, day)
        mail.outbox.clear()
        dispatch(day)
        dispatch(day, minutes=5)
        days_left = (world.license.expires_on - day).days
        if to_contact(mail.outbox):
            assert len(to_contact(mail.outbox)) == 1
            contact_days.append(days_left)
        if any("Radiologist credential expiring" in m.subject for m in mail.outbox):
            officer_days.append(days_left)

    assert contact_days == officer_days == LEAD_DAYS
    assert sorted(vendor_alerts().values_list("threshold", flat=True), reverse=True) == LEAD_DAYS
    assert set(vendor_alerts().values_list("status", "email", "delivery", "recipient")) == {
        (SendStatus.SENT, CONTACT, DeliveryMode.IMMEDIATE, None)
    }


def test_the_contact_is_reminded_of_privileges_and_board_certification_too():
    world = telerad_world(license_in=None)
    f.state_license(world.grace, world.center.state)
    world.grace.privileges.update(expires_on=f.days(20))
    world.grace.board_certification_expires_on = f.days(50)
    world.grace.save()
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)

    kinds = Counter(Finding.objects.get(pk=pk).kind for pk in vendor_alerts().values_list("finding", flat=True))
    assert kinds == {FindingKind.READER_PRIVILEGE_EXPIRING: 1, FindingKind.READER_BOARD_EXPIRING: 1}
    assert set(vendor_alerts().values_list("threshold", flat=True)) == {30, 60}


def test_no_vendor_email_without_a_contact_address():
    world = telerad_world(contact_email="", license_in=30)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    assert not vendor_alerts().exists()
    assert {m.to[0] for m in mail.outbox if "Radiologist credential expiring" in m.subject} == {
        world.admin.email,
        world.officer.email,
        world.center_officer.email,
    }


def test_other_alert_kinds_never_go_to_a_vendor_contact():
    world = make_world(expires_in=30, missing=1)
    world.pacs.contact_email = "legal@sectra.example"
    world.pacs.save()
    world.missing_vendors[0].contact_email = "hello@ai.example"
    world.missing_vendors[0].save()
    run_rules(world, f.TODAY)
    assert alerts_plan(as_of=f.TODAY) == 6
    assert not vendor_alerts().exists()


def test_an_officer_can_turn_the_contacts_reminders_off_and_on_again():
    world = telerad_world(license_in=30)
    vendor_contact_reminders_set(vendor=world.telerad, credential_reminders=False, changed_by=world.officer)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    assert not vendor_alerts().exists() and not to_contact(mail.outbox)
    assert Alert.objects.filter(kind=AlertKind.READER_CREDENTIAL).count() == 3  # the officers still are

    vendor_contact_reminders_set(vendor=world.telerad, credential_reminders=True, changed_by=world.officer)
    day = f.days(16)  # 14 days left: the next threshold
    run_rules(world, day)
    mail.outbox.clear()
    dispatch(day)
    assert [m.to for m in to_contact(mail.outbox)] == [[CONTACT]]
    assert list(vendor_alerts().values_list("threshold", flat=True)) == [14]


def test_a_reminder_planned_before_the_opt_out_or_the_address_removal_is_skipped():
    world = telerad_world(license_in=30)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    vendor_contact_reminders_set(vendor=world.telerad, credential_reminders=False)
    summary = dispatch(f.TODAY)
    alert = vendor_alerts().get()
    assert (alert.status, alert.last_error) == (SendStatus.SKIPPED, VENDOR_CONTACT_LEFT)
    assert summary.skipped == 1 and not to_contact(mail.outbox)

    other = telerad_world(license_in=30, suffix="-b")
    run_rules(other, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    other.telerad.contact_email = ""
    other.telerad.save()
    dispatch(f.TODAY, minutes=1)
    assert vendor_alerts().get(vendor_contact=other.telerad).status == SendStatus.SKIPPED


def test_a_corrected_contact_address_is_used_when_the_reminder_goes_out():
    world = telerad_world(license_in=30)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    world.telerad.contact_email = "new-credentialing@nighthawk.example"
    world.telerad.save()
    dispatch(f.TODAY)
    assert len(to_contact(mail.outbox, "new-credentialing@nighthawk.example")) == 1
    assert vendor_alerts().get().email == "new-credentialing@nighthawk.example"


def test_the_database_allows_one_recipient_per_alert_and_one_contact_alert_per_threshold():
    world = telerad_world(license_in=30)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    alert = vendor_alerts().get()
    base = {
        "organization": world.org,
        "finding_id": alert.finding_id,
        "kind": alert.kind,
        "planned_on": f.TODAY,
    }
    cases = [
        {"threshold": 7, "recipient": world.viewer, "vendor_contact": world.telerad},  # both
        {"threshold": 7},  # neither
        {"threshold": alert.threshold, "vendor_contact": world.telerad},  # a second one at 30 days
        {"threshold": 7, "vendor_contact": world.telerad, "delivery": DeliveryMode.DIGEST},  # in a digest
    ]
    for fields in cases:
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(**base, **fields)


def test_planning_the_contacts_reminders_takes_a_fixed_number_of_queries():
    def plan_for(radiologists: int, suffix: str) -> int:
        world = telerad_world(license_in=30, suffix=suffix)
        for number in range(radiologists - 1):
            person = f.radiologist(world.telerad, last_name=f"Extra{number}")
            f.state_license(person, world.center.state, expires_on=f.days(30))
        run_rules(world, f.TODAY)
        with CaptureQueriesContext(connection) as context:
            alerts_plan(as_of=f.TODAY, organization_id=world.org.pk)
        return len(context.captured_queries)

    assert plan_for(1, "-a") == plan_for(6, "-b")
    assert vendor_alerts().count() == 1 + 6


# --- The email ------------------------------------------------------------------------------------------------


def test_the_contacts_email_names_the_radiologist_the_credential_and_what_to_send_back():
    world = telerad_world(license_in=7)
    other = f.vendor(
        world.org,
        legal_name="Other Teleradiology Group",
        category=VendorCategory.TELERADIOLOGY,
        contact_email="o@x.example",
    )
    stranger = f.radiologist(other, first_name="Alan", last_name="Turing")
    f.state_license(stranger, "TX", expires_on=f.days(7), number="TX-99")
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)

    message = to_contact(mail.outbox)[0]
    alert = vendor_alerts().get(vendor_contact=world.telerad)
    html = message.alternatives[0][0]
    assert message.subject == (
        "[Lakeside Imaging Network] Grace Hopper: Texas state medical license TX-42 expires in 7 days (2026-11-29)"
    )
    for text in (message.body, html):
        assert "Dear Nina Hawk," in text
        assert "Grace Hopper (NPI 1234567893)" in text
        assert "Texas state medical license TX-42" in text
        assert "2026-11-29" in text and "7 days left" in text
        assert "the renewed license (its new expiry date, and a copy or the state board" in text
        assert "by replying to this email" in text
        assert "contains no patient information" in text
        assert "you are the contact of NightHawk Reads for Lakeside Imaging Network" in text
        # Nothing of another vendor, no link into the app, none of the officers' footer.
        for absent in ("Alan Turing", "TX-99", "Other Teleradiology Group", "/findings/", "alert preferences"):
            assert absent not in text
    assert message.extra_headers["Message-ID"] == emails.message_id(alert)
    unsubscribe_url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith(settings.SITE_URL + "/alerts/unsubscribe/vendor/")
    assert unsubscribe_url in message.body
    # Replies go to the members told about the same finding at the same threshold.
    assert message.reply_to == sorted([world.admin.email, world.officer.email, world.center_officer.email])
    assert to_contact(mail.outbox, "o@x.example")[0].subject.startswith("[Lakeside Imaging Network] Alan Turing:")


def test_the_privilege_email_names_the_facility_and_asks_for_the_reappointment():
    world = telerad_world(license_in=None)
    f.state_license(world.grace, world.center.state)
    world.grace.privileges.update(expires_on=f.days(1))
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    message = to_contact(mail.outbox)[0]
    assert message.subject == (
        "[Lakeside Imaging Network] Grace Hopper: clinical privileges at Lakeside Imaging Center expires in 1 day "
        "(2026-11-23)"
    )
    assert "the reappointment (the new privileges' dates, and for privileges by proxy the distant site" in message.body


# --- Sending through a real SMTP server ----------------------------------------------------------------------


def test_it_sends_the_contacts_reminder_through_the_smtp_server(smtp_settings):
    world = telerad_world(license_in=30)
    run_rules(world, f.TODAY)
    summary = dispatch(f.TODAY)
    received = smtp_settings.to(CONTACT)
    alert = vendor_alerts().get()
    assert len(received) == 1 and received[0].message_id == emails.message_id(alert)
    assert "Grace Hopper (NPI 1234567893)" in received[0].text
    assert alert.status == SendStatus.SENT and alert.sent_at is not None
    assert summary.sent == Alert.objects.filter(status=SendStatus.SENT).count()


def test_a_refused_contact_address_is_refused_alone(smtp_settings):
    smtp_settings.handler.refuse.add(CONTACT)
    world = telerad_world(license_in=30)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    alert = vendor_alerts().get()
    assert alert.status == SendStatus.REFUSED and "550" in alert.last_error
    assert smtp_settings.to(world.officer.email)  # the others went out
    dispatch(f.TODAY, minutes=30)
    assert not smtp_settings.to(CONTACT)


def test_an_uncertain_contact_reminder_is_resent_once_with_the_same_message_id(smtp_settings):
    world = telerad_world(license_in=30)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    alert = vendor_alerts().get()
    Alert.objects.exclude(pk=alert.pk).update(status=SendStatus.SKIPPED)
    smtp_settings.handler.drop_after_data = 1  # the server has it, the client never hears
    dispatch(f.TODAY)
    alert.refresh_from_db()
    assert alert.status == SendStatus.UNCERTAIN and alert.next_attempt_at is not None
    dispatch(f.TODAY, minutes=60 * 7)
    alert.refresh_from_db()
    assert alert.status == SendStatus.SENT
    assert smtp_settings.count_by_message_id() == {emails.message_id(alert): 2}
    dispatch(f.TODAY, minutes=60 * 8)
    assert len(smtp_settings.to(CONTACT)) == 2


# --- The unsubscribe link and the roster page -------------------------------------------------------------------


def test_the_contacts_unsubscribe_link_asks_then_stops_the_reminders(client):
    world = telerad_world(license_in=30)
    url = reverse("alerts:vendor_unsubscribe", args=[emails.vendor_unsubscribe_token(world.telerad.pk, CONTACT)])
    response = client.get(url)
    assert response.status_code == 200 and b"Stop the reminders to c***@nighthawk.example" in response.content
    assert not VendorContactPreference.objects.exists()

    response = client.post(url)
    assert b"Done: no more reminders" in response.content
    preference = VendorContactPreference.objects.get(vendor=world.telerad)
    assert (preference.credential_reminders, preference.unsubscribed_email) == (False, CONTACT)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    assert not vendor_alerts().exists()


def test_an_old_contacts_link_or_a_members_token_changes_nothing(client):
    world = telerad_world(license_in=30)
    old = reverse("alerts:vendor_unsubscribe", args=[emails.vendor_unsubscribe_token(world.telerad.pk, CONTACT)])
    world.telerad.contact_email = "someone-else@nighthawk.example"
    world.telerad.save()
    response = client.post(old)
    assert response.status_code == 200 and b"no longer the contact" in response.content
    member_token = reverse("alerts:vendor_unsubscribe", args=[emails.unsubscribe_token(world.telerad.pk)])
    assert client.post(member_token).status_code == 404
    vendor_token = reverse("alerts:unsubscribe", args=[emails.vendor_unsubscribe_token(world.officer.pk, CONTACT)])
    assert client.post(vendor_token).status_code == 404
    assert not VendorContactPreference.objects.exists()


def test_an_officer_turns_the_reminders_off_on_the_roster_page_and_a_viewer_cannot(client):
    world = telerad_world(license_in=30)
    roster = reverse("readers:roster", args=[world.telerad.pk])
    toggle = reverse("readers:contact_reminders", args=[world.telerad.pk])

    client.force_login(world.viewer, backend=BACKEND)
    html = client.get(roster).content.decode()
    assert "Nina Hawk (credentialing@nighthawk.example) is asked for the renewal" in html
    assert toggle not in html
    assert client.post(toggle).status_code == 403

    client.force_login(world.officer, backend=BACKEND)
    assert client.post(toggle).status_code == 302
    html = client.get(roster).content.decode()
    assert "Off: turned off by" in html and "Send the reminders to credentialing@nighthawk.example" in html
    assert not VendorContactPreference.objects.get().credential_reminders

    client.post(toggle, {"credential_reminders": "on"})
    assert VendorContactPreference.objects.get().credential_reminders
    outsider = f.user(f.organization(name="Elsewhere"), role=Role.ADMIN, username="elsewhere")
    client.force_login(outsider, backend=BACKEND)
    assert client.post(toggle).status_code == 404
    assert VendorContactPreference.objects.get().credential_reminders


def test_the_alerts_page_shows_the_vendors_contact_as_the_recipient(client):
    world = telerad_world(license_in=30)
    run_rules(world, f.TODAY)
    dispatch(f.TODAY)
    client.force_login(world.officer, backend=BACKEND)
    html = client.get(reverse("alerts:list")).content.decode()
    assert "Contact of NightHawk Reads" in html and CONTACT in html
