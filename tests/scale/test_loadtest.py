"""manage.py loadtest: production Gunicorn on the test database, wrk as the simulated users."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from organizations import demo
from organizations.models import Organization, Role
from scale.loadtest import URL_MIX, browse_urls, create_sessions, default_organization, load_test_user
from tests import factories


@pytest.fixture(autouse=True)
def fast_demo(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security


def seed_demo() -> Organization:
    call_command("seed_demo", "--force", stdout=io.StringIO())
    return Organization.objects.get(name=demo.ORGANIZATION_NAME)


def require_wrk() -> None:
    """A missing load generator fails the test, as a missing server does (tests/conftest.py);
    scripts/test.sh installs it."""
    if not shutil.which("wrk"):
        pytest.fail("wrk is required for the load test: apt-get install wrk (scripts/test.sh does)", pytrace=False)


@pytest.mark.django_db(transaction=True)  # committed, so that Gunicorn's workers see the data
def test_it_serves_simulated_users_without_errors(tmp_path):
    require_wrk()
    seed_demo()
    out, err = io.StringIO(), io.StringIO()
    report = tmp_path / "loadtest.json"

    try:
        call_command("loadtest", "--users", "5", "--duration", "3", "--json", str(report), stdout=out, stderr=err)
    except CommandError as exc:
        pytest.fail(f"{exc}\n{out.getvalue()}\n{err.getvalue()}", pytrace=False)

    result = json.loads(report.read_text())
    assert result["requests"] > 0
    assert result["errors"] == 0, result
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert result["users"] == 5 and result["duration_s"] == 3
    assert result["user"] == "admin"
    assert result["statuses"] == {"200": result["requests"]}
    assert "requests" in out.getvalue() and "p95" in out.getvalue()


@pytest.mark.django_db
def test_it_browses_pages_that_all_answer_200():
    organization = seed_demo()
    user = load_test_user(organization)

    urls = browse_urls(user, seed=0)

    assert urls == browse_urls(user, seed=0)
    assert len(urls) == sum(URL_MIX.values())
    assert {kind for kind, _path in urls} == set(URL_MIX)
    client = Client(headers={"x-forwarded-proto": "https"})
    client.force_login(user)
    refused = {}
    for path in sorted({path for _kind, path in urls}):
        response = client.get(path)
        if response.status_code != 200:
            refused[path] = response.status_code
    assert refused == {}


@pytest.mark.django_db
def test_it_signs_in_with_a_session_made_without_the_login_form():
    organization = seed_demo()
    user = load_test_user(organization)
    [key] = create_sessions(user, 1, secret_key=settings.SECRET_KEY)
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key

    response = client.get("/")

    assert response.status_code == 200
    assert response.wsgi_request.user == user


@pytest.mark.django_db
def test_it_picks_the_busiest_organization_and_a_member_who_sees_everything():
    quiet = factories.organization()
    factories.engagement(factories.vendor(quiet), factories.facility(quiet))
    busy = factories.organization()
    site = factories.facility(busy)
    for _ in range(3):
        factories.engagement(factories.vendor(busy), site)
    factories.user(busy, role=Role.VIEWER, username="a-viewer")
    factories.user(busy, role=Role.ADMIN, username="b-limited-admin", facilities=[site])
    factories.user(busy, role=Role.COMPLIANCE_OFFICER, username="c-officer")

    assert default_organization() == busy
    assert load_test_user(busy).username == "c-officer"
