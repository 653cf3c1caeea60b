"""Personal API tokens: stored hashed, scoped (read / read-write, organization, facilities), expiring,
revocable on the tokens page, and every use in the access log."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken, TokenScope
from api.services import api_token_create, api_token_revoke
from organizations.models import AccessAction, AccessLogEntry, Membership, Role
from tests import factories as f
from tests.support_matrix import BACKEND

pytestmark = pytest.mark.usefixtures("fast_passwords")

API = "/api/v1"


@pytest.fixture
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security


@pytest.fixture
def officer(db):
    org = f.organization(name="Token Imaging")
    own = f.facility(org, name="Token Center")
    f.engagement(f.vendor(org, legal_name="Token PACS"), own)
    return f.user(org, role=Role.COMPLIANCE_OFFICER, username="token_officer")


def bearer(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_it_stores_only_the_digest_of_the_token(officer):
    token, raw = api_token_create(user=officer, name="GRC pull", scope=TokenScope.READ, lifetime_days=30)
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw.startswith("bt_") and len(raw) > 40
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {str(value) for value in ApiToken.objects.filter(pk=token.pk).values().get().values()}
    assert raw not in {str(v) for row in ApiToken.history.filter(id=token.pk).values() for v in row.values()}
    assert stored.prefix == raw[:9]
    assert stored.expires_at - stored.created_at == datetime.timedelta(days=30)


def test_it_authenticates_a_token_as_its_owner(officer):
    _, raw = api_token_create(user=officer, name="GRC pull")
    response = bearer(raw).get(f"{API}/vendors/")
    assert response.status_code == 200
    assert [row["legal_name"] for row in response.json()["results"]] == ["Token PACS"]
    assert ApiToken.objects.get().last_used_at is not None


def test_it_refuses_missing_unknown_revoked_and_expired_tokens(officer):
    assert Client().get(f"{API}/vendors/").status_code == 401
    assert bearer("bt_not-a-token").get(f"{API}/vendors/").json()["detail"] == "Unknown API token."
    token, raw = api_token_create(user=officer, name="Soon gone")
    api_token_revoke(token=token)
    response = bearer(raw).get(f"{API}/vendors/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    token, raw = api_token_create(user=officer, name="Old", lifetime_days=1)
    past = timezone.now() - datetime.timedelta(days=2)
    ApiToken.objects.filter(pk=token.pk).update(created_at=past, expires_at=past + datetime.timedelta(days=1))
    response = bearer(raw).get(f"{API}/vendors/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_token_whose_owner_left_or_moved(officer):
    _, raw = api_token_create(user=officer, name="GRC pull")
    other = f.organization(name="Somewhere Else")
    Membership.objects.filter(user=officer).update(organization=other)
    assert bearer(raw).get(f"{API}/vendors/").status_code == 401
    Membership.objects.filter(user=officer).update(organization=ApiToken.objects.get().organization)
    officer.is_active = False
    officer.save()
    assert bearer(raw).get(f"{API}/vendors/").status_code == 401


def test_a_read_only_token_refuses_every_write(officer):
    _, raw = api_token_create(user=officer, name="Read", scope=TokenScope.READ)
    vendor = officer.membership.organization.vendors.get()
    response = bearer(raw).patch(f"{API}/vendors/{vendor.pk}/", {"notes": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    _, raw = api_token_create(user=officer, name="Write", scope=TokenScope.READ_WRITE)
    response = bearer(raw).patch(f"{API}/vendors/{vendor.pk}/", {"notes": "x"}, content_type="application/json")
    assert response.status_code == 200


def test_it_keeps_a_facility_limited_member_to_their_facilities(officer):
    org = officer.membership.organization
    elsewhere = f.facility(org, name="Not Yours")
    f.engagement(f.vendor(org, legal_name="Elsewhere PACS"), elsewhere)
    limited = f.user(org, role=Role.COMPLIANCE_OFFICER, facilities=[org.facilities.get(name="Token Center")])
    _, raw = api_token_create(user=limited, name="Limited")
    names = [row["name"] for row in bearer(raw).get(f"{API}/facilities/").json()["results"]]
    assert names == ["Token Center"]
    assert bearer(raw).get(f"{API}/facilities/{elsewhere.pk}/").status_code == 404


def test_it_gives_a_viewer_only_read_only_tokens_and_bounds_the_lifetime(officer):
    viewer = f.user(officer.membership.organization, role=Role.VIEWER)
    with pytest.raises(ValidationError, match="read-only"):
        api_token_create(user=viewer, name="Write", scope=TokenScope.READ_WRITE)
    with pytest.raises(ValidationError, match="365"):
        api_token_create(user=officer, name="Forever", lifetime_days=3650)
    nobody = f.user(officer.membership.organization)
    Membership.objects.filter(user=nobody).delete()
    with pytest.raises(PermissionDenied):
        api_token_create(user=nobody, name="No")


def test_it_records_every_api_request_in_the_access_log(officer):
    token, raw = api_token_create(user=officer, name="SIEM pull")
    bearer(raw).get(f"{API}/vendors/?page_size=10")
    bearer(raw).get(f"{API}/vendors/999999/")
    entries = list(AccessLogEntry.objects.filter(user=officer).order_by("at", "pk"))
    assert [e.action for e in entries] == [AccessAction.API, AccessAction.API]
    assert entries[0].description.startswith("API GET /api/v1/vendors/?page_size=10 \u2192 200")
    assert "SIEM pull" in entries[0].description and token.prefix in entries[0].description
    assert "\u2192 404" in entries[1].description
    assert entries[0].ip_address == "127.0.0.1"


def test_the_tokens_page_creates_shows_once_and_revokes(officer):
    client = Client()
    client.force_login(officer, backend=BACKEND)
    response = client.post(
        reverse("api:tokens"), {"name": "Contract system", "scope": "read_write", "lifetime_days": "90"}
    )
    assert response.status_code == 200
    raw = response.context["raw_token"]
    assert raw in response.content.decode() and response["Cache-Control"] == "no-store"
    assert bearer(raw).get(f"{API}/facilities/").status_code == 200
    page = client.get(reverse("api:tokens")).content.decode()
    assert raw not in page and raw[:9] in page
    token = ApiToken.objects.get()
    assert client.post(reverse("api:token_revoke", args=[token.pk])).status_code == 302
    assert bearer(raw).get(f"{API}/facilities/").status_code == 401
    assert ApiToken.history.filter(id=token.pk, history_change_reason="Token revoked").exists()


def test_nobody_sees_or_revokes_another_users_token(officer):
    token, raw = api_token_create(user=officer, name="Mine")
    admin = f.user(officer.membership.organization, role=Role.ADMIN)
    client = Client()
    client.force_login(admin, backend=BACKEND)
    assert "Mine" not in client.get(reverse("api:tokens")).content.decode()
    assert client.post(reverse("api:token_revoke", args=[token.pk])).status_code == 404
    assert bearer(raw).get(f"{API}/facilities/").status_code == 200


def test_a_viewer_is_offered_read_only_tokens_on_the_page(officer):
    viewer = f.user(officer.membership.organization, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer, backend=BACKEND)
    response = client.post(reverse("api:tokens"), {"name": "Try", "scope": "read_write", "lifetime_days": "90"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    assert client.get(reverse("api:tokens")).status_code == 200


def test_the_tokens_page_needs_sign_in(db):
    response = Client().get(reverse("api:tokens"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
