from __future__ import annotations

import datetime
import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from compliance.services import run_compliance
from reports.models import AuditReport, ReportStatus
from reports.services import STALE_AFTER, audit_report_generate, audit_report_request, audit_report_write
from tests import factories as f
from tests.reports.conftest import pdf_text
from vendors.models import Engagement, EngagementStatus, Vendor, VendorCategory


def test_it_queues_a_report_and_enqueues_generation_on_commit(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        report = audit_report_request(requested_by=world.viewer, facility=world.facility)
    assert report.status == ReportStatus.QUEUED
    assert report.progress == 0
    assert report.generated_by == world.viewer
    assert report.organization == world.org
    assert report.as_of == timezone.localdate()
    assert len(callbacks) == 1  # the task is sent only once the request's transaction commits


def test_it_refuses_a_facility_the_user_may_not_see(world):
    with pytest.raises(PermissionDenied):
        audit_report_request(requested_by=world.limited_to_other, facility=world.facility)
    with pytest.raises(PermissionDenied):
        audit_report_request(requested_by=world.outsider, facility=world.facility)
    assert not AuditReport.objects.exists()


def test_it_keeps_organization_wide_reports_for_members_who_see_every_facility(world):
    with pytest.raises(PermissionDenied):
        audit_report_request(requested_by=world.limited_to_other, facility=None)
    report = audit_report_request(requested_by=world.viewer, facility=None)
    assert report.facility is None


def test_it_generates_and_stores_the_pdf_with_its_checksum(world):
    report = audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY)
    report = audit_report_generate(report_id=report.pk)
    assert report.status == ReportStatus.DONE
    with report.file.open("rb") as handle:
        content = handle.read()
    assert content.startswith(b"%PDF-")
    assert report.sha256 == hashlib.sha256(content).hexdigest()
    assert report.started_at <= report.finished_at


def test_it_never_regenerates_a_finished_report(world):
    report = audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY)
    done = audit_report_generate(report_id=report.pk)
    again = audit_report_generate(report_id=report.pk)
    assert (again.sha256, again.file.name, again.finished_at) == (done.sha256, done.file.name, done.finished_at)
    # Asking again makes a new report; the first one stays as it was.
    second = audit_report_generate(
        report_id=audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY).pk
    )
    assert second.pk != done.pk
    assert AuditReport.objects.get(pk=done.pk).sha256 == done.sha256
    assert AuditReport.objects.count() == 2


def test_it_leaves_a_report_another_worker_is_generating(world):
    report = audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY)
    AuditReport.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, started_at=timezone.now())
    result = audit_report_generate(report_id=report.pk)
    assert result.status == ReportStatus.RUNNING
    assert not result.file


def test_it_claims_again_a_report_whose_worker_died(world):
    report = audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY)
    long_ago = timezone.now() - STALE_AFTER - datetime.timedelta(minutes=1)
    AuditReport.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, started_at=long_ago, progress=30)
    result = audit_report_generate(report_id=report.pk)
    assert result.status == ReportStatus.DONE


def test_it_records_a_failure_with_its_reason(world):
    report = audit_report_request(requested_by=world.limited_to_other, facility=world.other_facility, as_of=f.TODAY)
    # The membership is narrowed before the worker runs: the report must not show more than it may.
    membership = world.limited_to_other.membership
    membership.facilities.set([f.facility(world.org, name="Third Site")])
    result = audit_report_generate(report_id=report.pk)
    assert result.status == ReportStatus.FAILED
    assert "may no longer see this facility" in result.error
    assert result.finished_at is not None
    assert not result.sha256


def test_it_writes_a_report_without_a_user_for_the_command_line(world):
    report = audit_report_write(organization=world.org, facility=world.facility, as_of=f.TODAY)
    assert report.status == ReportStatus.DONE
    assert report.generated_by is None
    assert report.generated_by_label.startswith("the command line")


def test_it_refuses_a_facility_of_another_organization_on_the_command_line(world):
    other = f.facility(f.organization())
    with pytest.raises(Exception, match="another organization"):
        audit_report_write(organization=world.org, facility=other)


def test_it_generates_the_report_of_a_facility_with_1000_engagements(world, django_assert_max_num_queries):
    """Completes, in a bounded number of queries. How long it takes belongs to the benchmark, not here."""
    vendors = Vendor.objects.bulk_create(
        Vendor(organization=world.org, legal_name=f"Bulk Vendor {index:04d}", category=VendorCategory.PACS)
        for index in range(1000)
    )
    Engagement.objects.bulk_create(
        Engagement(
            vendor=vendor,
            facility=world.facility,
            service_description="Image exchange",
            status=EngagementStatus.ACTIVE,
            phi_transmits=True,
            phi_access_starts_on=f.days(-90),
        )
        for vendor in vendors
    )
    BusinessAssociateAgreement.objects.bulk_create(
        BusinessAssociateAgreement(
            organization=world.org,
            vendor=vendor,
            title=f"BAA {vendor.legal_name}",
            status=AgreementStatus.EXECUTED,
            executed_on=f.days(-100),
            effective_on=f.days(-100),
        )
        for vendor in vendors[::2]
    )
    run_compliance(organization_id=world.org.pk, as_of=f.TODAY)
    report = audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY)
    user = get_user_model().objects.get(pk=world.officer.pk)
    AuditReport.objects.filter(pk=report.pk).update(generated_by=user)
    # f.TODAY is a fixed day, in the past by the wall clock: the report's findings are then those the
    # rules find for that day (compliance.selectors.findings_as_of), one run of every rule, engine and
    # readers (a fixed number of queries each), plus the report's own: 53 whatever the inventory; and
    # the progress, at most one write per percent of the layout (35 to 85), whatever the page count.
    with django_assert_max_num_queries(53 + 51):
        report = audit_report_generate(report_id=report.pk)
    assert report.status == ReportStatus.DONE, report.error
    assert report.page_count > 30
    with report.file.open("rb") as handle:
        text = pdf_text(handle.read())
    assert "Bulk Vendor 0000" in text and "Bulk Vendor 0999" in text
