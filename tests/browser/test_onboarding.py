"""Bulk onboarding in Chromium: 50 signed PDFs (born-digital and a few scanned) uploaded at once, read
by a real Celery worker while the queue page shows the progress, each confirmed on its review screen,
and the agreements and the provision findings created.

Fast by construction: the PDFs are rendered once per module (five documents, made distinct by their
metadata), the scans are a two-page agreement, and every wait is a Playwright expectation or a poll
of the database, never a sleep.
"""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader, PdfWriter

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from compliance.models import Finding, FindingKind
from documents import corpus
from onboarding.models import DraftState, OnboardingDraft
from organizations.models import Role
from tests import factories as f
from tests.browser.conftest import axe_violations, sign_in
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser

BORN_DIGITAL = 47
SCANNED = 3


def _variant(pdf: bytes, number: int) -> bytes:
    """The same document with its own /Title: other bytes, so not a duplicate of the queue."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Title": f"Signed BAA {number}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> list:
    folder = tmp_path_factory.mktemp("onboarding")
    complete = corpus.render(corpus.hhs_clauses("within four (4) hours"))
    lacking_p10 = corpus.render(corpus.without(corpus.hhs_clauses(), "P10"))
    commercial = corpus.render(corpus.commercial_clauses())
    sources = [complete, complete, complete, commercial, lacking_p10]
    paths = []
    for number in range(BORN_DIGITAL):
        path = folder / f"baa-{number:02}.pdf"
        path.write_bytes(_variant(sources[number % len(sources)], number))
        paths.append(path)
    for number in range(SCANNED):
        path = folder / f"scan-{number}.pdf"
        path.write_bytes(corpus.scan(commercial, degrees=1.0 + number / 2))
        paths.append(path)
    return paths


def test_it_onboards_fifty_signed_baas(page, celery_worker, batch):
    org = f.organization(name="Lakeside Imaging Network")
    f.facility(org, name="Lakeside Imaging Center")
    northwind = f.vendor(org, legal_name="Northwind PACS, Inc")
    f.user(org, role=Role.COMPLIANCE_OFFICER, username="onboarding_officer")
    sign_in(page, "onboarding_officer", f.PASSWORD)

    page.goto("/agreements/")
    page.get_by_role("link", name="Onboard signed BAAs").click()
    expect(page.get_by_text(re.compile(r"Up to 100 PDFs at once"))).to_be_visible()
    page.get_by_label("Signed PDFs or ZIP archives").set_input_files([str(p) for p in batch])
    page.get_by_label("Covers every facility").check()
    page.get_by_role("button", name="Upload to the review queue").click()
    expect(page.get_by_text("50 PDFs added to the review queue")).to_be_visible()

    # While the worker reads, the queue page shows it (it refreshes itself until every draft is read).
    summary = page.locator("[data-queue-summary]")
    expect(summary).to_contain_text(re.compile(r"[1-9]\d* being read"))
    expect(summary).to_have_text("50 drafts: 0 being read, 50 ready for review.", timeout=300_000)
    rows = page.locator(".onboarding-queue tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.filter(has_text="baa-00.pdf")).to_contain_text("Northwind PACS, Inc (100%)")
    expect(rows.filter(has_text="baa-03.pdf")).to_contain_text("New: Cloudline Imaging Systems LLC")
    expect(rows.filter(has_text="baa-04.pdf")).to_contain_text("11 of 12")
    expect(rows.filter(has_text="scan-0.pdf")).to_contain_text("12 of 12")

    assert axe_violations(page) == []

    # Each draft on its own screen; confirming one opens the next ready one, the last the queue.
    rows.filter(has_text="baa-00.pdf").get_by_role("link").click()
    assert axe_violations(page) == []
    for _ in range(50):
        expect(page.get_by_role("heading", level=1)).to_contain_text("Review ")
        if page.get_by_label("Vendor", exact=True).input_value() == "":
            expect(page.get_by_label("New vendor's legal name")).to_have_value("Cloudline Imaging Systems LLC")
            page.get_by_label("New vendor's category").select_option(label="PACS")
        if not page.get_by_label("Executed on").input_value():
            page.get_by_label("Executed on").fill("2025-03-03")
        page.get_by_role("button", name="Confirm and create the agreement").click()
        expect(page.get_by_text(re.compile(r"Agreement .* created from "))).to_be_visible()
    assert page.url.endswith("/onboarding/")
    expect(page.locator("[data-queue-summary]")).to_have_text("0 drafts: 0 being read, 0 ready for review.")

    agreements = BusinessAssociateAgreement.objects.filter(organization=org)
    assert agreements.count() == 50
    assert set(agreements.values_list("status", flat=True)) == {AgreementStatus.EXECUTED}
    # Four sources of five name Northwind (a match, 100); the commercial addendum and the scans a new vendor.
    assert agreements.filter(vendor=northwind).count() == 38
    assert agreements.filter(vendor__legal_name="Cloudline Imaging Systems LLC").count() == 12
    assert not OnboardingDraft.objects.exclude(state=DraftState.CONFIRMED).exists()

    # The compliance runs scheduled by the confirmations: the nine BAAs without P10 are findings.
    lacking = set(agreements.filter(onboarding_draft__original_name__in=[f"baa-{n:02}.pdf" for n in range(4, 47, 5)]))

    def provision_findings():
        found = Finding.objects.filter(kind=FindingKind.BAA_LACKS_PROVISION, organization=org, resolved_at=None)
        return {finding.agreement for finding in found.select_related("agreement")} >= lacking

    wait_until(provision_findings, timeout=120, message=celery_worker.log_tail)
    assert len(lacking) == 9
    assert not Finding.objects.filter(
        kind=FindingKind.BAA_LACKS_PROVISION, agreement__onboarding_draft__original_name="baa-00.pdf"
    ).exists()
    page.goto("/findings/")
    expect(page.locator("main")).to_contain_text("BAA lacks a required provision")
    assert not page.js_errors
