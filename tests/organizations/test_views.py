"""The organization's administration pages: members and the activity log."""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements.models import AgreementStatus
from organizations.models import AccessAction, AccessLogEntry, Membership, Role
from tests import factories as f
from vendors.services import engagement_save

BACKEND = "django.contrib.auth.backends.ModelBackend"
STRONG = "Radiology-Vendor-Check-2026"


def login(client, user):
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def org(db):
    return f.organization(name="Harbor Imaging")


@pytest.fixture
def admin(org):
    return f.user(org, role=Role.ADMIN, username="harbor_admin")


# --- Members ------------------------------------------------------------------------------------------


def test_it_lists_the_members_with_roles_and_limits(client, org, admin):
    facility = f.facility(org, name="Harbor North")
    f.user(org, role=Role.COMPLIANCE_OFFICER, facilities=[facility], username="limited_one")
    f.user(f.organization(), role=Role.ADMIN, username="someone_elsewhere")
    response = login(client, admin).get(reverse("organizations:members"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "limited_one" in html and "Harbor North" in html and "Compliance officer" in html
    assert "someone_elsewhere" not in html


def test_it_creates_a_member_limited_to_facilities(client, org, admin):
    north, south = f.facility(org, name="North"), f.facility(org, name="South")
    response = login(client, admin).post(
        reverse("organizations:member_create"),
        {
            "username": "new_officer",
            "first_name": "Nia",
            "last_name": "Okafor",
            "email": "nia@example.org",
            "password": STRONG,
            "role": Role.COMPLIANCE_OFFICER,
            "facilities": [north.pk],
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("organizations:members")
    membership = Membership.objects.get(user__username="new_officer")
    assert membership.organization == org and membership.role == Role.COMPLIANCE_OFFICER
    assert membership.limited_facility_ids == [north.pk] and south.pk not in membership.limited_facility_ids
    assert membership.user.check_password(STRONG)
    # The creation is in the organization's history, by the admin.
    created = Membership.history.model.objects.get(id=membership.pk, history_type="+")
    assert created.history_user == admin


def test_it_refuses_a_weak_password(client, org, admin):
    response = login(client, admin).post(
        reverse("organizations:member_create"),
        {"username": "weak", "email": "weak@example.org", "password": "password1", "role": Role.VIEWER},
    )
    assert response.status_code == 400
    assert "too common" in response.content.decode() or "too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="weak").exists()


def test_it_requires_an_end_date_for_an_auditor(client, org, admin):
    data = {"username": "aud", "email": "aud@example.org", "password": STRONG, "role": Role.AUDITOR}
    response = login(client, admin).post(reverse("organizations:member_create"), data)
    assert response.status_code == 400 and "An auditor&#x27;s access needs an end date." in response.content.decode()
    ends = timezone.localdate() + datetime.timedelta(days=14)
    response = client.post(reverse("organizations:member_create"), {**data, "access_expires_on": ends.isoformat()})
    assert response.status_code == 302
    assert Membership.objects.get(user__username="aud").access_expires_on == ends


def test_it_refuses_a_facility_of_another_organization(client, org, admin):
    elsewhere = f.facility(f.organization(), name="Elsewhere")
    response = login(client, admin).post(
        reverse("organizations:member_create"),
        {
            "username": "sneaky",
            "email": "s@example.org",
            "password": STRONG,
            "role": Role.VIEWER,
            "facilities": [elsewhere.pk],
        },
    )
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="sneaky").exists()


def test_it_changes_a_role(client, org, admin):
    viewer = f.user(org, role=Role.VIEWER)
    membership = Membership.objects.get(user=viewer)
    response = login(client, admin).post(
        reverse("organizations:member_update", args=[membership.pk]), {"role": Role.COMPLIANCE_OFFICER}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.COMPLIANCE_OFFICER


def test_it_keeps_at_least_one_active_administrator(client, org, admin):
    membership = Membership.objects.get(user=admin)
    response = login(client, admin).post(
        reverse("organizations:member_update", args=[membership.pk]), {"role": Role.VIEWER}
    )
    assert response.status_code == 400
    assert "at least one active administrator" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_it_deactivates_and_reactivates_a_member(client, org, admin):
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="leaving")
    membership = Membership.objects.get(user=officer)
    url = reverse("organizations:member_set_active", args=[membership.pk])
    response = login(client, admin).post(url, {"active": "0"})
    assert response.status_code == 302
    officer.refresh_from_db()
    assert not officer.is_active
    # The deactivated account can no longer sign in.
    other = type(client)()
    response = other.post(reverse("login"), {"username": "leaving", "password": f.PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in other.session
    latest = Membership.history.model.objects.filter(id=membership.pk).order_by("-history_date").first()
    assert latest.history_change_reason == "Account deactivated" and latest.history_user == admin
    client.post(url, {"active": "1"})
    officer.refresh_from_db()
    assert officer.is_active


def test_it_refuses_to_deactivate_oneself(client, org, admin):
    membership = Membership.objects.get(user=admin)
    f.user(org, role=Role.ADMIN)  # another admin exists: the refusal is about oneself
    response = login(client, admin).post(
        reverse("organizations:member_set_active", args=[membership.pk]), {"active": "0"}, follow=True
    )
    assert "You cannot deactivate your own account." in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_it_shows_a_clear_page_to_a_user_without_access(client, org):
    nobody = f.account("nobody")
    response = login(client, nobody).get(reverse("compliance:dashboard"))
    assert response.status_code == 403
    assert "You have no access to an organization" in response.content.decode()
    expired = f.user(org, role=Role.AUDITOR)
    Membership.objects.filter(user=expired).update(access_expires_on=timezone.localdate() - datetime.timedelta(days=1))
    response = login(client, expired).get(reverse("compliance:finding_list"))
    assert response.status_code == 403 and "its end date has passed" in response.content.decode()


def test_it_renews_the_session_on_keepalive(client, org, admin):
    response = login(client, admin).get(reverse("organizations:keepalive"))
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    client.logout()
    assert client.get(reverse("organizations:keepalive")).status_code == 302


# --- Activity log ---------------------------------------------------------------------------------------


def make_history(org, user, n: int = 1, start: int = 0):
    """Changes of facilities, vendors, engagements and agreements, as ``user``."""
    for i in range(start, start + n):
        facility = f.facility(org, name=f"Clinic {i} of {org.name}")
        vendor = f.vendor(org, legal_name=f"Vendor {i} of {org.name}")
        engagement = f.engagement(vendor, facility)
        engagement.status = "offboarded"
        engagement.ends_on = timezone.localdate()
        engagement_save(engagement=engagement)
        baa = f.agreement(vendor, title=f"BAA {i} of {org.name}", status=AgreementStatus.DRAFT)
        baa.notes = "Sent to counsel"
        baa.save()
    for model in (
        "facilities.Facility",
        "vendors.Vendor",
        "vendors.Engagement",
        "agreements.BusinessAssociateAgreement",
    ):
        apps.get_model(model).history.model.objects.filter(history_user=None).update(history_user=user)


def test_it_merges_changes_and_downloads_newest_first(client, org, admin):
    make_history(org, admin)
    make_history(f.organization(name="Elsewhere"), admin)
    AccessLogEntry.objects.create(
        organization=org,
        user=admin,
        action=AccessAction.EXPORT,
        object_type="compliance.finding",
        description="Exported 3 findings",
    )
    response = login(client, admin).get(reverse("organizations:activity"))
    assert response.status_code == 200
    entries = [entry for entry in response.context["entries"] if not entry.is_sign_in]  # the test's own sign-in
    assert entries[0].is_access and entries[0].label == "Exported 3 findings"
    times = [entry.at for entry in entries]
    assert times == sorted(times, reverse=True)
    labels = {(entry.source, entry.action, entry.label) for entry in entries}
    assert ("facility", "created", "Clinic 0 of Harbor Imaging") in labels
    assert ("engagement", "changed", "Vendor 0 of Harbor Imaging at Clinic 0 of Harbor Imaging") in labels
    assert ("agreement", "changed", "BAA 0 of Harbor Imaging") in labels
    assert not any("Elsewhere" in entry.label for entry in entries)
    changed_engagement = next(e for e in entries if e.source == "engagement" and e.action == "changed")
    assert {"status", "ends on"} <= set(changed_engagement.changes)
    changed_baa = next(e for e in entries if e.source == "agreement" and e.action == "changed")
    assert changed_baa.changes == ["notes"]
    # Who did it: the user recorded with each change (the fixture's own setup has no user).
    assert {entry.user for entry in entries if entry.source in ("facility", "vendor", "engagement", "agreement")} == {
        admin
    }


def test_it_filters_the_activity_by_user_and_record(client, org, admin):
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="harbor_officer")
    make_history(org, officer)
    AccessLogEntry.objects.create(
        organization=org,
        user=admin,
        action=AccessAction.DOWNLOAD,
        object_type="agreements.agreementdocument",
        description="signed.pdf",
    )
    login(client, admin)
    by_officer = client.get(reverse("organizations:activity") + f"?user={officer.pk}").context["entries"]
    assert by_officer and {entry.user for entry in by_officer} == {officer}
    vendors = client.get(reverse("organizations:activity") + "?source=vendor").context["entries"]
    assert vendors and {entry.source for entry in vendors} == {"vendor"}
    access = client.get(reverse("organizations:activity") + "?source=access").context["entries"]
    assert [entry.label for entry in access] == ["signed.pdf"]


def test_it_runs_the_same_number_of_queries_on_the_activity_log_whatever_the_data(client, org, admin):
    make_history(org, admin, n=1)
    login(client, admin)
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("organizations:activity"))
    make_history(org, admin, n=15, start=1)
    with CaptureQueriesContext(connection) as large:
        response = client.get(reverse("organizations:activity"))
    assert len(response.context["entries"]) == 50
    assert len(large.captured_queries) == len(small.captured_queries)
