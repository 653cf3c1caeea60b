"""Personal API tokens: a user's credential for the REST API, stored only as a SHA-256 digest.

45 CFR 164.312(d) person or entity authentication: a token acts as the one user who created it,
within that user's organization and facilities, and only while that user's membership is active.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from organizations.querysets import Action, RestrictedQuerySet


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"


class ApiTokenQuerySet(RestrictedQuerySet):
    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q()  # a token carries its owner's facility limits; the owner sees it whatever they are

    def restrict(self, user, action: str = Action.VIEW) -> ApiTokenQuerySet:
        # Tokens are personal: nobody, an administrator included, sees or revokes another user's token
        # from the tokens page (deactivating the member stops every token of theirs at once).
        return super().restrict(user, Action.VIEW).filter(user_id=getattr(user, "pk", None))

    def usable(self, now=None) -> ApiTokenQuerySet:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    """A personal API token. The raw token is shown once, at creation, and never stored: only its
    SHA-256 digest is (a random 256-bit secret needs no slow password hash: it cannot be guessed
    from a dictionary). ``prefix`` is its first characters, to tell tokens apart on the page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'GRC suite nightly pull'.")
    scope = models.CharField(max_length=16, choices=TokenScope.choices, default=TokenScope.READ)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField("SHA-256 of the token", max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="api_token_expires_after_creation",
                violation_error_message="A token must expire after it is created.",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("created_at")),
                name="api_token_revoked_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}\u2026)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def allows_writes(self) -> bool:
        return self.scope == TokenScope.READ_WRITE
