"""Two-factor sign-in (TOTP with django-otp, recovery codes): who is asked, enrolment, the code, the throttle."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from identity.models import SignInEvent, SignInMethod, SignInOutcome
from identity.services import sign_in_policy_update, totp_device_confirm, totp_device_start
from organizations.models import Role
from tests import factories as f


@pytest.fixture
def org(db):
    return f.organization(name="Harbor Imaging")


@pytest.fixture
def admins_need_it(settings):
    settings.TWO_FACTOR_REQUIRED_FOR_ADMINS = True
    return settings


def password_sign_in(client, username: str, password: str = f.PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def code_of(device: TOTPDevice, *, offset: int = 0) -> str:
    """The code an authenticator app shows now (RFC 6238), computed from the device's key."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    device = totp_device_start(user=user)
    codes = totp_device_confirm(device=device, token=code_of(device))
    device.refresh_from_db()
    device.last_t = -1  # the confirmation used this period's code; let a test use it again
    device.save(update_fields=["last_t"])
    return device, codes


def test_it_sends_an_administrator_to_enrolment_after_the_password(client, org, admins_need_it):
    f.user(org, role=Role.ADMIN, username="harbor_admin")
    response = password_sign_in(client, "harbor_admin")
    assert response.status_code == 302
    # Every page now leads to the two-factor step, the dashboard included.
    dashboard = client.get(reverse("compliance:dashboard"))
    assert dashboard.status_code == 302 and dashboard.url.startswith(reverse("identity:two_factor"))
    step = client.get(dashboard.url)
    assert step.url.startswith(reverse("identity:two_factor_enrol"))
    page = client.get(step.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and 'aria-label="QR code for your authenticator app"' in html
    assert "requires a second step" in html


def test_it_does_not_ask_an_officer_unless_the_organization_requires_it(client, org, admins_need_it):
    f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    password_sign_in(client, "officer")
    assert client.get(reverse("compliance:dashboard")).status_code == 200

    sign_in_policy_update(organization=org, two_factor_required=True)
    client.logout()
    password_sign_in(client, "officer")
    assert client.get(reverse("compliance:dashboard")).status_code == 302


def test_it_enrols_with_a_code_and_shows_ten_recovery_codes_once(client, org, admins_need_it):
    user = f.user(org, role=Role.ADMIN, username="harbor_admin")
    password_sign_in(client, "harbor_admin")
    client.get(reverse("identity:two_factor_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page = client.get(reverse("identity:two_factor_enrol"))  # reloading keeps the same key
    assert TOTPDevice.objects.filter(user=user).count() == 1
    secret = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", page.content.decode()).group(1)
    assert secret.replace(" ", "") in device.config_url

    wrong = client.post(
        reverse("identity:two_factor_enrol"), {"token": "000000" if code_of(device) != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # as if a moment passed

    done = client.post(reverse("identity:two_factor_enrol"), {"token": code_of(device)})
    codes = re.findall(r"data-recovery-code>(\w+)<", done.content.decode())
    assert done.status_code == 200 and len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("compliance:dashboard")).status_code == 200
    assert StaticToken.objects.filter(device__user=user).count() == 10


def test_it_signs_in_with_password_and_code(client, org, admins_need_it):
    user = f.user(org, role=Role.ADMIN, username="harbor_admin")
    device, _ = enrolled(user)
    password_sign_in(client, "harbor_admin")
    verify = client.get(client.get(reverse("compliance:dashboard")).url)
    assert verify.url.startswith(reverse("identity:two_factor_verify"))
    response = client.post(reverse("identity:two_factor_verify"), {"token": code_of(device), "next": "/vendors/"})
    assert response.status_code == 302 and response.url == "/vendors/"
    assert client.get(reverse("compliance:dashboard")).status_code == 200
    methods = list(SignInEvent.objects.filter(user=user).order_by("at").values_list("method", "outcome"))
    assert methods == [
        (SignInMethod.PASSWORD, SignInOutcome.SUCCEEDED),
        (SignInMethod.TWO_FACTOR, SignInOutcome.SUCCEEDED),
    ]


def test_a_recovery_code_works_once(client, org, admins_need_it):
    user = f.user(org, role=Role.ADMIN, username="harbor_admin")
    _, codes = enrolled(user)
    password_sign_in(client, "harbor_admin")
    assert client.post(reverse("identity:two_factor_verify"), {"token": codes[0]}).status_code == 302
    client.logout()
    password_sign_in(client, "harbor_admin")
    again = client.post(reverse("identity:two_factor_verify"), {"token": codes[0]})
    assert again.status_code == 400
    assert StaticToken.objects.filter(device__user=user).count() == 9


def test_a_password_alone_cannot_replace_the_device(client, org, admins_need_it):
    user = f.user(org, role=Role.ADMIN, username="harbor_admin")
    device, _ = enrolled(user)
    password_sign_in(client, "harbor_admin")
    response = client.get(reverse("identity:two_factor_enrol"))
    assert response.status_code == 302 and response.url == reverse("identity:two_factor_verify")
    assert list(TOTPDevice.objects.filter(user=user)) == [device]


def test_wrong_codes_lock_the_sign_in_like_wrong_passwords(client, org, admins_need_it, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = f.user(org, role=Role.ADMIN, username="harbor_admin")
    device, _ = enrolled(user)
    wrong = "000000" if code_of(device) != "000000" else "111111"
    password_sign_in(client, "harbor_admin")
    for _ in range(2):
        response = client.post(reverse("identity:two_factor_verify"), {"token": wrong})
        assert response.status_code == 400
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # django-otp's own delay aside
    locked = client.post(reverse("identity:two_factor_verify"), {"token": wrong})
    assert locked.status_code == 429
    # Signed out, and the password no longer opens anything either until the cool-off ends.
    assert client.get(reverse("compliance:dashboard")).status_code == 302
    assert password_sign_in(client, "harbor_admin").status_code == 429
    outcomes = list(SignInEvent.objects.filter(user=user).values_list("method", "outcome"))
    assert outcomes.count((SignInMethod.TWO_FACTOR, SignInOutcome.FAILED)) == 3
    assert (SignInMethod.PASSWORD, SignInOutcome.LOCKED_OUT) in outcomes


def test_django_otp_slows_down_guessing_on_the_device(client, org, admins_need_it):
    user = f.user(org, role=Role.ADMIN, username="harbor_admin")
    device, _ = enrolled(user)
    wrong = "000000" if code_of(device) != "000000" else "111111"
    password_sign_in(client, "harbor_admin")
    client.post(reverse("identity:two_factor_verify"), {"token": wrong})
    # Right after a failure, even the right code is refused for a moment (exponential back-off).
    response = client.post(reverse("identity:two_factor_verify"), {"token": code_of(device)})
    assert response.status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1


def test_an_administrator_resets_a_lost_phone_in_their_own_organization_only(client, org):
    admin = f.user(org, role=Role.ADMIN, username="harbor_admin")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    stranger = f.user(f.organization(name="Elsewhere"), role=Role.COMPLIANCE_OFFICER, username="stranger")
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")  # before enrolling
    for user in (officer, stranger):
        enrolled(user)
    url = reverse("identity:member_two_factor_reset", args=[admin.membership.pk])
    assert client.post(url).status_code == 403  # not an administrator
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    assert "Reset two-factor" in client.get(reverse("organizations:members")).content.decode()
    other = reverse("identity:member_two_factor_reset", args=[stranger.membership.pk])
    assert client.post(other).status_code == 404
    assert client.post(reverse("identity:member_two_factor_reset", args=[officer.membership.pk])).status_code == 302
    assert not TOTPDevice.objects.filter(user=officer).exists()
    assert not StaticToken.objects.filter(device__user=officer).exists()
    assert TOTPDevice.objects.filter(user=stranger).count() == 1
    reason = officer.membership.history.first().history_change_reason
    assert reason == "Two-factor sign-in reset by harbor_admin"


def test_the_django_admin_shows_no_ones_second_factor(client, db):
    from django.contrib import admin

    assert not admin.site.is_registered(TOTPDevice)
    superuser = f.user(f.organization(), role=Role.ADMIN, username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_it_lets_an_api_token_and_a_calendar_feed_through_a_pending_session(client, org, admins_need_it):
    """A token and a feed's secret URL are their own credentials, not a session sign-in: the second
    factor a password session still owes neither blocks them nor is skipped by them for the session."""
    from api.services import api_token_create
    from calendars.services import calendar_feed_create

    admin = f.user(org, role=Role.ADMIN, username="harbor_admin")
    f.vendor(org, legal_name="Harbor PACS")
    _, raw = api_token_create(user=admin, name="GRC pull")
    _, secret = calendar_feed_create(user=admin)
    password_sign_in(client, "harbor_admin")  # password only: the code is still owed

    session_only = client.get("/api/v1/vendors/")
    assert session_only.status_code == 302 and session_only.url.startswith(reverse("identity:two_factor"))
    with_token = client.get("/api/v1/vendors/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert with_token.status_code == 200
    assert [row["legal_name"] for row in with_token.json()["results"]] == ["Harbor PACS"]
    bad_token = client.get("/api/v1/vendors/", HTTP_AUTHORIZATION="Bearer bt_not-a-token")
    assert bad_token.status_code == 401  # never the pending session instead
    feed = client.get(reverse("calendars:feed", args=[secret]))
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    # The session itself is still held at the door.
    assert client.get(reverse("compliance:dashboard")).url.startswith(reverse("identity:two_factor"))


def test_it_asks_no_second_factor_of_a_token_or_feed_without_a_session(org, admins_need_it):
    from django.test import Client

    from api.services import api_token_create
    from calendars.services import calendar_feed_create

    admin = f.user(org, role=Role.ADMIN, username="harbor_admin")
    _, raw = api_token_create(user=admin, name="GRC pull")
    _, secret = calendar_feed_create(user=admin)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/facilities/").status_code == 200
    assert Client().get(reverse("calendars:feed", args=[secret])).status_code == 200
