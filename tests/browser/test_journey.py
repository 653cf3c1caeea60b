"""The compliance officer's journey, in Chromium: from a new AI vendor to a covered coverage-matrix cell.

After every save the pages enqueue the rules engine on commit (compliance.services.schedule_compliance_run);
a real Celery worker (tests/conftest.py ``celery_worker``, on Redis) runs it on the test database, and
the test waits for its result before it looks at the pages again, as the officer would reload them.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from agreements.models import AgreementDocument, BusinessAssociateAgreement
from compliance.models import Finding, FindingKind
from documents import corpus
from facilities.models import Facility
from organizations.models import Role
from tests import factories as f
from tests.browser.conftest import sign_in
from tests.support.waiting import wait_until
from vendors.models import Vendor

pytestmark = pytest.mark.browser


def signed_pdf_file(tmp_path):
    """A complete signed BAA (the HHS sample provisions, documents.corpus): the worker reads it and its
    provision review finds P1-P12, so no "BAA lacks a required provision" finding is left open. A blank
    page would rightly leave that finding open (45 CFR 164.504(e)(2))."""
    path = tmp_path / "aidoc-baa-signed.pdf"
    path.write_bytes(corpus.render(corpus.hhs_clauses()))
    return path


def test_it_takes_an_officer_from_a_missing_baa_to_a_covered_vendor(page, celery_worker, tmp_path):
    org = f.organization(name="Journey Imaging")
    f.user(org, role=Role.COMPLIANCE_OFFICER, username="journey_officer")
    today = timezone.localdate().isoformat()
    sign_in(page, "journey_officer", f.PASSWORD)

    # 1. A facility.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Facilities").click()
    page.get_by_role("link", name="Add a facility").click()
    page.get_by_label("Name").fill("Journey Imaging Center")
    page.get_by_label("Kind").select_option(label="Imaging center")
    page.get_by_label("US state").select_option("OH")
    page.locator("input[name=save]").click()
    page.wait_for_load_state()
    facility = Facility.objects.get(organization=org, name="Journey Imaging Center")

    # 2. An AI vendor with PHI access at that facility.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Vendors").click()
    page.get_by_role("link", name=re.compile("Add a vendor")).first.click()
    page.get_by_label("Legal name").fill("Aidoc Medical")
    page.get_by_label("Category").select_option(label="AI diagnostic software")
    page.locator("input[name=save]").click()
    page.wait_for_load_state()
    vendor = Vendor.objects.get(organization=org, legal_name="Aidoc Medical")
    page.get_by_role("link", name="Add an engagement").click()
    page.get_by_label("Facility").select_option(str(facility.pk))
    page.get_by_label("Service description").fill("Stroke triage on CT studies")
    page.get_by_label("Receives PHI").check()
    page.get_by_label("PHI access starts on").fill(today)
    page.get_by_label("Status").select_option(label="Active")
    page.locator("input[name=save]").click()
    page.wait_for_load_state()

    # 3. The worker runs the rules; the dashboard shows the missing BAA, most urgent, with the way to fix it.
    def missing_baa_found():
        return Finding.objects.filter(kind=FindingKind.MISSING_BAA, vendor=vendor, resolved_at=None).first()

    missing = wait_until(missing_baa_found, timeout=60, message=celery_worker.log_tail)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    urgent = page.locator(".urgent-findings")
    assert urgent.get_by_role("link", name="Missing BAA").is_visible()
    assert "Aidoc Medical" in urgent.inner_text()
    assert page.locator('[data-metric="vendors-covered"]').inner_text().startswith("0")

    # 4. An executed BAA, from the finding's own "Add the BAA" link (vendor and facility prefilled).
    urgent.get_by_role("link", name=re.compile("Add the BAA")).first.click()
    page.wait_for_url(re.compile(r"/agreements/new/\?vendor="))
    assert page.get_by_label("Vendor").input_value() == str(vendor.pk)
    page.get_by_label("Status").select_option(label="Executed")
    page.get_by_label("Executed on").fill(today)
    page.get_by_label("Breach notification days").fill("30")
    page.locator("input[name=save]").click()
    page.wait_for_load_state()
    agreement = BusinessAssociateAgreement.objects.get(vendor=vendor)
    assert list(agreement.covered_facilities.all()) == [facility]

    # 5. Its signed PDF.
    page.get_by_label("Signed PDF").set_input_files(str(signed_pdf_file(tmp_path)))
    page.get_by_role("button", name="Upload PDF").click()
    page.wait_for_load_state()
    assert AgreementDocument.objects.filter(agreement=agreement).count() == 1

    # 6. After the worker's runs, the finding is resolved, and nothing else is left open for this vendor.
    def all_resolved():
        missing.refresh_from_db()
        return missing.resolved_at is not None and not Finding.objects.filter(vendor=vendor, resolved_at=None).exists()

    wait_until(all_resolved, timeout=60, message=celery_worker.log_tail)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    assert page.locator('[data-metric="vendors-covered"]').inner_text().startswith("1")
    assert "No open findings" in page.locator("main").inner_text()
    page.goto(f"/findings/?state=resolved&vendor={vendor.pk}")
    assert page.locator(".findings-table").get_by_role("link", name="Missing BAA").is_visible()

    # 7. The coverage matrix cell is covered and links to the agreement.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Coverage").click()
    cell = page.locator(f'[data-cell="{facility.pk}-{vendor.pk}"]')
    assert cell.get_attribute("data-state") == "covered"
    cell.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/agreements/{agreement.pk}/$"))
    assert not page.js_errors
