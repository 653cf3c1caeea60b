"""The nightly compliance task and the run scheduled after a relevant save."""

from __future__ import annotations

import pytest
from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from agreements.models import AgreementStatus
from baatracker.celery import app
from compliance.models import Finding, FindingKind
from compliance.services import schedule_compliance_run
from compliance.tasks import run_compliance_checks
from tests import factories as f
from tests.factories import days

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def tasks_run_inline():
    """Run enqueued tasks in this process (the broker is not what these tests are about)."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_it_rolls_agreement_statuses_forward_then_reconciles_findings():
    org = f.organization()
    lapsed_vendor, renewing_vendor = f.vendor(org), f.vendor(org)
    f.engagement(lapsed_vendor, f.facility(org))
    f.engagement(renewing_vendor, f.facility(org))
    lapsed = f.agreement(lapsed_vendor, expires_on=days(-1))
    renewing = f.agreement(
        renewing_vendor, expires_on=days(-1), auto_renews=True, renewal_term_months=12, renewal_notice_days=30
    )

    result = run_compliance_checks(organization_id=org.pk)

    assert result == {"opened": 1, "still_open": 0, "resolved": 0, "as_of": str(timezone.localdate())}
    lapsed.refresh_from_db()
    renewing.refresh_from_db()
    assert lapsed.status == AgreementStatus.EXPIRED
    assert (renewing.status, renewing.expires_on) == (AgreementStatus.EXECUTED, days(-1) + relativedelta(months=12))
    finding = Finding.objects.get()
    assert (finding.kind, finding.agreement) == (FindingKind.BAA_LAPSED, lapsed)


def test_it_is_safe_to_run_twice():
    org = f.organization()
    f.engagement(f.vendor(org), f.facility(org))
    renewing = f.agreement(f.vendor(org), expires_on=days(-1), auto_renews=True, renewal_term_months=12)

    first = run_compliance_checks(organization_id=org.pk)
    second = run_compliance_checks(organization_id=org.pk, as_of=timezone.localdate().isoformat())

    assert (first["opened"], second["opened"], second["still_open"], second["resolved"]) == (1, 0, 1, 0)
    assert Finding.objects.count() == 1
    renewing.refresh_from_db()
    assert renewing.expires_on == days(-1) + relativedelta(months=12), "rolled forward once, not twice"


def test_a_scheduled_run_is_enqueued_only_when_the_transaction_commits(
    django_capture_on_commit_callbacks, tasks_run_inline
):
    org = f.organization()
    f.engagement(f.vendor(org), f.facility(org), phi_access_starts_on=days(-30))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        schedule_compliance_run(organization_id=org.pk)
        assert not Finding.objects.exists(), "nothing runs before the commit"

    assert len(callbacks) == 1
    callbacks[0]()
    assert Finding.objects.get().kind == FindingKind.MISSING_BAA


def test_a_rolled_back_save_schedules_nothing(django_capture_on_commit_callbacks):
    org = f.organization()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            schedule_compliance_run(organization_id=org.pk)
            raise RuntimeError("the save failed")

    assert callbacks == []


def test_it_refuses_to_write_findings_for_another_day():
    """Issue 16 item 5 (and issue 11): a run for a future or past day must not store findings that the
    next alert dispatch would mail; it is refused, and statuses stay as the calendar has them."""
    org = f.organization()
    vendor = f.vendor(org)
    f.engagement(vendor, f.facility(org))
    today = timezone.localdate()
    agreement = f.agreement(
        vendor, effective_on=today - relativedelta(years=1), expires_on=today + relativedelta(days=5)
    )

    for day in (today + relativedelta(days=30), today - relativedelta(days=30)):
        with pytest.raises(ValueError, match="writes findings for today"):
            run_compliance_checks(organization_id=org.pk, as_of=day.isoformat())

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXECUTED
    assert not Finding.objects.exists()
