"""The real path: an upload commits, a real Celery worker reads it through Redis, the page shows it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agreements.models import AgreementDocument
from documents.models import ReadingState, Safety
from organizations.models import Role
from tests import factories as f
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Before the worker starts: it is given the test's MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_real_worker_reads_uploads_and_the_page_shows_the_review(client, celery_worker, hhs_pdf, javascript_pdf):
    org = f.organization(name="Lakeside")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    agreement = f.agreement(f.vendor(org, legal_name="Northwind PACS"), signed_document=False)
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("agreements:upload", args=[agreement.pk])
    for name, content in (("signed.pdf", hhs_pdf), ("scripted.pdf", javascript_pdf)):
        response = client.post(url, {"kind": "signed", "file": SimpleUploadedFile(name, content)})
        assert response.status_code == 302

    def read():
        documents = AgreementDocument.objects.select_related("reading").filter(agreement=agreement)
        return all(d.reading.state == ReadingState.DONE for d in documents) and documents

    documents = {d.original_name: d for d in wait_until(read, timeout=120, message=celery_worker.log_tail)}
    assert documents["signed.pdf"].reading.safety == Safety.ACCEPTED
    assert documents["scripted.pdf"].reading.safety == Safety.REFUSED
    page = client.get(reverse("agreements:detail", args=[agreement.pk])).content.decode()
    assert page.count('data-present="yes"') == 12 and "3 pages read" in page
    assert "Refused" in page and "JavaScript" in page
    assert "documents.tasks.read_document[" in celery_worker.log()
