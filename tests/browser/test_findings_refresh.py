"""Issue #18 item 2: after a save, the page says that findings are being updated, and refreshes them
when the background run of the rules engine (compliance.services.schedule_compliance_run) is done.

The worker is started only after the page has shown the notice, so that the notice is seen for sure;
Playwright's expectations then wait for the page to refresh itself, without a reload and without sleeps.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from compliance.models import Finding, FindingKind
from compliance.services import run_compliance
from organizations.models import Role
from tests import factories as f
from tests.browser.conftest import sign_in
from tests.browser.test_journey import signed_pdf_file
from vendors.models import VendorCategory

pytestmark = pytest.mark.browser

WORKER_RUN_MS = 90_000  # a cold worker on two shared cores


def test_it_refreshes_the_vendor_findings_after_an_engagement_is_saved(page, celery_worker_factory):
    org = f.organization(name="Refresh Imaging")
    f.user(org, role=Role.COMPLIANCE_OFFICER, username="refresh_officer")
    facility = f.facility(org, name="Refresh Center")
    vendor = f.vendor(org, legal_name="Refresh AI", category=VendorCategory.AI_DIAGNOSTIC)
    sign_in(page, "refresh_officer", f.PASSWORD)

    page.goto(f"/vendors/{vendor.pk}/")
    page.get_by_role("link", name="Add an engagement").click()
    page.get_by_label("Facility").select_option(str(facility.pk))
    page.get_by_label("Service description").fill("Stroke triage")
    page.get_by_label("Receives PHI").check()
    page.get_by_label("PHI access starts on").fill(timezone.localdate().isoformat())
    page.locator("input[name=save]").click()
    page.wait_for_url(f"**/vendors/{vendor.pk}/")

    findings = page.locator("#vendor-findings")
    notice = page.get_by_role("status").filter(has_text="Findings are being updated")
    expect(notice).to_be_visible()
    expect(findings).to_contain_text("No open findings")

    worker = celery_worker_factory()
    expect(findings.get_by_role("link", name="Missing BAA")).to_be_visible(timeout=WORKER_RUN_MS)
    expect(page.get_by_role("status").filter(has_text="Findings are up to date")).to_be_visible()
    assert Finding.objects.filter(vendor=vendor, kind=FindingKind.MISSING_BAA, resolved_at=None).exists(), (
        worker.log_tail()
    )
    assert not page.js_errors


def test_it_refreshes_the_agreement_findings_after_the_signed_pdf_is_uploaded(page, celery_worker_factory, tmp_path):
    org = f.organization(name="Upload Imaging")
    f.user(org, role=Role.COMPLIANCE_OFFICER, username="upload_officer")
    vendor = f.vendor(org, legal_name="Upload PACS")
    f.engagement(vendor, f.facility(org))
    agreement = f.agreement(vendor, signed_document=False)
    run_compliance(organization_id=org.pk)
    sign_in(page, "upload_officer", f.PASSWORD)

    page.goto(f"/agreements/{agreement.pk}/")
    findings = page.locator("#agreement-findings")
    no_document = findings.get_by_role("link", name="Executed BAA with no signed document on file")
    expect(no_document).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Findings are being updated")).to_have_count(0)

    page.get_by_label("Signed PDF").set_input_files(str(signed_pdf_file(tmp_path)))
    page.get_by_role("button", name="Upload PDF").click()
    page.wait_for_url(f"**/agreements/{agreement.pk}/")
    expect(page.get_by_role("status").filter(has_text="Findings are being updated")).to_be_visible()
    expect(no_document).to_be_visible()

    celery_worker_factory()
    # The blank PDF has no provisions to read, so other findings may take its place; this one is gone.
    expect(no_document).to_have_count(0, timeout=WORKER_RUN_MS)
    # Either the script refreshed the findings ("Findings are up to date") or the page reloaded itself
    # first (templates/agreements/detail.html refreshes it every 5 s while the upload is being read)
    # and no longer has anything pending: in both cases it no longer says they are being updated.
    expect(page.get_by_role("status").filter(has_text="Findings are being updated")).to_have_count(0)
    assert not page.js_errors
