"""The background task, through the real path: enqueued on commit, run, idempotent."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from baatracker.celery import app
from reports.models import AuditReport, ReportStatus
from reports.tasks import generate_audit_report
from tests import factories as f
from tests.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery():
    """Tasks run in-process when sent: the on-commit hook and the task body run for real, no broker."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_it_generates_a_queued_report(world):
    report = AuditReport.objects.create(
        organization=world.org, facility=world.facility, as_of=f.TODAY, generated_by=world.officer
    )
    assert generate_audit_report(report.pk) == {"report_id": report.pk, "status": ReportStatus.DONE}
    report.refresh_from_db()
    with report.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == report.sha256


def test_it_does_nothing_the_second_time(world):
    report = AuditReport.objects.create(
        organization=world.org, facility=world.facility, as_of=f.TODAY, generated_by=world.officer
    )
    generate_audit_report(report.pk)
    first = AuditReport.objects.get(pk=report.pk)
    generate_audit_report(report.pk)  # a task delivered twice (late acknowledgement)
    second = AuditReport.objects.get(pk=report.pk)
    assert (second.sha256, second.file.name, second.finished_at) == (first.sha256, first.file.name, first.finished_at)


def test_it_is_enqueued_when_the_request_commits(client, world, eager_celery):
    client.force_login(world.viewer, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("reports:create"), {"facility": world.facility.pk, "paper_size": "letter"})
    report = AuditReport.objects.get()
    assert response.status_code == 302
    assert report.status == ReportStatus.DONE and report.progress == 100
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert "Download PDF" in page and report.sha256 in page


@pytest.mark.services
def test_it_is_generated_by_a_real_worker_through_redis(client, world, celery_worker):
    client.force_login(world.viewer, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("reports:create"), {"facility": world.facility.pk, "paper_size": "letter"})
    report = AuditReport.objects.get()
    assert response["Location"] == reverse("reports:detail", args=[report.pk])

    def finished():
        status = client.get(reverse("reports:status", args=[report.pk])).json()
        return status if status["finished"] else None

    status = wait_until(finished, timeout=120, message=celery_worker.log_tail)
    assert status["status"] == ReportStatus.DONE, status["error"]
    report.refresh_from_db()
    with report.file.open("rb") as handle:  # written by the worker, in the test's media directory
        assert hashlib.sha256(handle.read()).hexdigest() == report.sha256
    assert "reports.tasks.generate_audit_report[" in celery_worker.log()
