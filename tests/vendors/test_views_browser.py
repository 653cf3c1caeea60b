"""The inventory pages in a real Chromium: no serious accessibility violation (axe-core), and the
spreadsheet import done the way a compliance officer does it (upload, preview, confirm)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreements.models import BusinessAssociateAgreement
from checklists.models import ChecklistItem
from compliance.models import Finding, FindingKind
from tests.browser.conftest import axe_violations, chromium, describe, media_root, page, sign_in  # noqa: F401
from tests.browser.pages import seed
from tests.support.waiting import wait_until
from vendors.models import Engagement, Vendor

pytestmark = pytest.mark.browser


def test_it_has_no_serious_accessibility_violation_on_the_inventory_pages(page, transactional_db):  # noqa: F811
    result = seed()
    org = result.organization
    sign_in(page, "officer", result.password)
    engagement = Engagement.objects.filter(facility__organization=org, teleradiology_checklist__isnull=False).first()
    agreement = BusinessAssociateAgreement.objects.filter(organization=org).first()
    item = ChecklistItem.objects.get(checklist__engagement=engagement, number=4)
    pages = {
        "facilities": reverse("facilities:list"),
        "facility": reverse("facilities:detail", args=[engagement.facility_id]),
        "vendor_form": reverse("vendors:update", args=[engagement.vendor_id]),
        "engagement_form": reverse("vendors:engagement_update", args=[engagement.pk]),
        "import": reverse("vendors:import"),
        "agreement_form": reverse("agreements:update", args=[agreement.pk]),
        "checklist": reverse("checklists:detail", args=[engagement.pk]),
        "item_form": reverse("checklists:item_update", args=[item.pk]),
    }
    problems = {}
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, f"{name}: {url} answered {response.status}"
        violations = axe_violations(page)
        if violations:
            problems[name] = violations
    assert not problems, describe(problems)
    assert not page.js_errors


def test_it_imports_a_spreadsheet_after_a_preview_and_the_findings_follow(page, celery_worker, tmp_path):  # noqa: F811
    """Upload with a bad row: every problem listed, nothing saved. Fixed file: preview, confirm, all saved;
    the real Celery worker re-runs the rules on commit, so the new vendor's missing BAA shows up."""
    result = seed()
    org = result.organization
    facility = org.facilities.order_by("name").first()
    sign_in(page, "officer", result.password)
    header = "legal_name,category,facility,service_description,phi_maintains,phi_access_starts_on\n"
    good = f"Good Vendor,pacs,{facility.name},Archive,yes,2026-01-05\n"
    spreadsheet = tmp_path / "inventory.csv"
    spreadsheet.write_text(header + good + f"Bad Vendor,quantum,{facility.name},,,\n")
    page.goto(reverse("vendors:import"))
    page.get_by_label("Spreadsheet file").set_input_files(str(spreadsheet))
    page.get_by_role("button", name="Preview the import").click()
    assert page.get_by_text("Nothing was saved: 1 of 2 rows has a problem.").is_visible()
    assert page.get_by_role("rowheader", name="Row 3").is_visible()
    assert not Vendor.objects.filter(legal_name="Good Vendor").exists()

    spreadsheet.write_text(header + good + f"Fixed Vendor,ris,{facility.name},,,\n")
    page.get_by_label("Spreadsheet file").set_input_files(str(spreadsheet))
    page.get_by_role("button", name="Preview the import").click()
    assert not Vendor.objects.filter(legal_name="Good Vendor").exists()
    page.get_by_role("button", name="Save all 2 rows").click()
    page.wait_for_url("**" + reverse("vendors:list"))
    assert page.get_by_text("Imported 2 rows from inventory.csv").is_visible()
    imported = Vendor.objects.filter(organization=org, legal_name__in=["Good Vendor", "Fixed Vendor"])
    assert set(imported.values_list("legal_name", flat=True)) == {"Good Vendor", "Fixed Vendor"}

    def missing_baa_found():
        return Finding.objects.filter(
            vendor__legal_name="Good Vendor", kind=FindingKind.MISSING_BAA, resolved_at__isnull=True
        ).exists()

    wait_until(missing_baa_found, timeout=60, message=celery_worker.log_tail)
    page.goto(reverse("vendors:list") + "?baa_status=missing")
    assert page.get_by_role("link", name="Good Vendor").is_visible()
