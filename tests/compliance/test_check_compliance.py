"""manage.py check_compliance: runs the engine and reports open findings per kind, as a table or JSON."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from compliance.models import Finding, FindingKind, Severity
from compliance.rules import RULES
from tests import factories as f
from vendors.models import VendorCategory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("check_compliance", *args, stdout=out)
    return out.getvalue()


def run_json(*args: str) -> dict:
    return json.loads(run("--json", *args))


@pytest.fixture
def org_with_missing_baa():
    """An AI tool used without a BAA (missing BAA, critical) and a covered PACS (no finding)."""
    org = f.organization(name="Lakeside Imaging Network")
    facility = f.facility(org, name="Lakeside Imaging Center")
    ai = f.vendor(org, legal_name="Aidoc", category=VendorCategory.AI_DIAGNOSTIC)
    f.engagement(ai, facility, service_description="Stroke triage (LVO)")
    pacs = f.vendor(org, legal_name="Sectra Inc.")
    f.engagement(pacs, facility, service_description="Cloud PACS archive")
    f.agreement(pacs)
    return org


def test_it_prints_a_table_of_open_findings_per_kind_and_severity(org_with_missing_baa):
    output = run()

    lines = output.splitlines()
    assert lines[0].startswith(f"Compliance run as of {timezone.localdate():%Y-%m-%d} for all organizations")
    assert "1 opened, 0 resolved, 0 still open" in lines[0]
    header = next(line for line in lines if line.startswith("Open findings"))
    assert header.split()[-5:] == ["Total", "Critical", "High", "Medium", "Low"]
    for kind in FindingKind:
        assert any(line.startswith(kind.label) for line in lines), kind.label
    missing = next(line for line in lines if line.startswith("Missing BAA"))
    assert missing.split()[-5:] == ["1", "1", "0", "0", "0"]
    expiring = next(line for line in lines if line.startswith(FindingKind.BAA_EXPIRING.label))
    assert expiring.split()[-5:] == ["0", "0", "0", "0", "0"]
    assert lines[-1].split() == ["Total", "1", "1", "0", "0", "0"]


def test_it_names_the_organization_in_the_table(org_with_missing_baa):
    output = run("--organization", str(org_with_missing_baa.pk))

    assert f"for Lakeside Imaging Network (id {org_with_missing_baa.pk})" in output


def test_it_prints_one_json_object_with_every_kind_and_the_run_summary(org_with_missing_baa):
    result = run_json()

    assert set(result) >= {"opened", "resolved", "still_open", "as_of", "open_by_kind"}
    assert set(result["open_by_kind"]) == set(FindingKind.values)
    assert result["open_by_kind"] == {kind: int(kind == FindingKind.MISSING_BAA) for kind in FindingKind.values}
    assert result["open_by_severity"] == {s: int(s == Severity.CRITICAL) for s in Severity.values}
    assert (result["opened"], result["resolved"], result["still_open"]) == (1, 0, 0)
    assert result["as_of"] == timezone.localdate().isoformat()
    assert result["open_total"] == 1
    assert result["organization_id"] is None


def test_it_reports_the_second_run_as_still_open(org_with_missing_baa):
    run_json()

    result = run_json()

    assert (result["opened"], result["resolved"], result["still_open"]) == (0, 0, 1)
    assert Finding.objects.open().count() == 1


def test_it_limits_the_run_and_the_counts_to_one_organization(org_with_missing_baa):
    other = f.organization(name="Other Health")
    f.engagement(f.vendor(other), f.facility(other))  # a missing BAA of another organization

    result = run_json("--organization", str(org_with_missing_baa.pk))

    assert result["organization_id"] == org_with_missing_baa.pk
    assert result["opened"] == 1
    assert result["open_by_kind"][FindingKind.MISSING_BAA] == 1
    assert not Finding.objects.filter(organization=other).exists()


def test_it_evaluates_another_day_without_rolling_statuses_forward(org_with_missing_baa):
    pacs_baa = BusinessAssociateAgreement.objects.get(vendor__legal_name="Sectra Inc.")
    pacs_baa.expires_on = timezone.localdate() + datetime.timedelta(days=200)
    pacs_baa.save()
    later = timezone.localdate() + datetime.timedelta(days=150)

    result = run_json("--as-of", later.isoformat())

    assert result["as_of"] == later.isoformat()
    assert result["open_by_kind"][FindingKind.BAA_EXPIRING] == 1
    pacs_baa.refresh_from_db()
    assert pacs_baa.status == AgreementStatus.EXECUTED


def test_it_brings_lapsed_statuses_up_to_date_like_the_nightly_job(org_with_missing_baa):
    pacs_baa = BusinessAssociateAgreement.objects.get(vendor__legal_name="Sectra Inc.")
    pacs_baa.expires_on = timezone.localdate() - datetime.timedelta(days=1)
    pacs_baa.save()

    result = run_json()

    pacs_baa.refresh_from_db()
    assert pacs_baa.status == AgreementStatus.EXPIRED
    assert result["open_by_kind"][FindingKind.BAA_LAPSED] == 1


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "22/11/2026"])
def test_it_rejects_a_malformed_as_of_date(value):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("--as-of", value)


def test_it_rejects_an_unknown_organization(db):
    with pytest.raises(CommandError, match="no organization with id 999999"):
        run("--organization", "999999")


def test_it_runs_in_a_number_of_queries_that_does_not_grow_with_the_data(
    org_with_missing_baa, django_assert_max_num_queries
):
    for n in range(15):
        org = f.organization()
        facility = f.facility(org)
        f.engagement(f.vendor(org), facility)
        f.agreement(f.vendor(org, legal_name=f"Billing {n}"), breach_notification_days=90)

    # One query per rule, and a fixed number for the command and the reconciliation.
    with django_assert_max_num_queries(len(RULES) + 10):
        result = run_json()

    assert result["open_by_kind"][FindingKind.MISSING_BAA] == 16
    assert result["open_by_kind"][FindingKind.BREACH_WINDOW_TOO_LONG] == 15
