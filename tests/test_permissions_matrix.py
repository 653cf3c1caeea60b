"""The permission matrix of the compliance officer's pages (tests/support_matrix.py has the helper)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.models import Finding
from compliance.services import run_compliance
from organizations.models import Membership, Role
from tests import factories as f
from tests.support_matrix import (
    OTHER_ORG,
    OWN_FACILITY,
    ROLES,
    assert_list_matrix,
    assert_matrix,
    expected_admin_only,
    expected_audit,
    expected_read,
    expected_write,
    matrix_world,  # noqa: F401 - the fixture
)


@pytest.fixture
def world(matrix_world):  # noqa: F811
    for org in (matrix_world.org, matrix_world.other_org):
        run_compliance(organization_id=org.pk)
    return matrix_world


def finding_in(world, scope: str) -> Finding:
    return Finding.objects.get(engagement=world.engagement_in(scope), resolved_at__isnull=True)


def vendor_marker(world):
    return lambda scope: world.vendor_in(scope).legal_name


@pytest.mark.parametrize(
    "url_name",
    ["compliance:dashboard", "compliance:coverage", "compliance:finding_list"],
)
def test_it_shows_each_role_only_what_it_may_see_on_the_list_pages(client, world, url_name):
    assert_list_matrix(client, world, url=reverse(url_name), marker=vendor_marker(world))


def test_it_exports_only_what_each_role_may_see(client, world):
    assert_list_matrix(
        client, world, url=reverse("compliance:finding_export") + "?format=csv", marker=vendor_marker(world)
    )


def test_it_guards_the_finding_page(client, world):
    assert_matrix(
        client,
        world,
        url=lambda scope: reverse("compliance:finding_detail", args=[finding_in(world, scope).pk]),
        expected=expected_read,
    )


def test_it_guards_the_acknowledgement_of_a_finding(client, world):
    def check(role, scope, response):
        if response.status_code == 302 and role != "anonymous":
            finding = finding_in(world, scope)
            if finding.acknowledged_by != world.users[role]:
                return "the acknowledgement was not recorded"
        return None

    assert_matrix(
        client,
        world,
        url=lambda scope: reverse("compliance:finding_acknowledge", args=[finding_in(world, scope).pk]),
        method="post",
        data={"note": "Calling the vendor's counsel this week."},
        expected=lambda role, scope: expected_write(role, scope, success=302),
        check=check,
    )
    # Nobody without the right to change managed to acknowledge anything.
    acknowledged_by = set(
        Finding.objects.exclude(acknowledged_by=None).values_list("acknowledged_by__username", flat=True)
    )
    assert acknowledged_by <= {"m_admin", "m_officer", "m_limited"}
    assert not Finding.objects.filter(organization=world.other_org).exclude(acknowledged_by=None).exists()


@pytest.mark.parametrize(
    "url_name", ["organizations:members", "identity:sign_in_settings", "organizations:member_create"]
)
def test_it_keeps_the_administration_pages_for_admins(client, world, url_name):
    assert_matrix(
        client,
        world,
        url=lambda scope: reverse(url_name),
        expected=expected_admin_only,
        scopes=(OWN_FACILITY,),
    )


@pytest.mark.parametrize("fmt", ["page", "csv", "jsonl"])
def test_it_opens_the_audit_log_to_officers_and_auditors(client, world, fmt):
    def url(scope):
        return (
            reverse("organizations:activity") if fmt == "page" else reverse("organizations:activity_export", args=[fmt])
        )

    assert_matrix(client, world, url=url, expected=expected_audit, scopes=(OWN_FACILITY,))


def test_it_finds_no_member_of_another_organization(client, world):
    outsider = f.user(world.other_org, role=Role.VIEWER, username="elsewhere_viewer")
    membership = Membership.objects.get(user=outsider)
    own = Membership.objects.get(user=world.users["viewer"])

    def url(scope):
        return reverse("organizations:member_update", args=[(membership if scope == OTHER_ORG else own).pk])

    assert_matrix(
        client,
        world,
        url=url,
        expected=lambda role, scope: expected_admin_only(role, scope, success=200),
        scopes=(OWN_FACILITY, OTHER_ORG),
    )
    assert_matrix(
        client,
        world,
        url=lambda scope: reverse("organizations:member_set_active", args=[membership.pk]),
        method="post",
        data={"active": "0"},
        expected=lambda role, scope: expected_admin_only(role, OTHER_ORG),
        scopes=(OTHER_ORG,),
    )
    outsider.refresh_from_db()
    assert outsider.is_active


def test_it_lists_every_role_of_the_matrix():
    # The helper's table is what other apps' tests rely on: keep it complete.
    assert set(ROLES) == {
        "admin",
        "officer",
        "limited_officer",
        "viewer",
        "auditor",
        "expired_auditor",
        "no_membership",
        "anonymous",
    }
    assert expected_read("limited_officer", "other_facility") == 404
    assert expected_write("viewer", OWN_FACILITY) == 403
    assert expected_write("officer", OTHER_ORG) == 404
