"""Single sign-on end to end: Chromium, the app on pytest-django's live server, and a real OpenID Connect
provider (authlib, tests/support/oidc_provider.py) on loopback. Discovery, the authorization code flow with
PKCE, the ID token's signature, nonce, audience and issuer checks, accounts matched by e-mail."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from identity.models import SignInEvent, SignInMethod, SignInOutcome
from identity.services import identity_provider_save
from organizations.models import Membership, Role
from tests import factories as f

pytestmark = pytest.mark.browser

CLIENT_ID = "baa-tracker-harbor"
CLIENT_SECRET = "idp-client-secret-for-tests"
REFUSED = "Single sign-on did not sign you in"


@pytest.fixture
def harbor(transactional_db, idp, live_server, monkeypatch, settings):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the provider is plain HTTP on loopback
    settings.TWO_FACTOR_REQUIRED_FOR_ADMINS = True  # single sign-on needs no second factor here
    from django.core.cache import cache

    cache.clear()  # the discovery document of an earlier test's provider
    idp.tamper = None
    idp.add_client(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=live_server.url + reverse("identity:sso_callback"),
    )
    org = f.organization(name="Harbor Imaging")
    identity_provider_save(
        organization=org,
        name="Harbor Health (test provider)",
        issuer=idp.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        email_domains="harbor.example",
        default_role=Role.VIEWER,
    )
    return org


def sso_sign_in(page, idp, *, email: str, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Work e-mail address").fill(email)
    page.get_by_role("button", name="Continue with single sign-on").click()
    page.wait_for_url(re.compile(re.escape(idp.issuer) + r"/idp/auth-x\?"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in to the identity provider").click()
    page.wait_for_load_state()


def test_it_signs_a_member_in_through_the_organizations_provider(page, idp, harbor, live_server):
    admin = f.user(harbor, role=Role.ADMIN, username="nia", email="Nia.Okafor@harbor.example", first_name="Nia")
    idp.add_user(username="nia.okafor", password="idp-password-1", email="nia.okafor@harbor.example")
    reads_before = idp.discovery_reads

    sso_sign_in(page, idp, email="nia.okafor@harbor.example", username="nia.okafor", password="idp-password-1")

    assert page.url == live_server.url + reverse("compliance:dashboard")
    assert page.locator("#account-menu").inner_text().startswith("Nia")
    # Discovery: the endpoints were read from the document (they sit at unusual paths).
    assert idp.discovery_reads > reads_before
    # Authorization code flow with PKCE (S256) and a nonce.
    asked = idp.authorization_requests[-1]
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
    assert asked["login_hint"] == "nia.okafor@harbor.example"
    token_request = idp.token_requests[-1]
    verifier = token_request["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == asked["code_challenge"]
    assert token_request["client_secret"] == CLIENT_SECRET  # the encrypted secret, decrypted for the request
    # An administrator signed in with single sign-on is not asked for the app's own second factor.
    assert page.get_by_role("link", name="Members").count() == 1
    event = SignInEvent.objects.get(user=admin)
    assert (event.method, event.outcome, event.organization_id) == (
        SignInMethod.SSO,
        SignInOutcome.SUCCEEDED,
        harbor.pk,
    )


def test_it_creates_accounts_only_when_the_administrator_allows_it(page, idp, harbor, live_server):
    idp.add_user(username="newcomer", password="idp-password-2", email="newcomer@harbor.example", given_name="Ola")
    sso_sign_in(page, idp, email="newcomer@harbor.example", username="newcomer", password="idp-password-2")
    assert "/accounts/login/" in page.url and REFUSED in page.content()
    assert not get_user_model().objects.filter(email="newcomer@harbor.example").exists()

    provider = harbor.identity_provider
    provider.allow_new_users = True
    provider.default_role = Role.COMPLIANCE_OFFICER
    provider.token_endpoint_auth = "client_secret_basic"  # as Okta applications default to
    provider.save()
    sso_sign_in(page, idp, email="newcomer@harbor.example", username="newcomer", password="idp-password-2")
    assert page.url == live_server.url + reverse("compliance:dashboard")
    membership = Membership.objects.get(user__email="newcomer@harbor.example")
    assert (membership.organization_id, membership.role) == (harbor.pk, Role.COMPLIANCE_OFFICER)
    basic = idp.token_requests[-1]
    assert basic["authorization_header"].startswith("Basic ") and "client_secret" not in basic
    assert not membership.user.has_usable_password()
    # The same e-mail address in another organization's domain list never matches this organization.
    other = f.organization(name="Elsewhere")
    f.user(other, role=Role.ADMIN, username="someone", email="someone@harbor.example")
    assert Membership.objects.filter(user__email="someone@harbor.example", organization=harbor).count() == 0


@pytest.mark.parametrize("tamper", ["signature", "nonce", "audience", "issuer"])
def test_it_refuses_a_tampered_id_token(page, idp, harbor, tamper):
    f.user(harbor, role=Role.COMPLIANCE_OFFICER, username="officer", email="officer@harbor.example")
    idp.add_user(username="officer", password="idp-password-3", email="officer@harbor.example")
    idp.tamper = tamper

    sso_sign_in(page, idp, email="officer@harbor.example", username="officer", password="idp-password-3")

    assert "/accounts/login/" in page.url and REFUSED in page.content()
    page.goto("/")
    assert "/accounts/login/" in page.url  # not signed in
    event = SignInEvent.objects.get(organization=harbor, method=SignInMethod.SSO)
    assert event.outcome == SignInOutcome.FAILED and event.user is None
    expected = {"signature": "verification failed", "nonce": "Nonce", "audience": "audience", "issuer": "issuer"}
    assert expected[tamper].lower() in event.detail.lower(), event.detail
