from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from organizations.models import AccessAction, AccessLogEntry, Role
from reports.models import AuditReport, PaperSize, ReportStatus
from reports.services import audit_report_generate, audit_report_request
from tests import factories as f
from tests.reports.conftest import real_pdf

BACKEND = "django.contrib.auth.backends.ModelBackend"


def login(client, user):
    client.force_login(user, backend=BACKEND)
    return client


def done_report(user, facility):
    report = audit_report_request(requested_by=user, facility=facility, as_of=f.TODAY)
    report = audit_report_generate(report_id=report.pk)
    assert report.status == ReportStatus.DONE, report.error
    return report


def test_it_asks_for_a_login(client, world):
    report = done_report(world.officer, world.facility)
    for url in (
        reverse("reports:list"),
        reverse("reports:detail", args=[report.pk]),
        reverse("reports:download", args=[report.pk]),
        reverse("reports:status", args=[report.pk]),
        reverse("reports:verify"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_lets_anyone_who_sees_the_facility_request_a_report(client, world, django_capture_on_commit_callbacks):
    login(client, world.viewer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("reports:create"),
            {"facility": world.facility.pk, "paper_size": PaperSize.A4, "include_signed_documents": "on"},
        )
    report = AuditReport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:detail", args=[report.pk])
    assert (report.facility, report.paper_size, report.include_signed_documents) == (world.facility, "a4", True)
    assert report.generated_by == world.viewer
    assert len(callbacks) == 1
    entry = AccessLogEntry.objects.get(action=AccessAction.GENERATE)
    assert entry.object_id == str(report.pk) and entry.user == world.viewer


def test_it_refuses_a_report_on_a_facility_the_user_may_not_see(client, world):
    login(client, world.limited_to_other)
    response = client.post(reverse("reports:create"), {"facility": world.facility.pk, "paper_size": "letter"})
    assert response.status_code == 400
    response = client.post(reverse("reports:create"), {"facility": "", "paper_size": "letter"})
    assert response.status_code == 400  # no organization-wide report for a member limited to some facilities
    assert not AuditReport.objects.exists()


def test_it_offers_only_visible_facilities(client, world):
    login(client, world.limited_to_other)
    page = client.get(reverse("reports:list")).content.decode()
    assert "Riverside Hospital Radiology" in page
    assert "Lakeside Imaging Center" not in page
    assert "All facilities (organization-wide report)" not in page
    login(client, world.officer)
    assert "All facilities (organization-wide report)" in client.get(reverse("reports:list")).content.decode()


@pytest.mark.parametrize("name", ["detail", "status", "download"])
def test_it_answers_404_for_a_report_of_another_organization(client, world, name):
    report = done_report(world.officer, world.facility)
    login(client, world.outsider)
    assert client.get(reverse(f"reports:{name}", args=[report.pk])).status_code == 404


@pytest.mark.parametrize("name", ["detail", "status", "download"])
def test_it_answers_404_for_a_report_of_a_facility_the_user_may_not_see(client, world, name):
    facility_report = done_report(world.officer, world.facility)
    organization_report = done_report(world.officer, None)
    login(client, world.limited_to_other)
    assert client.get(reverse(f"reports:{name}", args=[facility_report.pk])).status_code == 404
    assert client.get(reverse(f"reports:{name}", args=[organization_report.pk])).status_code == 404


def test_it_lists_only_visible_reports(client, world):
    done_report(world.officer, world.facility)
    theirs = done_report(world.limited_to_other, world.other_facility)
    login(client, world.limited_to_other)
    response = client.get(reverse("reports:list"))
    assert [r.pk for r in response.context["page"].object_list] == [theirs.pk]


def test_it_lists_reports_in_a_bounded_number_of_queries(client, world, django_assert_max_num_queries):
    for _ in range(3):
        AuditReport.objects.create(organization=world.org, facility=world.facility, as_of=f.TODAY)
    login(client, world.officer)
    client.get(reverse("reports:list"))
    for _ in range(20):
        AuditReport.objects.create(
            organization=world.org, facility=world.facility, as_of=f.TODAY, generated_by=world.viewer
        )
    with django_assert_max_num_queries(12):
        response = client.get(reverse("reports:list"))
    assert len(response.context["page"].object_list) == 23


def test_it_lets_a_viewer_download_the_stored_pdf_and_records_it(client, world):
    report = done_report(world.officer, world.facility)
    login(client, world.viewer)
    response = client.get(reverse("reports:download", args=[report.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="baa-audit-report-{report.pk}.pdf"' in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == report.sha256
    entry = AccessLogEntry.objects.get(action=AccessAction.DOWNLOAD)
    assert (entry.user, entry.object_type, entry.object_id) == (world.viewer, "reports.auditreport", str(report.pk))


def test_it_shows_the_download_history_on_the_report_page(client, world):
    report = done_report(world.officer, world.facility)
    login(client, world.viewer)
    client.get(reverse("reports:download", args=[report.pk]))
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert "Downloaded: Downloaded audit report" in page
    assert report.sha256 in page


def test_it_does_not_download_a_report_that_is_not_ready(client, world):
    report = audit_report_request(requested_by=world.officer, facility=world.facility)
    login(client, world.officer)
    assert client.get(reverse("reports:download", args=[report.pk])).status_code == 404


def test_it_reports_progress_as_json(client, world):
    report = audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY)
    login(client, world.officer)
    status = client.get(reverse("reports:status", args=[report.pk])).json()
    assert status == {
        "id": report.pk,
        "status": "queued",
        "status_label": "Queued",
        "progress": 0,
        "pages": None,
        "finished": False,
        "error": "",
        "download_url": None,
    }
    audit_report_generate(report_id=report.pk)
    status = client.get(reverse("reports:status", args=[report.pk])).json()
    assert status["finished"] and status["progress"] == 100
    assert status["pages"] == AuditReport.objects.get(pk=report.pk).page_count > 5
    assert status["download_url"] == reverse("reports:download", args=[report.pk])


def test_it_follows_progress_with_a_static_script_and_a_fallback(client, world):
    report = audit_report_request(requested_by=world.officer, facility=world.facility)
    login(client, world.officer)
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert 'src="/static/js/report-progress.js"' in page
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert "<script>" not in page and " style=" not in page  # the content security policy allows neither
    assert f'data-status-url="{reverse("reports:status", args=[report.pk])}"' in page


def test_it_verifies_a_stored_report(client, world):
    report = done_report(world.officer, world.facility)
    with report.file.open("rb") as handle:
        content = handle.read()
    login(client, world.viewer)
    response = client.post(
        reverse("reports:verify"), {"file": SimpleUploadedFile("copy.pdf", content, "application/pdf")}
    )
    page = response.content.decode()
    when = report.finished_at.astimezone().strftime("%Y-%m-%d")
    assert f"This is report {report.pk} generated on {when}" in page
    assert "by Olivia Officer" in page
    entry = AccessLogEntry.objects.get(action=AccessAction.VERIFY)
    assert entry.object_id == str(report.pk) and entry.user == world.viewer


def test_it_says_a_pdf_was_not_produced_by_this_system(client, world):
    report = done_report(world.officer, world.facility)
    with report.file.open("rb") as handle:
        tampered = handle.read() + b"\n% changed\n"
    login(client, world.viewer)
    for content in (real_pdf(), tampered):
        response = client.post(
            reverse("reports:verify"), {"file": SimpleUploadedFile("other.pdf", content, "application/pdf")}
        )
        page = response.content.decode()
        assert "This file was not produced by this system." in page
        assert "This is report" not in page
    assert AccessLogEntry.objects.filter(action=AccessAction.VERIFY, object_type="organizations.organization").count()


def test_it_does_not_confirm_a_report_the_user_may_not_see(client, world):
    report = done_report(world.officer, world.facility)
    with report.file.open("rb") as handle:
        content = handle.read()
    for user in (world.outsider, world.limited_to_other):
        login(client, user)
        page = client.post(
            reverse("reports:verify"), {"file": SimpleUploadedFile("copy.pdf", content, "application/pdf")}
        ).content.decode()
        assert "not produced by this system" in page
        assert f"report {report.pk} generated" not in page


def test_it_lets_an_auditor_generate_and_download(client, world):
    auditor = f.user(world.org, role=Role.AUDITOR)
    login(client, auditor)
    response = client.post(reverse("reports:create"), {"facility": world.facility.pk, "paper_size": "letter"})
    assert response.status_code == 302
    report = audit_report_generate(report_id=AuditReport.objects.get().pk)
    assert client.get(reverse("reports:download", args=[report.pk])).status_code == 200


def test_it_refuses_a_signed_in_user_without_membership(client, world):
    stranger = f.account("stranger")
    login(client, stranger)
    assert client.get(reverse("reports:list")).status_code == 403
    assert client.post(reverse("reports:create"), {"facility": world.facility.pk}).status_code == 403
    assert client.get(reverse("reports:verify")).status_code == 403
