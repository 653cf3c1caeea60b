"""The permission matrix: every role x where the object is, read and write, with the expected answer.

Reusable by every app's view tests::

    from tests.support_matrix import SCOPES, assert_matrix, expected_read, expected_write, matrix_world  # noqa: F401

    def test_it_guards_the_vendor_page(client, matrix_world):
        def url(scope):
            return reverse("vendors:detail", args=[matrix_world.vendor_in(scope).pk])
        assert_matrix(client, matrix_world, url=url, expected=expected_read)

    def test_it_guards_the_vendor_update(client, matrix_world):
        assert_matrix(
            client, matrix_world,
            url=lambda scope: reverse("vendors:update", args=[matrix_world.vendor_in(scope).pk]),
            method="post",
            data=lambda scope: {...valid form data...},
            expected=lambda role, scope: expected_write(role, scope, success=302),
        )

``matrix_world`` is a pytest fixture (import it into the test module, or into a conftest.py).

The world: organization ``org`` with facilities ``own_facility`` and ``other_facility``, another
organization ``other_org`` with ``other_org_facility``; at each facility a vendor with an active PHI
engagement (``vendor_in(scope)``, ``engagement_in(scope)``, ``facility_in(scope)``). The users
(``users[role]``) are members of ``org``:

    admin, officer              every facility; may change
    limited_officer             officer limited to ``own_facility``
    viewer, auditor             read-only (the auditor's access ends in the future)
    expired_auditor             auditor whose access ended yesterday: no access at all
    no_membership               signed in, member of nothing
    anonymous                   not signed in

Expected answers (the gate of organizations.mixins / organizations.middleware):

    anonymous                         -> 302 to the sign-in page
    no_membership, expired_auditor    -> 403 (the "no access" page)
    read:  another organization's object -> 404; limited_officer outside own_facility -> 404; else 200
    write: viewer, auditor            -> 403 whatever the object
           another organization's object -> 404; limited_officer outside own_facility -> 404
           else ``success`` (302 after a POST that redirects, 200 ...)
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.utils import timezone

from organizations.models import Membership, Role
from tests import factories as f

BACKEND = "django.contrib.auth.backends.ModelBackend"

OWN_FACILITY = "own_facility"
OTHER_FACILITY = "other_facility"
OTHER_ORG = "other_org"
SCOPES = (OWN_FACILITY, OTHER_FACILITY, OTHER_ORG)

ROLES = (
    "admin",
    "officer",
    "limited_officer",
    "viewer",
    "auditor",
    "expired_auditor",
    "no_membership",
    "anonymous",
)
READ_ONLY_ROLES = ("viewer", "auditor")
NO_ACCESS_ROLES = ("expired_auditor", "no_membership")


@dataclass
class MatrixWorld:
    org: Any
    other_org: Any
    facilities: dict[str, Any]
    vendors: dict[str, Any]
    engagements: dict[str, Any]
    users: dict[str, Any] = field(default_factory=dict)

    def facility_in(self, scope: str):
        return self.facilities[scope]

    def vendor_in(self, scope: str):
        return self.vendors[scope]

    def engagement_in(self, scope: str):
        return self.engagements[scope]

    def organization_of(self, scope: str):
        return self.other_org if scope == OTHER_ORG else self.org


def build_matrix_world() -> MatrixWorld:
    org = f.organization(name="Matrix Imaging Network")
    other_org = f.organization(name="Elsewhere Health")
    facilities = {
        OWN_FACILITY: f.facility(org, name="Own Imaging Center"),
        OTHER_FACILITY: f.facility(org, name="Other Imaging Center"),
        OTHER_ORG: f.facility(other_org, name="Elsewhere Radiology"),
    }
    vendors, engagements = {}, {}
    for scope, facility in facilities.items():
        vendors[scope] = f.vendor(facility.organization, legal_name=f"Vendor at {facility.name}")
        engagements[scope] = f.engagement(vendors[scope], facility, service_description=f"Archive for {facility.name}")
    users = {
        "admin": f.user(org, role=Role.ADMIN, username="m_admin"),
        "officer": f.user(org, role=Role.COMPLIANCE_OFFICER, username="m_officer"),
        "limited_officer": f.user(
            org, role=Role.COMPLIANCE_OFFICER, facilities=[facilities[OWN_FACILITY]], username="m_limited"
        ),
        "viewer": f.user(org, role=Role.VIEWER, username="m_viewer"),
        "auditor": f.user(org, role=Role.AUDITOR, username="m_auditor"),
        "expired_auditor": f.user(org, role=Role.AUDITOR, username="m_expired"),
        "no_membership": f.account("m_nobody"),
        "anonymous": None,
    }
    today = timezone.localdate()
    Membership.objects.filter(user=users["auditor"]).update(access_expires_on=today + datetime.timedelta(days=30))
    Membership.objects.filter(user=users["expired_auditor"]).update(
        access_expires_on=today - datetime.timedelta(days=1)
    )
    return MatrixWorld(
        org=org, other_org=other_org, facilities=facilities, vendors=vendors, engagements=engagements, users=users
    )


@pytest.fixture
def matrix_world(db) -> MatrixWorld:
    return build_matrix_world()


def expected_read(role: str, scope: str) -> int:
    if role == "anonymous":
        return 302
    if role in NO_ACCESS_ROLES:
        return 403
    if scope == OTHER_ORG:
        return 404
    if role == "limited_officer" and scope != OWN_FACILITY:
        return 404
    return 200


def expected_write(role: str, scope: str, success: int = 302) -> int:
    if role == "anonymous":
        return 302
    if role in NO_ACCESS_ROLES or role in READ_ONLY_ROLES:
        return 403
    if scope == OTHER_ORG:
        return 404
    if role == "limited_officer" and scope != OWN_FACILITY:
        return 404
    return success


def expected_admin_only(role: str, scope: str = OWN_FACILITY, success: int = 200) -> int:
    """Pages of the organization's administration (members, activity)."""
    if role == "anonymous":
        return 302
    if role != "admin":
        return 403
    return 404 if scope == OTHER_ORG else success


def expected_audit(role: str, scope: str = OWN_FACILITY, success: int = 200) -> int:
    """The audit log: administrators, compliance officers (limited ones see their facilities' records)
    and auditors; not viewers (Action.AUDIT)."""
    if role == "anonymous":
        return 302
    if role not in ("admin", "officer", "limited_officer", "auditor"):
        return 403
    return success


def login_as(client, world: MatrixWorld, role: str):
    client.logout()
    user = world.users[role]
    if user is not None:
        client.force_login(user, backend=BACKEND)
    return user


def assert_matrix(
    client,
    world: MatrixWorld,
    *,
    url: Callable[[str], str],
    expected: Callable[[str, str], int] = expected_read,
    method: str = "get",
    data: dict | Callable[[str], dict] | None = None,
    roles: tuple[str, ...] = ROLES,
    scopes: tuple[str, ...] = SCOPES,
    check: Callable[[str, str, Any], str | None] | None = None,
) -> None:
    """Request ``url(scope)`` as every role and compare the status with ``expected(role, scope)``.

    ``url`` and ``data`` are called again for every request, so a write can create a fresh object
    each time. ``check(role, scope, response)`` may return a message for a further failure (e.g. a
    302 that went to the sign-in page). All mismatches are reported together.
    """
    failures = []
    for scope in scopes:
        for role in roles:
            login_as(client, world, role)
            target = url(scope)
            payload = data(scope) if callable(data) else data
            response = getattr(client, method)(target, payload or {})
            want = expected(role, scope)
            if response.status_code != want:
                failures.append(
                    f"{role:16} {method.upper()} {scope:14} {target}: {response.status_code}, expected {want}"
                )
                continue
            if want == 302 and role == "anonymous" and "/accounts/login/" not in response.get("Location", ""):
                failures.append(f"anonymous {method.upper()} {target}: redirected to {response['Location']}")
            if check is not None:
                problem = check(role, scope, response)
                if problem:
                    failures.append(f"{role:16} {method.upper()} {scope:14} {target}: {problem}")
    client.logout()
    assert not failures, "permission matrix mismatches:\n" + "\n".join(failures)


def visible_roles(scope: str) -> tuple[str, ...]:
    """Roles that may see an object at ``scope`` (for list pages: whose list must show it)."""
    return tuple(role for role in ROLES if expected_read(role, scope) == 200)


def assert_list_matrix(
    client, world: MatrixWorld, *, url: str, marker: Callable[[str], str], roles: tuple[str, ...] = ROLES
) -> None:
    """A list page: every role with access gets 200 and sees exactly the objects of the scopes it may
    see (``marker(scope)`` is a text that only the object at ``scope`` puts on the page)."""
    failures = []
    for role in roles:
        login_as(client, world, role)
        response = client.get(url)
        want = 200 if role not in NO_ACCESS_ROLES and role != "anonymous" else expected_read(role, OWN_FACILITY)
        if response.status_code != want:
            failures.append(f"{role}: {response.status_code}, expected {want}")
            continue
        if want != 200:
            continue
        content = response.content.decode()
        for scope in SCOPES:
            shown = marker(scope) in content
            should = expected_read(role, scope) == 200
            if shown != should:
                failures.append(f"{role}: {scope} object {'shown' if shown else 'hidden'} on {url}")
    client.logout()
    assert not failures, "list visibility mismatches:\n" + "\n".join(failures)
