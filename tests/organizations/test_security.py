"""The technical safeguards of 45 CFR 164.312 as the sign-in pages and settings implement them."""

from __future__ import annotations

import datetime
import time

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from baatracker.sessions import RENEW_EVERY, RENEWED_AT
from organizations.models import Role
from tests import factories as f


class Clock:
    """Django's clock (timezone.now(), which dates and checks session expiry, baatracker/sessions.py
    included), moved forward by the test instead of waiting."""

    def __init__(self, monkeypatch):
        self.offset = datetime.timedelta(0)
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def officer(db):
    return f.user(f.organization(), role=Role.COMPLIANCE_OFFICER, username="safeguard_officer")


def test_it_requires_a_sign_in_everywhere_but_the_sign_in_page_and_health_check(client, db):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    for url in (
        reverse("compliance:dashboard"),
        reverse("organizations:members"),
        reverse("organizations:keepalive"),
        reverse("password_change"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_it_signs_in_and_out_through_the_pages(client, officer):
    response = client.post(reverse("login"), {"username": "safeguard_officer", "password": f.PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("compliance:dashboard")
    assert client.get(reverse("compliance:dashboard")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("compliance:dashboard")).status_code == 302


def test_it_locks_sign_in_after_repeated_failures(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(reverse("login"), {"username": "safeguard_officer", "password": "wrong-guess"})
        assert response.status_code == 200 and "did not match" in response.content.decode()
    response = client.post(reverse("login"), {"username": "safeguard_officer", "password": "wrong-guess"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Sign-in temporarily locked" in html and "15 minutes" in html
    # Even the right password is refused while locked.
    response = client.post(reverse("login"), {"username": "safeguard_officer", "password": f.PASSWORD})
    assert response.status_code == 429


def test_it_changes_a_password_only_to_a_strong_one(client, officer):
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("password_change")
    weak = {"old_password": f.PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    response = client.post(url, weak)
    assert response.status_code == 200 and "too short" in response.content.decode()
    strong = "Another-Strong-Passphrase-77"
    response = client.post(url, {"old_password": f.PASSWORD, "new_password1": strong, "new_password2": strong})
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    officer.refresh_from_db()
    assert officer.check_password(strong)


def test_it_ends_the_session_on_the_server_after_the_idle_time(client, officer, settings, clock):
    settings.SESSION_COOKIE_AGE = 2
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("compliance:dashboard")).status_code == 200
    clock.advance(2.5)
    response = client.get(reverse("compliance:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_gives_the_idle_timer_its_minutes_without_inline_script(client, officer, settings):
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    html = client.get(reverse("compliance:dashboard")).content.decode()
    assert f'data-idle-logoff-minutes="{settings.SESSION_COOKIE_AGE / 60:g}"' in html
    assert '<script src="/static/js/app.js"></script>' in html
    assert "<script>" not in html and ' style="' not in html


def _session_writes(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return sum(1 for q in queries if "django_session" in q["sql"] and not q["sql"].lstrip().startswith("SELECT"))


def test_it_renews_the_session_at_most_once_a_minute(client, officer):
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("compliance:dashboard")
    assert _session_writes(client, url) == 0  # signing in renewed it: no session UPDATE within the minute
    assert _session_writes(client, url) == 0
    assert _session_writes(client, url) == 0
    session = client.session
    session[RENEWED_AT] = int(time.time()) - RENEW_EVERY
    session.save()
    before = Session.objects.get(session_key=session.session_key).expire_date
    time.sleep(0.01)
    assert _session_writes(client, url) == 1  # a minute later: renewed, with a later expiry
    assert Session.objects.get(session_key=session.session_key).expire_date > before


def test_it_still_logs_off_after_the_idle_time_when_renewals_are_skipped(client, officer, settings, clock):
    settings.SESSION_COOKIE_AGE = 8  # renewed at most every 2 s (a quarter of it)
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("compliance:dashboard")
    for _ in range(3):  # active use renews the session: it outlives its first 8 seconds
        clock.advance(3)
        assert client.get(url).status_code == 200
    clock.advance(8.5)  # then idle for longer than the limit
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_renews_the_session_on_every_stay_signed_in(client, officer):
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    client.get(reverse("compliance:dashboard"))
    assert _session_writes(client, reverse("organizations:keepalive")) == 1
