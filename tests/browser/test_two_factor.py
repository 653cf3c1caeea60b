"""Two-factor sign-in in Chromium: an administrator enrols an authenticator app from the QR page, signs in
with password and a computed TOTP code (RFC 6238), and repeated wrong codes lock the sign-in."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from identity.models import SignInEvent, SignInMethod, SignInOutcome
from organizations.models import Role
from tests import factories as f

pytestmark = pytest.mark.browser


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for this key (30-second steps, 6 digits), ``steps_ahead`` later."""
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{totp(key, step=30, t0=0, digits=6, drift=steps_ahead):06d}"


def password_step(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_an_administrator_enrols_signs_in_with_a_code_and_is_locked_out_by_wrong_ones(
    page, transactional_db, live_server, settings
):
    settings.TWO_FACTOR_REQUIRED_FOR_ADMINS = True
    settings.AXES_FAILURE_LIMIT = 3
    admin = f.user(f.organization(name="Harbor Imaging"), role=Role.ADMIN, username="harbor_admin")

    # The password alone leads to enrolment, whatever page was asked for.
    password_step(page, "harbor_admin")
    page.goto("/vendors/")
    assert "/account/two-factor/enrol/" in page.url
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr.evaluate("node => node.tagName.toLowerCase()") == "svg" and qr.bounding_box()["width"] > 100
    secret = page.locator("[data-totp-secret]").inner_text()
    page.get_by_label("Code from the app").fill(app_code(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    codes = page.locator("[data-recovery-code]").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them: continue").click()
    assert page.url.endswith("/vendors/")
    assert page.get_by_role("link", name="Members").count() == 1

    # Next sign-in: password, then the code the app shows (the next 30-second step: the enrolment
    # used this one, and a code is never accepted twice).
    page.locator("#account-menu").click()
    page.get_by_role("button", name="Sign out").click()
    password_step(page, "harbor_admin")
    assert "/account/two-factor/verify/" in page.url
    page.get_by_label("Code").fill(app_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(live_server.url + reverse("compliance:dashboard"))

    # Wrong codes: refused with a message, then the account is locked as for wrong passwords.
    page.locator("#account-menu").click()
    page.get_by_role("button", name="Sign out").click()
    password_step(page, "harbor_admin")
    for attempt in range(3):
        page.get_by_label("Code").fill("000000" if app_code(secret) != "000000" else "111111")
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()
        if attempt < 2:
            assert "That code is not right" in page.content()
            # django-otp's own growing delay between tries, cleared as if a moment had passed.
            TOTPDevice.objects.filter(user=admin).update(throttling_failure_count=0)
    assert page.get_by_role("heading", name="Sign-in temporarily locked").is_visible()
    page.goto("/")
    assert "/accounts/login/" in page.url
    outcomes = list(SignInEvent.objects.filter(user=admin).values_list("method", "outcome"))
    assert outcomes.count((SignInMethod.TWO_FACTOR, SignInOutcome.FAILED)) == 3
