"""The alerts pages: the organization's alerts through the permission gate, refused addresses for admins,
retries, each person's preferences, the unsubscribe link (no sign-in, one user), and who was alerted about
a finding on its page."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alerts.emails import unsubscribe_token
from alerts.models import Alert, AlertKind, AlertPreference, DeliveryMode, SendStatus
from alerts.services import alerts_dispatch, alerts_plan
from compliance.models import Finding, FindingKind
from tests import factories as f
from tests.alerts.conftest import make_world, run_rules

pytestmark = pytest.mark.django_db
BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def world():
    """Alerts sent about an expiring BAA (imaging center) and a missing BAA at the hospital; one address
    refused by the mail server."""
    world = make_world(expires_in=30)
    hospital_vendor = f.vendor(world.org, legal_name="Riverside Billing Co")
    f.engagement(hospital_vendor, world.hospital)
    run_rules(world, f.TODAY)
    alerts_dispatch(as_of=f.TODAY)
    Alert.objects.filter(recipient=world.hospital_officer).update(
        status=SendStatus.REFUSED, sent_at=None, last_error="SMTPRecipientsRefused: 550 5.1.1 User unknown"
    )
    return world


def page(client, user, url, **params):
    client.force_login(user, backend=BACKEND)
    return client.get(url, params)


def test_it_lists_the_organizations_alerts_with_their_status(client, world):
    response = page(client, world.admin, reverse("alerts:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 6
    assert response.context["counts"] == {"sent": 5, "pending": 0, "uncertain": 0, "failed": 1, "skipped": 0}
    assert "Riverside Billing Co" in html and "Sectra PACS Services" in html
    assert "Refused" in html and "30 days before" in html
    assert "6 new alerts inserted, 6 sent, 0 refused, 0 uncertain, 0 deferred (server unreachable), 0 failed" in html


def test_it_shows_a_limited_officer_only_the_alerts_of_findings_they_see(client, world):
    response = page(client, world.hospital_officer, reverse("alerts:list"))
    kinds = {alert.finding.kind for alert in response.context["page"].object_list}
    assert kinds == {FindingKind.MISSING_BAA}
    assert response.context["page"].paginator.count == 3


def test_it_shows_nothing_of_another_organization(client, world):
    response = page(client, world.outsider, reverse("alerts:list"))
    assert response.context["page"].paginator.count == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, 1),
        ({"status": "sent"}, 5),
        ({"status": "pending"}, 0),
        ({"kind": AlertKind.EXPIRY_REMINDER}, 3),
        ({"kind": AlertKind.MISSING_BAA}, 3),
    ],
)
def test_it_filters_by_status_and_kind(client, world, params, expected):
    response = page(client, world.admin, reverse("alerts:list"), **params)
    assert response.context["page"].paginator.count == expected


def test_it_filters_by_recipient(client, world):
    response = page(client, world.admin, reverse("alerts:list"), recipient=world.center_officer.pk)
    assert {alert.recipient for alert in response.context["page"].object_list} == {world.center_officer}


def test_it_shows_refused_addresses_to_admins_only(client, world):
    admin_page = page(client, world.admin, reverse("alerts:list")).content.decode()
    assert "Addresses the mail server refused" in admin_page
    assert f"&lt;{world.hospital_officer.email}&gt;" in admin_page and "550 5.1.1 User unknown" in admin_page
    officer_page = page(Client(), world.officer, reverse("alerts:list")).content.decode()
    assert "Addresses the mail server refused" not in officer_page


def test_it_lists_alerts_with_a_fixed_number_of_queries(client, world, django_assert_max_num_queries):
    for number in range(40):
        vendor = f.vendor(world.org, legal_name=f"Extra Vendor {number}")
        f.engagement(vendor, world.center)
    run_rules(world, f.TODAY)
    alerts_plan(as_of=f.TODAY)
    client.force_login(world.admin, backend=BACKEND)
    with django_assert_max_num_queries(16):
        response = client.get(reverse("alerts:list"))
    assert response.context["page"].paginator.count > 100


def test_it_retries_a_refused_alert_once_the_address_is_corrected(client, world, django_capture_on_commit_callbacks):
    refused = Alert.objects.filter(recipient=world.hospital_officer).first()
    client.force_login(world.officer, backend=BACKEND)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("alerts:retry", args=[refused.pk]))
    assert response.status_code == 302
    refused.refresh_from_db()
    assert refused.status == SendStatus.RETRYING and refused.next_attempt_at is not None
    assert len(callbacks) == 1  # the sending task, enqueued once the change is committed


def test_it_refuses_retries_to_viewers_and_other_organizations(client, world):
    refused = Alert.objects.filter(recipient=world.hospital_officer).first()
    client.force_login(world.viewer, backend=BACKEND)
    assert client.post(reverse("alerts:retry", args=[refused.pk])).status_code == 403
    client.force_login(world.outsider, backend=BACKEND)
    assert client.post(reverse("alerts:retry", args=[refused.pk])).status_code == 404


def test_it_saves_a_persons_preferences(client, world):
    client.force_login(world.officer, backend=BACKEND)
    response = client.post(
        reverse("alerts:preferences"), {"delivery": DeliveryMode.DIGEST, "missing_baa": "on", "expiry_reminders": "on"}
    )
    assert response.status_code == 302
    preference = AlertPreference.objects.get(user=world.officer)
    assert preference.delivery == DeliveryMode.DIGEST
    assert (preference.expiry_reminders, preference.missing_baa, preference.checklist_reviews) == (True, True, False)
    assert "Your alert preferences are saved." in client.get(reverse("alerts:preferences")).content.decode()


def test_it_tells_a_viewer_that_their_role_gets_no_alerts(client, world):
    html = page(client, world.viewer, reverse("alerts:preferences")).content.decode()
    assert "your role does not receive them" in html


def test_it_unsubscribes_without_signing_in_and_only_that_user(world):
    client = Client(enforce_csrf_checks=True)
    url = reverse("alerts:unsubscribe", args=[unsubscribe_token(world.officer.pk)])

    asked = client.get(url)
    assert asked.status_code == 200 and "o***@example.org" in asked.content.decode()
    assert not AlertPreference.objects.filter(user=world.officer).exists()  # a GET changes nothing

    done = client.post(url)  # as a mail client's one-click unsubscribe does: no session, no CSRF token
    assert done.status_code == 200 and "no more BAA Tracker alert emails" in done.content.decode()
    assert AlertPreference.objects.get(user=world.officer).receives_nothing
    assert not AlertPreference.objects.exclude(user=world.officer).exists()


def test_it_unsubscribes_the_user_of_the_token_even_when_someone_else_is_signed_in(client, world):
    client.force_login(world.admin, backend=BACKEND)
    client.post(reverse("alerts:unsubscribe", args=[unsubscribe_token(world.officer.pk)]))
    assert AlertPreference.objects.get(user=world.officer).receives_nothing
    assert not AlertPreference.objects.filter(user=world.admin).exists()


def test_it_rejects_a_forged_unsubscribe_link(world):
    token = unsubscribe_token(world.officer.pk)
    response = Client().post(reverse("alerts:unsubscribe", args=[token[:-3] + "abc"]))
    assert response.status_code == 404
    assert not AlertPreference.objects.exists()


def test_it_stops_alerts_after_unsubscribing(world):
    Client().post(reverse("alerts:unsubscribe", args=[unsubscribe_token(world.admin.pk)]))
    mail.outbox.clear()
    run_rules(world, f.days(16))  # 14 days left: the 14-day reminder is due
    alerts_dispatch(as_of=f.days(16))
    assert mail.outbox and world.admin.email not in {address for m in mail.outbox for address in m.to}


def test_it_shows_who_was_alerted_about_a_finding_and_when(client, world, django_assert_max_num_queries):
    finding = Finding.objects.get(kind=FindingKind.BAA_EXPIRING)
    url = reverse("compliance:finding_detail", args=[finding.pk])
    client.force_login(world.officer, backend=BACKEND)
    client.get(url)  # warm the caches of the first request
    with django_assert_max_num_queries(20) as captured:
        html = client.get(url).content.decode()
    alert_queries = [q["sql"] for q in captured.captured_queries if "alerts_alert" in q["sql"]]
    assert len(alert_queries) <= 2
    assert "Ada Admin" in html and "Olivia Officer" in html and "30 days before" in html
    sent_at = timezone.localtime(Alert.objects.get(finding=finding, recipient=world.admin).sent_at)
    assert f"sent {sent_at:%Y-%m-%d %H:%M}" in html


def test_it_shows_the_officer_which_alerts_may_not_have_arrived(client, world):
    from django.utils import timezone

    resending, final, sent_twice = Alert.objects.filter(status=SendStatus.SENT).order_by("pk")[:3]
    now = timezone.now()
    Alert.objects.filter(pk=resending.pk).update(
        status=SendStatus.UNCERTAIN, sent_at=None, uncertain_at=now, next_attempt_at=now
    )
    Alert.objects.filter(pk=final.pk).update(
        status=SendStatus.UNCERTAIN, sent_at=None, uncertain_at=now, next_attempt_at=None, last_error="Unknown twice"
    )
    Alert.objects.filter(pk=sent_twice.pk).update(uncertain_at=now)

    response = page(client, world.admin, reverse("alerts:list"))
    html = response.content.decode()

    assert response.context["counts"]["uncertain"] == 2
    assert "2 outcome unknown" in html
    assert "The mail server may have it: resent once at" in html
    assert "It may have arrived once or twice, or not at all" in html
    assert "this may have arrived twice (same Message-ID)" in html
    assert f'action="{reverse("alerts:retry", args=[final.pk])}"' in html
    assert f'action="{reverse("alerts:retry", args=[resending.pk])}"' not in html
    assert page(client, world.admin, reverse("alerts:list"), status="uncertain").context["page"].paginator.count == 2
