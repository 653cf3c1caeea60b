"""End to end through the real broker: a task sent from the app travels through Redis to a Celery worker
process, which runs the compliance rules on the database and records the finding."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from baatracker.celery import app
from compliance.models import Finding, FindingKind
from compliance.tasks import run_compliance_checks
from tests import factories as f
from tests.support import wait_until
from vendors.models import VendorCategory

pytestmark = pytest.mark.services


def test_it_runs_the_compliance_checks_in_a_real_worker_on_redis(celery_worker):
    org = f.organization(name="Lakeside Imaging Network")
    facility = f.facility(org, name="Lakeside Imaging Center")
    ai_tool = f.vendor(org, legal_name="Aidoc", category=VendorCategory.AI_DIAGNOSTIC)
    engagement = f.engagement(ai_tool, facility, phi_receives=True, phi_access_starts_on=f.days(-30))
    assert not settings.CELERY_TASK_ALWAYS_EAGER and not app.conf.task_always_eager
    assert app.conf.broker_url.startswith("redis://")

    result = run_compliance_checks.delay(organization_id=org.pk, as_of=timezone.localdate().isoformat())

    finding = wait_until(
        lambda: Finding.objects.filter(organization=org, kind=FindingKind.MISSING_BAA).first(),
        message=celery_worker.log_tail,
    )
    assert (finding.engagement, finding.vendor, finding.facility) == (engagement, ai_tool, facility)
    # The worker process ran it, having received it through Redis.
    log = celery_worker.log()
    assert "Connected to redis://" in log
    assert f"Task compliance.tasks.run_compliance_checks[{result.id}] received" in log
    wait_until(lambda: f"run_compliance_checks[{result.id}] succeeded" in celery_worker.log(), timeout=10)
