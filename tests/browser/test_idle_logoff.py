"""Automatic logoff, 45 CFR 164.312(a)(2)(iii): the screen signs out when the session idles out."""

from __future__ import annotations

import re

import pytest

from organizations.models import Role
from tests import factories as f
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def short_sessions(settings):
    # A few seconds instead of IDLE_LOGOFF_MINUTES: the server session and the JS timer both follow it.
    settings.SESSION_COOKIE_AGE = 4
    return settings


def test_it_signs_an_idle_browser_out_with_a_message(page, transactional_db, short_sessions):
    user = f.user(f.organization(), role=Role.COMPLIANCE_OFFICER, username="idle_officer")
    sign_in(page, "idle_officer", f.PASSWORD)
    page.goto("/")
    assert page.locator("body").get_attribute("data-idle-logoff-minutes") == f"{4 / 60:g}"
    # The warning comes first, then the sign-out, with nobody touching anything.
    page.locator("#idle-warning").wait_for(state="visible", timeout=8_000)
    page.wait_for_url(re.compile(r"/accounts/login/\?idle=1$"), timeout=10_000)
    assert "signed out after a period of inactivity" in page.content()
    # The session is gone on the server too: the dashboard asks for a sign-in again.
    page.goto("/")
    assert "/accounts/login/" in page.url
    assert user.pk  # the account itself is untouched


def test_it_keeps_the_session_when_the_user_asks_to_stay(page, transactional_db, settings):
    settings.SESSION_COOKIE_AGE = 8
    f.user(f.organization(), role=Role.COMPLIANCE_OFFICER, username="staying_officer")
    sign_in(page, "staying_officer", f.PASSWORD)
    page.goto("/")
    stay = page.get_by_role("button", name="Stay signed in")
    stay.wait_for(state="visible", timeout=10_000)
    stay.click()
    page.locator("#idle-warning").wait_for(state="hidden", timeout=3_000)
    page.wait_for_timeout(3_000)  # past the first deadline: still here
    assert page.url.endswith("/") and "/accounts/login/" not in page.url
    page.reload()
    assert page.get_by_role("heading", name="Compliance dashboard").is_visible()
