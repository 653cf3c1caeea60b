"""The audit log for compliance officers and auditors: sign-ins in it, filters by date and user, facility
limits, other organizations never in it, and the CSV and JSON-lines exports."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from identity.models import SignInEvent, SignInMethod, SignInOutcome
from organizations import audit_export
from organizations.models import AccessAction, AccessLogEntry, Role
from tests import factories as f

BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def org(db):
    return f.organization(name="Harbor Imaging")


@pytest.fixture
def other(db):
    return f.organization(name="Elsewhere Radiology")


def login(client, user):
    client.force_login(user, backend=BACKEND)
    return client


def entries_of(response) -> list:
    return list(response.context["entries"])


def labels_of(response) -> set[str]:
    return {entry.label for entry in entries_of(response)}


def streamed(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def test_an_auditor_reads_changes_and_sign_ins_and_sees_when_access_ends(client, org, other):
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    f.facility(org, name="Harbor North")
    f.facility(other, name="Elsewhere Clinic")
    f.user(other, role=Role.ADMIN, username="elsewhere_admin")
    login(client, officer)  # a sign-in of the officer, recorded
    client.post(reverse("login"), {"username": "elsewhere_admin", "password": "wrong-password"})  # other org's
    client.post(reverse("login"), {"username": "officer", "password": "wrong-password"})
    auditor = f.user(org, role=Role.AUDITOR, username="auditor")
    client.logout()
    response = login(client, auditor).get(reverse("organizations:activity"))
    assert response.status_code == 200
    entries = entries_of(response)
    sign_ins = [(e.label, e.action) for e in entries if e.is_sign_in]
    assert ("officer", "succeeded (password)") in sign_ins
    assert ("officer", "failed (password)") in sign_ins
    assert all(label != "elsewhere_admin" for label, _ in sign_ins)
    assert "Harbor North" in labels_of(response) and "Elsewhere Clinic" not in labels_of(response)
    html = response.content.decode()
    ends = auditor.membership.access_expires_on
    assert f"Access ends after {ends:%B} {ends.day}, {ends.year}" in html
    assert 'href="/organization/activity/"' in html  # the menu's "Audit log" link


def test_it_filters_by_date_and_user(client, org):
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    other_officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="other_officer")
    for user in (officer, other_officer):
        SignInEvent.objects.create(
            organization=org, user=user, username=user.username, method="password", outcome="succeeded"
        )
    old = SignInEvent.objects.create(
        organization=org, user=officer, username="officer", method="password", outcome="failed"
    )
    SignInEvent.objects.filter(pk=old.pk).update(at=timezone.now() - datetime.timedelta(days=40))
    login(client, officer)
    today = timezone.localdate()
    url = reverse("organizations:activity")

    by_user = client.get(url, {"user": other_officer.pk, "source": "signin"})
    assert {e.label for e in entries_of(by_user)} == {"other_officer"}

    recent = client.get(url, {"user": officer.pk, "source": "signin", "since": today - datetime.timedelta(days=7)})
    assert all(e.at.date() >= today - datetime.timedelta(days=8) for e in entries_of(recent))
    assert not any(e.action.startswith("failed") for e in entries_of(recent))

    long_ago = today - datetime.timedelta(days=40)
    back_then = client.get(url, {"source": "signin", "since": long_ago, "until": long_ago})
    assert [(e.label, e.action) for e in entries_of(back_then)] == [("officer", "failed (password)")]

    backwards = client.get(url, {"since": today, "until": long_ago})
    assert "The end date is before the start date." in backwards.content.decode()


def test_a_facility_limited_officer_sees_only_their_facilities_records(client, org):
    north, south = f.facility(org, name="North Clinic"), f.facility(org, name="South Clinic")
    north_vendor, south_vendor = (
        f.vendor(org, legal_name="North Reading Co"),
        f.vendor(org, legal_name="South Reading Co"),
    )
    f.engagement(north_vendor, north)
    f.engagement(south_vendor, south)
    admin = f.user(org, role=Role.ADMIN, username="admin")
    AccessLogEntry.objects.create(
        organization=org, user=admin, action=AccessAction.EXPORT, object_type="x", description="Exported everything"
    )
    limited = f.user(org, role=Role.COMPLIANCE_OFFICER, facilities=[north], username="limited")
    response = login(client, limited).get(reverse("organizations:activity"))
    labels = labels_of(response)
    assert {"North Clinic", "North Reading Co"} <= labels
    assert not labels & {"South Clinic", "South Reading Co", "Exported everything", "admin", "limited"}
    assert not any(e.is_sign_in or e.is_access or e.source == "membership" for e in entries_of(response))
    # The exports follow the same limits.
    body = streamed(client.get(reverse("organizations:activity_export", args=["jsonl"])))
    lines = [json.loads(line) for line in body.splitlines()]
    assert {line["record"] for line in lines} >= {"North Clinic"}
    assert not {line["record"] for line in lines} & {"South Clinic", "South Reading Co", "Exported everything"}


def test_a_user_of_another_organization_in_the_filter_finds_nothing(client, org, other):
    stranger = f.user(other, role=Role.ADMIN, username="stranger")
    SignInEvent.objects.create(
        organization=other, user=stranger, username="stranger", method="password", outcome="succeeded"
    )
    f.facility(other, name="Elsewhere Clinic")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    response = login(client, officer).get(reverse("organizations:activity"), {"user": stranger.pk})
    assert not any(e.label in {"stranger", "Elsewhere Clinic"} for e in entries_of(response))
    body = streamed(client.get(reverse("organizations:activity_export", args=["csv"]), {"user": stranger.pk}))
    assert "stranger" not in body and "Elsewhere" not in body


def test_the_csv_export_neutralises_formulas_and_is_recorded(client, org):
    f.facility(org, name='=HYPERLINK("http://evil.example","Click")')
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    response = login(client, officer).get(reverse("organizations:activity_export", args=["csv"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = list(csv.reader(io.StringIO(streamed(response).lstrip("\ufeff"))))
    assert rows[0] == audit_export.CSV_HEADERS
    records = [row[4] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil.example","Click")' in records
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)
    export = AccessLogEntry.objects.get(user=officer, action=AccessAction.EXPORT)
    assert export.description.startswith("Exported the audit log (CSV")


def test_the_json_lines_export_streams_every_entry_in_chunks(client, org, monkeypatch):
    monkeypatch.setattr(audit_export, "CHUNK", 3)
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    for i in range(8):
        SignInEvent.objects.create(
            organization=org,
            user=officer,
            username="officer",
            method=SignInMethod.TWO_FACTOR,
            outcome=SignInOutcome.FAILED,
            detail=f"try {i}",
            ip_address="192.0.2.7",
        )
    response = login(client, officer).get(
        reverse("organizations:activity_export", args=["jsonl"]), {"source": "signin"}
    )
    assert response["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in streamed(response).splitlines()]
    failed = [line for line in lines if line["action"] == "failed (two-factor code)"]
    assert len(failed) == 8 and len(lines) == 9  # and the test's own sign-in
    assert failed[0]["reason"] == "try 7; from 192.0.2.7" and failed[0]["user"] == "officer"
    assert datetime.datetime.fromisoformat(failed[0]["at"]).tzinfo is not None
    times = [line["at"] for line in lines]
    assert times == sorted(times, reverse=True)


def test_the_export_runs_the_same_queries_whatever_the_size(client, org):
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    login(client, officer)
    url = reverse("organizations:activity_export", args=["jsonl"])
    f.facility(org, name="Clinic 0")
    with CaptureQueriesContext(connection) as small:
        streamed(client.get(url))
    for i in range(1, 30):
        f.facility(org, name=f"Clinic {i}")
    with CaptureQueriesContext(connection) as large:
        body = streamed(client.get(url))
    assert body.count("Clinic ") == 30
    assert len(large.captured_queries) == len(small.captured_queries)


def test_api_use_is_in_the_log_and_its_exports_with_the_token_named(client, org):
    from django.test import Client

    from api.services import api_token_create

    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    _, raw = api_token_create(user=officer, name="GRC pull")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/vendors/").status_code == 200
    auditor = f.user(org, role=Role.AUDITOR, username="auditor")
    login(client, auditor)
    page = client.get(reverse("organizations:activity"), {"source": "access"})
    used = [e for e in entries_of(page) if e.action == "used the api"]
    assert len(used) == 1 and used[0].user == officer
    assert used[0].label.startswith("API GET /api/v1/vendors/") and "token \u201cGRC pull\u201d" in used[0].label
    response = client.get(reverse("organizations:activity_export", args=["jsonl"]), {"source": "access"})
    lines = [json.loads(line) for line in streamed(response).splitlines()]
    assert [(line["user"], line["record_type"]) for line in lines if line["action"] == "used the api"] == [
        ("officer", "access")
    ]
