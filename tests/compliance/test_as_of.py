"""Point in time, read-only (issue 11 item 3, issue 16 item 5): asking about another day, by the
command, the service or any as-of page, leaves every stored finding and every history row exactly as
it was; only today's run writes."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from agreements.models import AgreementStatus
from compliance.models import Finding, FindingKind
from compliance.services import WriteRefused, evaluate_compliance, finding_acknowledge, read_only, run_compliance
from tests import factories as f

pytestmark = pytest.mark.django_db

#: The apps whose rows an as-of question must not change (findings, their subjects, their history, alerts).
WATCHED_APPS = ("compliance", "agreements", "vendors", "checklists", "facilities", "alerts", "reports")
D = datetime.date


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def snapshot() -> str:
    rows = {}
    for config in WATCHED_APPS:
        for model in apps.get_app_config(config).get_models():
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return repr(rows)


@pytest.fixture
def org_with_history():
    """A lapse, a past gap, a termination ahead; the lapsed finding acknowledged by an officer."""
    org = f.organization()
    officer = f.user(org)
    vendor = f.vendor(org)
    f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2019, 1, 1))
    f.agreement(vendor, status=AgreementStatus.EXPIRED, executed_on=D(2018, 6, 1), expires_on=D(2021, 12, 31))
    f.agreement(vendor, executed_on=D(2023, 6, 1))
    lapsed_vendor = f.vendor(org)
    f.engagement(lapsed_vendor, f.facility(org), phi_access_starts_on=D(2021, 1, 1))
    f.agreement(
        lapsed_vendor, status=AgreementStatus.TERMINATED, terminated_on=D(2025, 6, 15), executed_on=D(2020, 1, 1)
    )
    leaving = f.vendor(org)
    f.engagement(leaving, f.facility(org))
    f.agreement(
        leaving, status=AgreementStatus.TERMINATED, terminated_on=timezone.localdate() + datetime.timedelta(days=20)
    )
    run_compliance()
    finding_acknowledge(finding=Finding.objects.get(kind=FindingKind.BAA_LAPSED), user=officer, note="Renewal sent")
    return org, officer


def test_as_of_runs_and_views_leave_findings_and_history_byte_identical(org_with_history, client):
    org, officer = org_with_history
    before = snapshot()
    client.force_login(officer)
    vendor_ids = list(org.vendors.values_list("pk", flat=True))

    for day in (D(2025, 3, 1), D(2022, 6, 1), timezone.localdate() + datetime.timedelta(days=60)):
        out = io.StringIO()
        call_command("check_compliance", "--as-of", day.isoformat(), "--json", stdout=out)
        assert json.loads(out.getvalue())["read_only"] is True
        call_command(
            "check_compliance", "--as-of", day.isoformat(), "--organization", str(org.pk), stdout=io.StringIO()
        )
        assert evaluate_compliance(as_of=day, organization_id=org.pk) is not None
        for url in (reverse("compliance:dashboard"), reverse("compliance:coverage")) + tuple(
            reverse("vendors:detail", args=[pk]) for pk in vendor_ids
        ):
            response = client.get(url, {"as_of": day.isoformat()})
            assert response.status_code == 200, url
            assert f'data-as-of="{day:%Y-%m-%d}"' in response.content.decode()

    assert snapshot() == before


def test_as_of_answers_come_from_the_dates(org_with_history):
    org, _ = org_with_history
    on_2025_03_01 = {d.kind for d in evaluate_compliance(as_of=D(2025, 3, 1), organization_id=org.pk)}
    on_2022_06_01 = {d.kind for d in evaluate_compliance(as_of=D(2022, 6, 1), organization_id=org.pk)}

    # Before its termination date the terminated BAA covered: a warning of the termination, no lapse.
    assert FindingKind.BAA_TERMINATING in on_2025_03_01
    assert FindingKind.BAA_LAPSED not in on_2025_03_01
    # In 2022 the first vendor's BAA had expired and PHI flowed: lapsed then, a past gap today.
    assert FindingKind.BAA_LAPSED in on_2022_06_01
    stored = set(Finding.objects.open().values_list("kind", flat=True))
    assert FindingKind.PHI_WITHOUT_BAA in stored


def test_the_as_of_dashboard_shows_that_days_findings(org_with_history, client):
    org, officer = org_with_history
    client.force_login(officer)

    response = client.get(reverse("compliance:dashboard"), {"as_of": "2022-06-01"})

    urgent = response.context["data"].urgent_findings
    assert {finding.kind for finding in urgent} == {
        d.kind for d in evaluate_compliance(as_of=D(2022, 6, 1), organization_id=org.pk)
    }
    assert all(finding.pk is None for finding in urgent), "computed for the day, never stored"


def test_the_guard_refuses_a_write():
    with pytest.raises(WriteRefused), read_only():
        Finding.objects.filter(pk=0).update(explanation="x")


def test_an_officer_records_the_risk_assessment_that_closes_a_past_gap(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from compliance.models import BreachRiskAssessment

    org = f.organization()
    officer = f.user(org)
    engagement = f.engagement(
        f.vendor(org), f.facility(org), phi_access_starts_on=D(2015, 1, 1), ends_on=D(2018, 12, 31)
    )
    run_compliance()
    finding = Finding.objects.get(kind=FindingKind.PHI_WITHOUT_BAA)
    client.force_login(officer)
    url = reverse("compliance:finding_assessment", args=[finding.pk])

    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "nature_and_extent": "Study metadata",
            "unauthorized_person": "The archive vendor",
            "acquired_or_viewed": "Stored, never viewed",
            "mitigation": "Data returned and destroyed",
            "outcome": "low_probability",
            "assessed_on": timezone.localdate().isoformat(),
            "document": SimpleUploadedFile("assessment.pdf", f.MINIMAL_PDF, content_type="application/pdf"),
        },
    )

    assert response.status_code == 302
    assessment = BreachRiskAssessment.objects.get()
    assert (assessment.engagement, assessment.period_starts_on, assessment.period_ends_on) == (
        engagement,
        D(2015, 1, 1),
        D(2018, 12, 31),
    )
    run_compliance()
    finding.refresh_from_db()
    assert not finding.is_open
