"""The Nu HTML checker finds no error on the report pages: list, progress, finished, failed, verification."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reports.models import AuditReport, ReportStatus
from reports.services import audit_report_generate, audit_report_request
from tests import factories as f
from tests.browser.test_html_validity import vnu_errors
from tests.reports.conftest import real_pdf


def test_it_serves_valid_html_on_the_report_pages(client, world, tmp_path):
    client.force_login(world.officer, backend="django.contrib.auth.backends.ModelBackend")
    queued = audit_report_request(requested_by=world.officer, facility=world.facility, as_of=f.TODAY)
    done = audit_report_generate(
        report_id=audit_report_request(requested_by=world.officer, facility=None, as_of=f.TODAY).pk
    )
    failed = AuditReport.objects.create(
        organization=world.org, facility=world.facility, as_of=f.TODAY, status=ReportStatus.FAILED, error="Boom <b>"
    )
    client.get(reverse("reports:download", args=[done.pk]))  # a history line on its page
    with done.file.open("rb") as handle:
        content = handle.read()
    documents = {
        "list": client.get(reverse("reports:list")),
        "invalid_form": client.post(reverse("reports:create"), {"facility": "x", "paper_size": "letter"}),
        "queued": client.get(reverse("reports:detail", args=[queued.pk])),
        "done": client.get(reverse("reports:detail", args=[done.pk])),
        "failed": client.get(reverse("reports:detail", args=[failed.pk])),
        "verify": client.get(reverse("reports:verify")),
        "verified": client.post(reverse("reports:verify"), {"file": SimpleUploadedFile("a.pdf", content)}),
        "not_ours": client.post(reverse("reports:verify"), {"file": SimpleUploadedFile("b.pdf", real_pdf())}),
    }
    assert documents["invalid_form"].status_code == 400
    assert "Boom &lt;b&gt;" in documents["failed"].content.decode()
    errors = vnu_errors({name: response.content.decode() for name, response in documents.items()}, tmp_path)
    assert not errors, json.dumps(errors, indent=2)
