"""Single sign-on settings and the parts of the flow that need no browser: the secret at rest, discovery,
the e-mail box, the administrator's page. The browser flow is tests/browser/test_sso.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from identity.crypto import decrypt_secret
from identity.discovery import DiscoveryError, provider_metadata
from identity.models import IdentityProvider
from identity.services import identity_provider_save
from organizations.models import Role
from tests import factories as f

BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def org(db):
    return f.organization(name="Harbor Imaging")


def save(org, **overrides):
    values = {
        "organization": org,
        "name": "Harbor Health",
        "issuer": "https://login.example.org/harbor/v2.0/",
        "client_id": "baa-tracker",
        "client_secret": "very-secret-value",
        "email_domains": "harbor.example, @HarborHealth.example",
        "default_role": Role.VIEWER,
    }
    return identity_provider_save(**{**values, **overrides})


def test_it_stores_the_client_secret_encrypted(org):
    provider = save(org)
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret_encrypted FROM identity_identityprovider WHERE id = %s", [provider.pk])
        stored = cursor.fetchone()[0]
    assert "very-secret-value" not in stored and decrypt_secret(stored) == "very-secret-value"
    assert provider.client_secret() == "very-secret-value"
    # The history of the settings (the audit log's) never holds the secret, not even encrypted.
    history_fields = {field.name for field in provider.history.model._meta.fields}
    assert "client_secret_encrypted" not in history_fields
    # Saving without a new secret keeps the stored one; the domains are normalized.
    provider = save(org, client_secret=None, name="Harbor Health (Entra ID)")
    assert provider.client_secret() == "very-secret-value"
    assert provider.domain_list == ["harbor.example", "harborhealth.example"] and provider.issuer.endswith("v2.0")


def test_it_reads_the_secret_from_the_environment_when_told_to(org, monkeypatch):
    provider = save(org, client_secret=None, client_secret_env="HARBOR_OIDC_SECRET")
    assert provider.client_secret_encrypted == ""
    with pytest.raises(ValidationError, match="HARBOR_OIDC_SECRET is not set"):
        provider.client_secret()
    monkeypatch.setenv("HARBOR_OIDC_SECRET", "from-the-environment")
    assert provider.client_secret() == "from-the-environment"


def test_an_e_mail_domain_belongs_to_one_organization(org):
    save(org)
    with pytest.raises(ValidationError, match="already signs in with another organization"):
        save(f.organization(name="Elsewhere"), email_domains="harbor.example")
    with pytest.raises(ValidationError, match="is not a domain name"):
        save(org, email_domains="not a domain")


def test_new_accounts_are_never_administrators(org):
    with pytest.raises(ValidationError):
        save(org, default_role=Role.ADMIN)


def test_it_reads_the_endpoints_from_the_discovery_document(idp):
    metadata = provider_metadata(idp.issuer, refresh=True)
    assert metadata.token_endpoint == f"{idp.issuer}/idp/token-x"
    assert metadata.jwks_uri == f"{idp.issuer}/idp/keys-x" and "S256" in metadata.code_challenge_methods


def test_it_refuses_a_discovery_document_of_another_issuer(idp):
    # Same server, other name: the document says 127.0.0.1, the configuration localhost.
    other_name = idp.issuer.replace("127.0.0.1", "localhost")
    with pytest.raises(DiscoveryError, match="names the issuer"):
        provider_metadata(other_name, refresh=True)
    with pytest.raises(DiscoveryError, match="Could not read"):
        provider_metadata(idp.issuer + "/no-such-tenant", refresh=True)


def test_the_e_mail_box_sends_to_the_domains_provider(client, org):
    provider = save(org)
    response = client.post(reverse("identity:sso_by_email"), {"email": "Nia@HarborHealth.example"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("identity:sso_start", args=[provider.pk]) + "?")
    assert "login_hint=Nia%40HarborHealth.example" in response.url
    unknown = client.post(reverse("identity:sso_by_email"), {"email": "someone@gmail.example"}, follow=True)
    assert "not set up for that e-mail domain" in unknown.content.decode()
    provider.is_enabled = False
    provider.save()
    disabled = client.post(reverse("identity:sso_by_email"), {"email": "nia@harbor.example"}, follow=True)
    assert "not set up for that e-mail domain" in disabled.content.decode()


def test_the_sign_in_page_shows_only_the_buttons_asked_for(client, org):
    save(org, show_button=False)
    save(f.organization(name="Bayview"), name="Bayview Okta", email_domains="bayview.example", show_button=True)
    html = client.get(reverse("login")).content.decode()
    assert "Sign in with Bayview Okta" in html and "Harbor Health" not in html
    assert "Continue with single sign-on" in html


def test_an_administrator_configures_single_sign_on_and_the_two_factor_rule(client, org):
    admin = f.user(org, role=Role.ADMIN, username="harbor_admin")
    client.force_login(admin, backend=BACKEND)
    page = client.get(reverse("identity:sign_in_settings"))
    assert page.status_code == 200 and "/sso/callback/" in page.content.decode()
    response = client.post(
        reverse("identity:sign_in_settings"),
        {
            "form": "provider",
            "idp-name": "Harbor Health (Okta)",
            "idp-issuer": "https://harbor.okta.example/oauth2/default",
            "idp-client_id": "0oa1b2c3",
            "idp-client_secret": "okta-client-secret",
            "idp-email_domains": "harbor.example",
            "idp-default_role": Role.COMPLIANCE_OFFICER,
            "idp-allow_new_users": "on",
            "idp-is_enabled": "on",
            "idp-token_endpoint_auth": "client_secret_basic",
        },
    )
    assert response.status_code == 302, response.content.decode()
    provider = IdentityProvider.objects.get(organization=org)
    assert provider.client_secret() == "okta-client-secret" and provider.allow_new_users
    assert provider.token_endpoint_auth == "client_secret_basic"
    assert "okta-client-secret" not in client.get(reverse("identity:sign_in_settings")).content.decode()
    client.post(reverse("identity:sign_in_settings"), {"form": "policy", "two_factor_required": "on"})
    assert org.sign_in_policy.two_factor_required
    # Both changes are in the audit log.
    log = client.get(reverse("organizations:activity")).content.decode()
    assert "Single sign-on settings" in log and "Two-factor policy" in log
