"""Sign-in settings of an organization (single sign-on, two-factor policy) and the sign-in log."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from identity.crypto import decrypt_secret
from organizations.models import Organization, Role
from organizations.querysets import RestrictedQuerySet


class IdentityProviderQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(pk__in=[])  # organization-wide settings: for unrestricted members only


class IdentityProvider(models.Model):
    """An organization's OpenID Connect identity provider (Entra ID, Okta, Google Workspace ...).

    HHS 405(d) HICP practice 3 (identity and access management): staff sign in with the hospital's own
    accounts, so leaving the hospital ends their access here too. The client secret is stored
    encrypted (identity.crypto) or read from an environment variable named by the administrator.
    """

    organization = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="identity_provider")
    name = models.CharField(max_length=80, help_text='Shown on the sign-in button, e.g. "Northwind Health (Entra ID)".')
    issuer = models.URLField(
        help_text="The issuer URL; its /.well-known/openid-configuration is read for the endpoints and keys."
    )
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    client_secret_env = models.CharField(
        "client secret environment variable",
        max_length=100,
        blank=True,
        help_text="Instead of storing the secret: the name of an environment variable of the server that holds it.",
    )
    token_endpoint_auth = models.CharField(
        "client authentication",
        max_length=24,
        choices=[
            ("client_secret_post", "Client secret in the request body (client_secret_post)"),
            ("client_secret_basic", "Client secret as HTTP Basic (client_secret_basic)"),
        ],
        default="client_secret_post",
        help_text="As configured for the application at the provider (Okta's default is client_secret_basic).",
    )
    email_domains = models.CharField(
        max_length=500,
        help_text="Comma-separated e-mail domains that sign in here, e.g. northwind.org, nwhealth.com.",
    )
    show_button = models.BooleanField(
        "show a button on the sign-in page",
        default=False,
        help_text="Otherwise people type their e-mail address and are sent to the provider of its domain.",
    )
    allow_new_users = models.BooleanField(
        "create accounts for new people",
        default=False,
        help_text="Off: only people who already have an account with this e-mail address can sign in.",
    )
    default_role = models.CharField(
        "role of new accounts",
        max_length=32,
        choices=[(Role.VIEWER, Role.VIEWER.label), (Role.COMPLIANCE_OFFICER, Role.COMPLIANCE_OFFICER.label)],
        default=Role.VIEWER,
    )
    is_enabled = models.BooleanField("enabled", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["client_secret_encrypted", "updated_at"])

    objects = IdentityProviderQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(default_role__in=[Role.VIEWER, Role.COMPLIANCE_OFFICER]),
                name="identityprovider_default_role_not_privileged",
                violation_error_message="New accounts can be viewers or compliance officers only.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"

    def clean(self) -> None:
        domains = self.domain_list
        if not domains:
            raise ValidationError({"email_domains": "Give at least one e-mail domain, e.g. northwind.org."})
        for domain in domains:
            if "." not in domain or "@" in domain or " " in domain:
                raise ValidationError({"email_domains": f"{domain!r} is not a domain name like northwind.org."})
        taken = (
            IdentityProvider.objects.exclude(pk=self.pk)
            .exclude(organization_id=self.organization_id)
            .values_list("email_domains", flat=True)
        )
        for other in taken:
            clash = set(domains) & set(_split_domains(other))
            if clash:
                raise ValidationError(
                    {"email_domains": f"{', '.join(sorted(clash))} already signs in with another organization."}
                )
        self.email_domains = ", ".join(domains)
        self.issuer = self.issuer.rstrip("/")

    @property
    def domain_list(self) -> list[str]:
        return _split_domains(self.email_domains)

    def accepts_email(self, email: str) -> bool:
        return email.rpartition("@")[2].lower() in self.domain_list

    def client_secret(self) -> str:
        """The secret for the token request: from the named environment variable, or decrypted."""
        if self.client_secret_env:
            value = os.environ.get(self.client_secret_env, "")
            if not value:
                raise ValidationError(f"The environment variable {self.client_secret_env} is not set on the server.")
            return value
        if not self.client_secret_encrypted:
            return ""  # a public client (PKCE only)
        return decrypt_secret(self.client_secret_encrypted)


def _split_domains(raw: str) -> list[str]:
    return sorted({part.strip().lower().lstrip("@") for part in raw.replace(";", ",").split(",") if part.strip()})


class SignInPolicyQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(pk__in=[])


class SignInPolicy(models.Model):
    """An organization's choice to require two-factor sign-in of everyone with a local password.

    Administrators always need it (settings.TWO_FACTOR_REQUIRED_FOR_ADMINS); HHS 405(d) HICP practice 3
    recommends multi-factor authentication for every account that reaches patient-related records.
    """

    organization = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="sign_in_policy")
    two_factor_required = models.BooleanField(
        "require two-factor sign-in for everyone",
        default=False,
        help_text="Applies to password sign-in; single sign-on relies on the identity provider's own checks.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    objects = SignInPolicyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Sign-in policy of {self.organization}"


class SignInMethod(models.TextChoices):
    PASSWORD = "password", "Password"
    TWO_FACTOR = "two_factor", "Two-factor code"
    RECOVERY_CODE = "recovery_code", "Recovery code"
    SSO = "sso", "Single sign-on"


class SignInOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Signed in"
    FAILED = "failed", "Failed sign-in"
    LOCKED_OUT = "locked_out", "Locked out"


class SignInEventQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(pk__in=[])  # who signs in is organization-wide: unrestricted members only


class SignInEvent(models.Model):
    """One sign-in or failed sign-in (45 CFR 164.308(a)(5)(ii)(C), log-in monitoring; 164.312(b)).

    A failed attempt with an unknown username belongs to no organization and is not stored here
    (django-axes still counts it for the lockout).
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sign_in_events")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    username = models.CharField(max_length=254, help_text="As typed, or the e-mail address the provider sent.")
    method = models.CharField(max_length=16, choices=SignInMethod.choices)
    outcome = models.CharField(max_length=16, choices=SignInOutcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = SignInEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["organization", "-at"])]

    def __str__(self) -> str:
        return f"{self.username}: {self.get_outcome_display()} ({self.get_method_display()})"
