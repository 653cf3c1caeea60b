"""Issue #18 item 7, in Chromium: the focus goes to the error summary after a failed submit; the report
progress bar and the downloads table have accessible names."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from organizations.models import Role
from reports.services import audit_report_generate, audit_report_request
from tests import factories as f
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_the_focus_moves_to_the_error_summary_after_a_failed_submit(page, transactional_db):
    f.user(f.organization(), role=Role.COMPLIANCE_OFFICER, username="focus_officer")
    sign_in(page, "focus_officer", f.PASSWORD)
    page.goto(reverse("facilities:create"))
    page.locator("input[name=save]").click()  # nothing filled in
    page.wait_for_load_state()

    summary = page.get_by_role("alert").filter(has_text="Please correct the")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    assert not page.js_errors


def test_the_report_progress_bar_and_downloads_table_have_names(page, transactional_db):
    org = f.organization()
    officer = f.user(org, role=Role.ADMIN, username="names_admin")
    facility = f.facility(org)
    queued = audit_report_request(requested_by=officer, facility=facility, as_of=f.TODAY)
    done = audit_report_generate(
        report_id=audit_report_request(requested_by=officer, facility=facility, as_of=f.TODAY).pk
    )
    sign_in(page, "names_admin", f.PASSWORD)

    page.goto(reverse("reports:detail", args=[queued.pk]))
    expect(page.get_by_role("progressbar", name="Generation of the report")).to_be_visible()

    assert page.request.get(reverse("reports:download", args=[done.pk])).ok  # recorded in the access log
    page.goto(reverse("reports:detail", args=[done.pk]))
    table = page.get_by_role("table", name="Downloads and verifications")
    expect(table).to_be_visible()
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the download
