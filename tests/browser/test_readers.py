"""A compliance officer records a reading radiologist, a license and privileges by proxy, in Chromium,
and sees teleradiology checklist items 2 and 3 change and the reader findings open and resolve.

After every save the pages enqueue the rules engine on commit; a real Celery worker (on Redis) runs it
on the test database, and the test waits for its result before it looks at the pages again.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from compliance.models import Finding, FindingKind
from organizations.models import Role
from readers.models import Radiologist
from tests import factories as f
from tests.browser.conftest import sign_in
from tests.support.waiting import wait_until
from vendors.models import Engagement, VendorCategory
from vendors.services import engagement_save

pytestmark = pytest.mark.browser


def test_an_officer_makes_items_two_and_three_met_by_recording_a_reader(page, celery_worker, tmp_path):
    org = f.organization(name="Readers Health")
    f.user(org, role=Role.COMPLIANCE_OFFICER, username="readers_officer")
    hospital = f.facility(org, name="Prairie Hospital", state="TX")
    vendor = f.vendor(org, legal_name="Overnight Reads", category=VendorCategory.TELERADIOLOGY)
    engagement = engagement_save(
        engagement=Engagement(
            vendor=vendor,
            facility=hospital,
            service_description="Overnight reads",
            phi_receives=True,
            phi_access_starts_on=f.days(-365),
            status="active",
        )
    )
    f.agreement(vendor)
    today = timezone.localdate()
    npi = f.npi()
    sign_in(page, "readers_officer", f.PASSWORD)

    def item(number: int):
        return page.locator(f'[data-item="{number}"]')

    # 1. No reader recorded: items 2 and 3 are not met.
    page.goto(f"/checklists/engagements/{engagement.pk}/")
    assert "Not met" in item(2).inner_text() and "Not met" in item(3).inner_text()
    assert "No radiologist is recorded" in item(2).inner_text()

    # 2. A radiologist on the vendor's roster, reading for the hospital.
    page.goto(f"/vendors/{vendor.pk}/")
    page.get_by_role("link", name="Reading radiologists, licenses and privileges").click()
    page.get_by_role("link", name="Add a radiologist").click()
    page.get_by_label("First name").fill("Rosalind")
    page.get_by_label("Last name").fill("Franklin")
    page.get_by_label("NPI").fill(npi)
    page.locator("input[name=save]").click()
    page.wait_for_load_state()
    radiologist = Radiologist.objects.get(npi=npi)
    page.get_by_role("link", name="Assign to a facility").click()
    page.get_by_label("Reads for").select_option(str(engagement.pk))
    page.locator("input[name=save]").click()
    page.wait_for_load_state()

    # 3. The worker finds her reading without a Texas license (critical); item 2 shows why.
    def unlicensed():
        return Finding.objects.filter(kind=FindingKind.READER_UNLICENSED, radiologist=radiologist).first()

    finding = wait_until(unlicensed, timeout=60, message=celery_worker.log_tail)
    assert finding.resolved_at is None
    page.reload()
    assert "without a license in the facility" in page.locator("main").inner_text(), page.locator("main").inner_text()
    page.goto(f"/checklists/engagements/{engagement.pk}/")
    assert "Not met" in item(2).inner_text() and "no active Texas license" in item(2).inner_text()

    # 4. Her Texas license: the finding resolves, item 2 is met.
    page.goto(f"/readers/{radiologist.pk}/")
    page.get_by_role("link", name="Add a state license").click()
    page.locator("#id_state").select_option("TX")
    page.get_by_label("License number").fill("TX-R1234")
    page.get_by_label("Issued on").fill((today - datetime.timedelta(days=700)).isoformat())
    page.get_by_label("Expires on").fill((today + datetime.timedelta(days=600)).isoformat())
    page.locator("input[name=save]").click()
    page.wait_for_load_state()

    def resolved():
        finding.refresh_from_db()
        return finding.resolved_at is not None

    wait_until(resolved, timeout=60, message=celery_worker.log_tail)
    page.goto(f"/checklists/engagements/{engagement.pk}/")
    assert "Met" in item(2).inner_text() and "Not met" not in item(2).inner_text()
    assert "no current privileges here" in item(3).inner_text()

    # 5. Privileges by proxy, with no written agreement yet: a finding, and item 3 still not met.
    page.goto(f"/readers/{radiologist.pk}/")
    page.get_by_role("link", name="Add privileges").click()
    page.get_by_label("Facility").select_option(str(hospital.pk))
    page.get_by_label("Basis").select_option("proxy")
    page.get_by_label("Granted on").fill((today - datetime.timedelta(days=30)).isoformat())
    page.get_by_label("Expires on").fill((today + datetime.timedelta(days=700)).isoformat())
    page.locator("input[name=save]").click()
    page.wait_for_load_state()

    def proxy_finding():
        return Finding.objects.filter(
            kind=FindingKind.READER_PROXY_WITHOUT_AGREEMENT, radiologist=radiologist, resolved_at=None
        ).first()

    proxy = wait_until(proxy_finding, timeout=60, message=celery_worker.log_tail)
    page.goto(f"/checklists/engagements/{engagement.pk}/")
    assert "Not met" in item(3).inner_text()
    assert "privileged by proxy without a written agreement in force" in item(3).inner_text()

    # 6. The proxy credentialing agreement with its signed copy: resolved, item 3 met.
    signed = tmp_path / "proxy-agreement.pdf"
    signed.write_bytes(f.MINIMAL_PDF)
    page.goto(f"/readers/vendor/{vendor.pk}/")
    page.get_by_role("link", name="Add a proxy credentialing agreement").click()
    page.get_by_label("Facility").select_option(str(hospital.pk))
    page.get_by_label("Distant site kind").select_option("telemedicine_entity")
    page.get_by_label("Effective on").fill((today - datetime.timedelta(days=60)).isoformat())
    page.get_by_label("Signed agreement").set_input_files(str(signed))
    page.locator("input[name=save]").click()
    page.wait_for_load_state()

    def proxy_resolved():
        proxy.refresh_from_db()
        return proxy.resolved_at is not None

    wait_until(proxy_resolved, timeout=60, message=celery_worker.log_tail)
    page.goto(f"/checklists/engagements/{engagement.pk}/")
    assert "Not met" not in item(2).inner_text() and "Not met" not in item(3).inner_text()
    assert "Rosalind Franklin" in item(3).inner_text()
    assert not Finding.objects.filter(radiologist=radiologist, resolved_at=None).exists()
    assert not page.js_errors
