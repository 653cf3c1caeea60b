"""The API's permission world: tests/support_matrix.py's world with one of everything per scope, and a
token for every role, so that every endpoint is probed for every role and every place an object is."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from api.models import ApiToken, TokenScope
from api.services import TOKEN_PREFIX, token_digest
from checklists.models import ChecklistItem
from compliance.models import Finding
from compliance.services import run_compliance
from organizations.models import Membership
from reports.models import AuditReport, ReportStatus
from tests import factories as f
from tests.support_matrix import (
    NO_ACCESS_ROLES,
    OTHER_ORG,
    OWN_FACILITY,
    READ_ONLY_ROLES,
    SCOPES,
    MatrixWorld,
    build_matrix_world,
    expected_read,
)
from vendors.models import VendorCategory
from vendors.services import engagement_save

#: Roles that get a token. The viewer's and auditor's are read-write on purpose: their role must
#: still refuse writes whatever the token says. The expired auditor's was made while access lasted.
TOKEN_ROLES = ("admin", "officer", "limited_officer", "viewer", "auditor", "expired_auditor")


@dataclass
class ApiWorld:
    matrix: MatrixWorld
    agreements: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    tele_engagements: dict[str, Any] = field(default_factory=dict)
    items: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    done_report: Any = None

    def client(self, role: str) -> Client:
        """A client that speaks as ``role``: a token, a session for the member of nothing, nothing at all
        for the anonymous."""
        if role in self.tokens:
            return Client(HTTP_AUTHORIZATION=f"Bearer {self.tokens[role]}")
        client = Client()
        user = self.matrix.users[role]
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client


def raw_token_for(user, *, scope: str = TokenScope.READ_WRITE, label: str = "") -> str:
    """A token written directly (the service refuses a read-write token to a viewer: the gate must too)."""
    raw = f"{TOKEN_PREFIX}test-{user.username}-{label}-{scope}"
    now = timezone.now()
    ApiToken.objects.create(
        user=user,
        organization_id=Membership.objects.get(user=user).organization_id,
        name=f"{user.username} {label}".strip(),
        scope=scope,
        prefix=raw[:9],
        token_hash=token_digest(raw),
        created_at=now - datetime.timedelta(days=1),
        expires_at=now + datetime.timedelta(days=30),
    )
    return raw


def build_api_world() -> ApiWorld:
    matrix = build_matrix_world()
    world = ApiWorld(matrix=matrix)
    for scope in SCOPES:
        facility = matrix.facility_in(scope)
        vendor = matrix.vendor_in(scope)
        world.agreements[scope] = f.agreement(
            vendor, facilities=[facility], title=f"BAA at {facility.name}", expires_on=f.days(200)
        )
        world.documents[scope] = world.agreements[scope].documents.get()
        tele = f.vendor(
            facility.organization, legal_name=f"Nightreads for {facility.name}", category=VendorCategory.TELERADIOLOGY
        )

        engagement = f.engagement(tele, facility, service_description="Overnight reads")
        engagement_save(engagement=engagement)  # its checklist, as the pages make it
        world.tele_engagements[scope] = engagement
        world.items[scope] = ChecklistItem.objects.get(checklist__engagement=engagement, number=4)
        world.reports[scope] = AuditReport.objects.create(
            organization=facility.organization, facility=facility, as_of=f.TODAY
        )
    # One finished report, so that downloads are exercised too.
    done = AuditReport(
        organization=matrix.org,
        facility=matrix.facility_in(OWN_FACILITY),
        as_of=f.TODAY,
        status=ReportStatus.DONE,
        progress=100,
        sha256=hashlib.sha256(f.MINIMAL_PDF).hexdigest(),
        size_bytes=len(f.MINIMAL_PDF),
        page_count=1,
        finished_at=timezone.now(),
    )
    done.file.save("api-world-report.pdf", ContentFile(f.MINIMAL_PDF), save=False)
    done.save()
    world.done_report = done
    for org in (matrix.org, matrix.other_org):
        run_compliance(organization_id=org.pk)
    for scope in SCOPES:
        world.findings[scope] = Finding.objects.filter(
            engagement=world.tele_engagements[scope], resolved_at__isnull=True
        ).first()
    # The expired auditor's token predates the end of their access.
    for role in TOKEN_ROLES:
        world.tokens[role] = raw_token_for(matrix.users[role])
    return world


# --- Expected answers of the API (the pages' matrix, with the API's 401 where a page redirects) -----


def api_read(role: str, scope: str) -> int:
    if role in ("anonymous", "expired_auditor"):
        return 401  # no credential, or a token whose owner's access has ended
    if role in NO_ACCESS_ROLES:
        return 403
    return expected_read(role, scope)


def api_write(role: str, scope: str, success: int = 200) -> int:
    if role in ("anonymous", "expired_auditor"):
        return 401
    if role in NO_ACCESS_ROLES or role in READ_ONLY_ROLES:
        return 403
    if scope == OTHER_ORG:
        return 404
    if role == "limited_officer" and scope != OWN_FACILITY:
        return 404
    return success
