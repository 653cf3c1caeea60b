"""The report page in a real Chromium: the static script follows the progress under the content
security policy, and the page shows the download link once the report is done."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from reports.models import AuditReport
from reports.services import audit_report_generate
from tests import factories as f
from tests.browser.conftest import chromium  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(chromium):  # noqa: F811 (the fixture imported above)
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield context, page
    context.close()


def sign_in(context, live_server, user) -> None:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_it_follows_the_progress_and_offers_the_download_when_done(live_server, world, browser_page):
    context, page = browser_page
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    report = AuditReport.objects.create(
        organization=world.org, facility=world.facility, as_of=f.TODAY, generated_by=world.officer
    )
    sign_in(context, live_server, world.officer)

    page.goto(live_server.url + reverse("reports:detail", args=[report.pk]))
    assert page.locator("[data-role=status-label]").inner_text() == "Queued"
    assert page.locator("progress").count() == 1

    audit_report_generate(report_id=report.pk)  # what the worker does, while the page polls

    download = page.get_by_role("link", name="Download PDF")
    download.wait_for()
    report.refresh_from_db()
    assert report.sha256 in page.content()
    assert page.locator("progress").count() == 0
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == f"baa-audit-report-{report.pk}.pdf"
    csp = [p for p in problems if "Content Security Policy" in p or "Refused to" in p]
    assert csp == [], csp
    script = [p for p in problems if "report-progress" in p]
    assert script == [], script
