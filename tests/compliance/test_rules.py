"""The rules engine, case by case: each case builds one organization and states the EXACT set of open
findings (kind, subject) that run_compliance(as_of=TODAY) must produce for it, so a missing finding
and a wrong extra finding both fail.

Factory defaults (tests/factories.py): an engagement is active and receives PHI since a year ago; an
agreement is executed two years ago, evergreen, covers every facility, allows 30 days to report a
breach and has its signed PDF on file. So ``covered(org)`` is the quiet baseline with no finding.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest

from agreements.models import AgreementDocument, AgreementStatus, BusinessAssociateAgreement, DocumentKind
from agreements.services import agreement_execute, agreement_renew
from checklists.models import TELERADIOLOGY_ITEMS, ChecklistItem, ItemStatus
from checklists.services import checklist_item_update
from compliance.models import Finding, FindingKind
from compliance.rules import (
    OMNIBUS_COMPLIANCE_DATE,
    RULES,
    RuleContext,
    agreements_in_force,
    detect_all,
    with_item_one_computed,
)
from compliance.services import run_compliance
from organizations.models import Organization
from tests import factories as f
from tests.factories import TODAY, days
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, VendorCategory
from vendors.services import engagement_save

pytestmark = pytest.mark.django_db

MISSING = FindingKind.MISSING_BAA
LAPSED = FindingKind.BAA_LAPSED
EXPIRING = FindingKind.BAA_EXPIRING
PHI_BEFORE = FindingKind.PHI_BEFORE_BAA
NO_DOCUMENT = FindingKind.NO_SIGNED_DOCUMENT
BREACH_WINDOW = FindingKind.BREACH_WINDOW_TOO_LONG
PRE_OMNIBUS = FindingKind.PRE_OMNIBUS_BAA
CHECKLIST_INCOMPLETE = FindingKind.CHECKLIST_INCOMPLETE
REVIEW_OVERDUE = FindingKind.CHECKLIST_REVIEW_OVERDUE
SUBCONTRACTOR_GAP = FindingKind.SUBCONTRACTOR_GAP
LACKS_PROVISION = FindingKind.BAA_LACKS_PROVISION


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def subject(obj) -> str:
    """The finding's subject key, as the engine stores it."""
    prefix = {
        Engagement: "engagement",
        BusinessAssociateAgreement: "agreement",
        SubcontractorLink: "subcontractor_link",
    }
    return f"{prefix[type(obj)]}:{obj.pk}"


Expected = set[tuple[str, object]]
CASES: list = []


def case(case_id: str):
    """Register a scenario: a function of a fresh organization returning the expected findings."""

    def register(build: Callable[[Organization], Expected]):
        CASES.append(pytest.param(build, id=case_id))
        return build

    return register


# --- Small scenario helpers ---------------------------------------------------------------------


def pacs(org, **kwargs):
    return f.vendor(org, category=VendorCategory.PACS, **kwargs)


def covered(org, **engagement_kwargs):
    """A PACS engagement at a new facility covered by an evergreen executed BAA: no finding."""
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org), **engagement_kwargs)
    agreement = f.agreement(vendor)
    return vendor, engagement, agreement


def teleradiology(org, *, status=EngagementStatus.ACTIVE, **kwargs):
    """A teleradiology engagement saved through the service (so it has its 7-item checklist), covered by
    a BAA executed before PHI access."""
    vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    engagement = engagement_save(
        engagement=Engagement(
            vendor=vendor,
            facility=f.facility(org),
            service_description="Overnight reads",
            phi_receives=True,
            phi_access_starts_on=days(-365),
            status=status,
            **kwargs,
        )
    )
    f.agreement(vendor)
    return engagement


MANUAL_ITEMS = range(2, len(TELERADIOLOGY_ITEMS) + 1)


def verify(engagement, *, numbers=MANUAL_ITEMS, next_review_on=None, **kwargs):
    """Record items as complete, verified by an officer of the organization (next review in a year by default)."""
    next_review_on = next_review_on or days(355)
    officer = f.user(engagement.facility.organization)
    for item in ChecklistItem.objects.filter(checklist__engagement=engagement, number__in=list(numbers)):
        checklist_item_update(
            item=item,
            status=kwargs.get("status", ItemStatus.COMPLETE),
            not_applicable_reason=kwargs.get("not_applicable_reason", ""),
            verified_by=officer,
            verified_on=days(-10),
            next_review_on=next_review_on,
        )


# --- Rule 1: missing BAA ------------------------------------------------------------------------


@case("baseline: covered by an evergreen executed BAA -> nothing")
def _(org):
    covered(org)
    return set()


@case("missing: active engagement with PHI access and no BAA")
def _(org):
    engagement = f.engagement(pacs(org), f.facility(org))
    return {(MISSING, engagement)}


@case("missing: only a draft BAA")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org))
    f.agreement(vendor, status=AgreementStatus.DRAFT)
    return {(MISSING, engagement)}


@case("missing: the BAA is with another vendor")
def _(org):
    engagement = f.engagement(pacs(org), f.facility(org))
    f.agreement(pacs(org))
    return {(MISSING, engagement)}


@case("missing: facility not covered by a selective BAA (the listed one is)")
def _(org):
    vendor = pacs(org)
    listed, other = f.facility(org), f.facility(org)
    f.engagement(vendor, listed)
    uncovered = f.engagement(vendor, other)
    f.agreement(vendor, facilities=[listed])
    return {(MISSING, uncovered)}


@case("no finding: conduit vendor that transmits data")
def _(org):
    conduit = f.vendor(org, category=VendorCategory.OTHER, is_conduit=True)
    f.engagement(conduit, f.facility(org), phi_receives=False, phi_transmits=True)
    return set()


@case("no finding: offboarded engagement without a BAA")
def _(org):
    f.engagement(pacs(org), f.facility(org), status=EngagementStatus.OFFBOARDED)
    return set()


@case("no finding: engagement without PHI access")
def _(org):
    f.engagement(pacs(org), f.facility(org), phi_receives=False, phi_access_starts_on=None)
    return set()


@case("no finding: engagement ended yesterday")
def _(org):
    f.engagement(pacs(org), f.facility(org), ends_on=days(-1))
    return set()


@case("missing: engagement ending today still has PHI access")
def _(org):
    engagement = f.engagement(pacs(org), f.facility(org), ends_on=TODAY)
    return {(MISSING, engagement)}


@case("no finding: planned engagement, PHI access starts tomorrow")
def _(org):
    f.engagement(pacs(org), f.facility(org), status=EngagementStatus.PLANNED, phi_access_starts_on=days(1))
    return set()


@case("no finding: planned engagement with no PHI start date")
def _(org):
    f.engagement(pacs(org), f.facility(org), status=EngagementStatus.PLANNED, phi_access_starts_on=None)
    return set()


@case("missing: planned engagement, PHI access starts today")
def _(org):
    engagement = f.engagement(pacs(org), f.facility(org), status=EngagementStatus.PLANNED, phi_access_starts_on=TODAY)
    return {(MISSING, engagement)}


@case("missing: planned engagement, PHI access started yesterday")
def _(org):
    engagement = f.engagement(
        pacs(org), f.facility(org), status=EngagementStatus.PLANNED, phi_access_starts_on=days(-1)
    )
    return {(MISSING, engagement)}


@case("no finding: planned engagement starting tomorrow, BAA executed today")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org), status=EngagementStatus.PLANNED, phi_access_starts_on=days(1))
    f.agreement(vendor, executed_on=TODAY)
    return set()


@case("missing: BAA executed today but effective only in 10 days (and PHI flowed before signature)")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org))
    f.agreement(vendor, executed_on=TODAY, effective_on=days(10))
    return {(MISSING, engagement), (PHI_BEFORE, engagement)}


@case("no finding: BAA effective today")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org), phi_access_starts_on=TODAY)
    f.agreement(vendor, executed_on=days(-5), effective_on=TODAY)
    return set()


# --- Rule 2: BAA lapsed while PHI access continues ----------------------------------------------


@case("lapsed: executed BAA expired yesterday (status not yet rolled)")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org))
    f.agreement(vendor, expires_on=days(-1))
    return {(LAPSED, engagement)}


@case("lapsed: BAA with status expired")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org))
    f.agreement(vendor, status=AgreementStatus.EXPIRED, expires_on=days(-10))
    return {(LAPSED, engagement)}


@case("lapsed: terminated BAA is rule 2, not rule 1")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org))
    f.agreement(vendor, status=AgreementStatus.TERMINATED, terminated_on=days(-1))
    return {(LAPSED, engagement)}


@case("lapsed: selective BAA that listed the facility expired")
def _(org):
    vendor = pacs(org)
    facility = f.facility(org)
    engagement = f.engagement(vendor, facility)
    f.agreement(vendor, facilities=[facility], status=AgreementStatus.EXPIRED, expires_on=days(-3))
    return {(LAPSED, engagement)}


@case("no finding: lapsed BAA but the engagement is offboarded")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org), status=EngagementStatus.OFFBOARDED)
    f.agreement(vendor, status=AgreementStatus.TERMINATED, terminated_on=days(-1))
    return set()


@case("expiring only: BAA expires today is still in force")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    agreement = f.agreement(vendor, expires_on=TODAY)
    return {(EXPIRING, agreement)}


@case("no finding: auto-renewing BAA past its date, not yet rolled forward by the nightly job")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    f.agreement(vendor, expires_on=days(-1), auto_renews=True, renewal_term_months=12, renewal_notice_days=60)
    return set()


# --- Rule 3: BAA expiring within the horizon ----------------------------------------------------


@case("expiring: expires exactly at the 90-day horizon")
def _(org):
    agreement = f.agreement(pacs(org), expires_on=days(90))
    return {(EXPIRING, agreement)}


@case("no finding: expires one day past the horizon")
def _(org):
    f.agreement(pacs(org), expires_on=days(91))
    return set()


@case("no finding: evergreen BAA covers and never expires")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    f.agreement(vendor, expires_on=None)
    return set()


@case("expiring: a draft renewal does not count as a successor")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    agreement = f.agreement(vendor, expires_on=days(30))
    agreement_renew(previous=agreement, title="Renewal 2027", effective_on=days(31))
    return {(EXPIRING, agreement)}


@case("no finding: executed renewal effective today supersedes the expiring BAA")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    old = f.agreement(vendor, expires_on=days(30))
    renewal = agreement_renew(previous=old, title="Renewal 2027", effective_on=TODAY)
    agreement_execute(agreement=renewal, executed_on=TODAY)
    f.signed_pdf(renewal)
    return set()


@case("no finding: renewal executed in advance, effective the day after the old BAA expires")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    old = f.agreement(vendor, expires_on=days(30))
    renewal = agreement_renew(previous=old, title="Renewal 2027", effective_on=days(31))
    agreement_execute(agreement=renewal, executed_on=TODAY, effective_on=days(31))
    f.signed_pdf(renewal)
    return set()


@case("expiring: auto-renewing, notice deadline inside the horizon though the expiry is past it")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    agreement = f.agreement(
        vendor, expires_on=days(120), auto_renews=True, renewal_term_months=12, renewal_notice_days=60
    )
    return {(EXPIRING, agreement)}


@case("expiring: auto-renewing, notice deadline exactly at the horizon")
def _(org):
    agreement = f.agreement(
        pacs(org), expires_on=days(150), auto_renews=True, renewal_term_months=12, renewal_notice_days=60
    )
    return {(EXPIRING, agreement)}


@case("no finding: auto-renewing, notice deadline one day past the horizon")
def _(org):
    f.agreement(pacs(org), expires_on=days(151), auto_renews=True, renewal_term_months=12, renewal_notice_days=60)
    return set()


@case("expiring: auto-renewing, notice deadline is today")
def _(org):
    agreement = f.agreement(
        pacs(org), expires_on=days(60), auto_renews=True, renewal_term_months=12, renewal_notice_days=60
    )
    return {(EXPIRING, agreement)}


@case("no finding: auto-renewing, notice deadline passed yesterday (it renews)")
def _(org):
    f.agreement(pacs(org), expires_on=days(59), auto_renews=True, renewal_term_months=12, renewal_notice_days=60)
    return set()


# --- Rule 4: PHI access before the BAA was executed ---------------------------------------------


@case("no finding: BAA executed the same day PHI access starts")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org), phi_access_starts_on=days(-100))
    f.agreement(vendor, executed_on=days(-100))
    return set()


@case("phi before BAA: executed the day after PHI access started")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org), phi_access_starts_on=days(-100))
    f.agreement(vendor, executed_on=days(-99))
    return {(PHI_BEFORE, engagement)}


@case("phi before BAA: an older BAA had expired before PHI access started")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org), phi_access_starts_on=days(-365))
    f.agreement(vendor, status=AgreementStatus.EXPIRED, executed_on=days(-2000), expires_on=days(-1500))
    f.agreement(vendor, executed_on=days(-300))
    return {(PHI_BEFORE, engagement)}


@case("phi before BAA: an older BAA was terminated before PHI access started")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org), phi_access_starts_on=days(-365))
    f.agreement(vendor, status=AgreementStatus.TERMINATED, executed_on=days(-2000), terminated_on=days(-400))
    f.agreement(vendor, executed_on=days(-300))
    return {(PHI_BEFORE, engagement)}


@case("no finding: a BAA in force on the first PHI day, later renewed")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org), phi_access_starts_on=days(-365))
    old = f.agreement(vendor, executed_on=days(-400), expires_on=days(10))
    renewal = agreement_renew(previous=old, title="Renewal", effective_on=days(-5))
    agreement_execute(agreement=renewal, executed_on=days(-5))
    f.signed_pdf(renewal)
    return set()


@case("phi before BAA: offboarded engagement keeps the historical finding")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(
        vendor, f.facility(org), phi_access_starts_on=days(-365), status=EngagementStatus.OFFBOARDED
    )
    f.agreement(vendor, executed_on=days(-200))
    return {(PHI_BEFORE, engagement)}


@case("lapsed only: the only BAA expired before PHI access started (no later BAA to compare with)")
def _(org):
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org), phi_access_starts_on=days(-365))
    f.agreement(vendor, status=AgreementStatus.EXPIRED, executed_on=days(-2000), expires_on=days(-1500))
    return {(LAPSED, engagement)}


# --- Rule 5: executed BAA with no signed document -----------------------------------------------


@case("no signed document: executed BAA without its PDF")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    agreement = f.agreement(vendor, signed_document=False)
    return {(NO_DOCUMENT, agreement)}


@case("no signed document: only an amendment is on file")
def _(org):
    agreement = f.agreement(pacs(org), signed_document=False)
    AgreementDocument.objects.create(
        agreement=agreement,
        kind=DocumentKind.AMENDMENT,
        file="agreements/amendment.pdf",
        original_name="amendment.pdf",
        size_bytes=10,
        sha256="0" * 64,
    )
    return {(NO_DOCUMENT, agreement)}


@case("no finding: draft BAA without a document")
def _(org):
    f.agreement(pacs(org), status=AgreementStatus.DRAFT, signed_document=False)
    return set()


# --- Rule 6: breach-notification window ---------------------------------------------------------


@case("no finding: breach window of 60 days")
def _(org):
    f.agreement(pacs(org), breach_notification_days=60)
    return set()


@case("breach window: 61 days")
def _(org):
    agreement = f.agreement(pacs(org), breach_notification_days=61)
    return {(BREACH_WINDOW, agreement)}


@case("no finding: 90-day breach window in a terminated BAA")
def _(org):
    f.agreement(pacs(org), breach_notification_days=90, status=AgreementStatus.TERMINATED, terminated_on=days(-1))
    return set()


# --- Rule 7: pre-Omnibus BAA --------------------------------------------------------------------


@case("pre-Omnibus: executed 2013-09-22")
def _(org):
    agreement = f.agreement(pacs(org), executed_on=OMNIBUS_COMPLIANCE_DATE - datetime.timedelta(days=1))
    return {(PRE_OMNIBUS, agreement)}


@case("no finding: executed 2013-09-23")
def _(org):
    f.agreement(pacs(org), executed_on=OMNIBUS_COMPLIANCE_DATE)
    return set()


@case("no finding: pre-Omnibus BAA amended after the Omnibus date")
def _(org):
    f.agreement(pacs(org), executed_on=datetime.date(2010, 5, 1), amended_on=datetime.date(2014, 3, 1))
    return set()


@case("no finding: pre-Omnibus BAA amended on the Omnibus date")
def _(org):
    f.agreement(pacs(org), executed_on=datetime.date(2010, 5, 1), amended_on=OMNIBUS_COMPLIANCE_DATE)
    return set()


@case("pre-Omnibus: amended before the Omnibus date")
def _(org):
    agreement = f.agreement(pacs(org), executed_on=datetime.date(2010, 5, 1), amended_on=datetime.date(2013, 9, 22))
    return {(PRE_OMNIBUS, agreement)}


@case("no finding: pre-Omnibus BAA superseded by a 2014 successor")
def _(org):
    vendor = pacs(org)
    f.engagement(vendor, f.facility(org))
    old = f.agreement(vendor, executed_on=datetime.date(2010, 5, 1))
    renewal = agreement_renew(previous=old, title="Omnibus BAA", effective_on=datetime.date(2014, 1, 1))
    agreement_execute(agreement=renewal, executed_on=datetime.date(2014, 1, 1))
    f.signed_pdf(renewal)
    return set()


# --- Rule 8: teleradiology checklist ------------------------------------------------------------


@case("no finding: teleradiology checklist all done")
def _(org):
    verify(teleradiology(org))
    return set()


@case("checklist incomplete: one item open")
def _(org):
    engagement = teleradiology(org)
    verify(engagement, numbers=range(2, 7))
    return {(CHECKLIST_INCOMPLETE, engagement)}


@case("checklist incomplete: nothing verified yet")
def _(org):
    engagement = teleradiology(org)
    return {(CHECKLIST_INCOMPLETE, engagement)}


@case("checklist incomplete: planned engagement, nothing verified")
def _(org):
    engagement = teleradiology(org, status=EngagementStatus.PLANNED)
    return {(CHECKLIST_INCOMPLETE, engagement)}


@case("checklist incomplete: teleradiology engagement without a checklist")
def _(org):
    vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    engagement = f.engagement(vendor, f.facility(org))
    f.agreement(vendor)
    return {(CHECKLIST_INCOMPLETE, engagement)}


@case("no finding: one item not applicable with a reason")
def _(org):
    engagement = teleradiology(org)
    verify(engagement, numbers=range(2, 7))
    verify(engagement, numbers=[7], status=ItemStatus.NOT_APPLICABLE, not_applicable_reason="Reads in vendor PACS")
    return set()


@case("no finding: incomplete checklist of an offboarded engagement")
def _(org):
    teleradiology(org, status=EngagementStatus.OFFBOARDED)
    return set()


@case("review overdue: an item was due for review yesterday")
def _(org):
    engagement = teleradiology(org)
    verify(engagement)
    verify(engagement, numbers=[2], next_review_on=days(-1))
    return {(REVIEW_OVERDUE, engagement)}


@case("no finding: an item is due for review today")
def _(org):
    engagement = teleradiology(org)
    verify(engagement, next_review_on=TODAY)
    return set()


@case("review overdue and incomplete: one finding per kind for the engagement")
def _(org):
    engagement = teleradiology(org)
    verify(engagement, numbers=[2, 3], next_review_on=days(-30))
    return {(REVIEW_OVERDUE, engagement), (CHECKLIST_INCOMPLETE, engagement)}


# --- Rule 9: subcontractors ---------------------------------------------------------------------


@case("subcontractor gap: touches PHI, no attested downstream BAA")
def _(org):
    vendor, _, _ = covered(org)
    link = f.subcontractor_link(vendor)
    return {(SUBCONTRACTOR_GAP, link)}


@case("no finding: downstream BAA attested")
def _(org):
    vendor, _, _ = covered(org)
    f.subcontractor_link(vendor, downstream_baa_attested_on=days(-30))
    return set()


@case("no finding: conduit subcontractor")
def _(org):
    vendor, _, _ = covered(org)
    f.subcontractor_link(vendor, subcontractor=f.vendor(org, category=VendorCategory.OTHER, is_conduit=True))
    return set()


@case("no finding: subcontractor that does not touch PHI")
def _(org):
    vendor, _, _ = covered(org)
    f.subcontractor_link(vendor, touches_phi=False)
    return set()


# --- Rule 10: required provisions (the review of the signed document, documents app) ----------


def reviewed(agreement, *, missing: dict[str, str]) -> None:
    """P1-P12 as the reader stored them: all found except ``missing`` (provision -> officer verdict)."""
    from documents.models import ProvisionReview

    for number in range(1, 13):
        pid = f"P{number}"
        verdict = missing.get(pid)
        ProvisionReview.objects.create(
            agreement=agreement,
            provision=pid,
            detected=verdict is None or verdict == "missing",  # "missing": read as found, officer disagrees
            officer_verdict=verdict if verdict in ("present", "missing") else "",
            note="checked" if verdict in ("present", "missing") else "",
        )


@case("lacks a provision: P5 not found, not overridden")
def _(org):
    _, _, agreement = covered(org)
    reviewed(agreement, missing={"P5": "not found"})
    return {(LACKS_PROVISION, agreement)}


@case("no finding: P5 not found but confirmed present by the officer")
def _(org):
    _, _, agreement = covered(org)
    reviewed(agreement, missing={"P5": "present"})
    return set()


@case("lacks a provision: P12 confirmed missing by the officer")
def _(org):
    _, _, agreement = covered(org)
    reviewed(agreement, missing={"P12": "missing"})
    return {(LACKS_PROVISION, agreement)}


@case("no finding: provisions missing in a terminated BAA")
def _(org):
    agreement = f.agreement(pacs(org), status=AgreementStatus.TERMINATED, terminated_on=days(-1))
    reviewed(agreement, missing={"P5": "not found"})
    return set()


# --- The table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("build", CASES)
def test_it_produces_exactly_the_expected_findings(build):
    org = f.organization()
    expected = {(kind, subject(obj)) for kind, obj in build(org)}
    noise = f.organization()  # another organization with a problem of its own must not leak in
    f.engagement(pacs(noise), f.facility(noise))

    run_compliance(as_of=TODAY)

    found = set(Finding.objects.open().filter(organization=org).values_list("kind", "subject_key"))
    assert found == expected


def test_it_has_a_case_for_every_rule():
    kinds = set()
    for param in CASES:
        org = f.organization()
        kinds |= {kind for kind, _ in param.values[0](org)}
    assert kinds == {rule.kind for rule in RULES}


def test_it_gives_each_finding_its_vendor_facility_and_date():
    org = f.organization()
    vendor = pacs(org)
    facility = f.facility(org)
    engagement = f.engagement(vendor, facility, phi_access_starts_on=days(-100))
    f.agreement(vendor, executed_on=days(-99))
    expiring = f.agreement(
        pacs(org), expires_on=days(120), auto_renews=True, renewal_term_months=12, renewal_notice_days=60
    )

    run_compliance(as_of=TODAY)

    phi_before = Finding.objects.get(kind=PHI_BEFORE)
    assert (phi_before.engagement, phi_before.vendor, phi_before.facility) == (engagement, vendor, facility)
    assert phi_before.due_on == days(-100)
    assert "1 days before" in phi_before.explanation
    notice = Finding.objects.get(kind=EXPIRING)
    assert (notice.agreement, notice.facility) == (expiring, None)
    assert notice.due_on == days(60), "an auto-renewing BAA is due at its notice deadline"
    assert "notice deadline" in notice.explanation


def test_it_names_the_lapsed_agreement_and_its_date():
    org = f.organization()
    vendor = pacs(org)
    engagement = f.engagement(vendor, f.facility(org))
    f.agreement(vendor, status=AgreementStatus.EXPIRED, executed_on=days(-2000), expires_on=days(-1000))
    latest = f.agreement(vendor, status=AgreementStatus.TERMINATED, executed_on=days(-900), terminated_on=days(-7))

    run_compliance(as_of=TODAY)

    finding = Finding.objects.get()
    assert (finding.kind, finding.engagement, finding.agreement) == (LAPSED, engagement, latest)
    assert f"was terminated on {days(-7):%Y-%m-%d}" in finding.explanation


def test_it_detects_each_rule_in_one_query(django_assert_num_queries):
    org = f.organization()
    for build in [param.values[0] for param in CASES]:
        build(org)
    ctx = RuleContext(as_of=TODAY, horizon_days=90, organization_id=org.pk)

    with django_assert_num_queries(len(RULES)):
        detections = detect_all(ctx)

    assert detections


def test_item_one_agrees_with_the_rules():
    """Checklist item 1 (computed) is true exactly when rules 1, 2 and 4 find nothing for the engagement."""
    org = f.organization()
    ok = teleradiology(org)
    late_vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    late = f.engagement(late_vendor, f.facility(org), phi_access_starts_on=days(-100))
    f.agreement(late_vendor, executed_on=days(-50))
    gap_vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    gap = f.engagement(gap_vendor, f.facility(org), phi_access_starts_on=days(-365))
    f.agreement(gap_vendor, status=AgreementStatus.EXPIRED, executed_on=days(-2000), expires_on=days(-1500))
    f.agreement(gap_vendor, executed_on=days(-300))
    advance_vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    advance = f.engagement(advance_vendor, f.facility(org))
    old = f.agreement(advance_vendor, executed_on=days(-400), expires_on=days(5))
    renewal = agreement_renew(previous=old, title="Renewal", effective_on=days(6))
    agreement_execute(agreement=renewal, executed_on=TODAY, effective_on=days(6))

    computed = dict(
        with_item_one_computed(Engagement.objects.filter(facility__organization=org), TODAY).values_list(
            "pk", "baa_before_phi"
        )
    )

    assert computed == {ok.pk: True, late.pk: False, gap.pk: False, advance.pk: True}


def test_a_superseded_agreement_stops_covering_once_its_successor_is_in_force():
    org = f.organization()
    vendor = pacs(org)
    old = f.agreement(vendor, expires_on=days(30))
    renewal = agreement_renew(previous=old, title="Renewal", effective_on=days(10))
    agreement_execute(agreement=renewal, executed_on=TODAY, effective_on=days(10))

    assert set(agreements_in_force(TODAY).filter(vendor=vendor)) == {old}
    assert set(agreements_in_force(days(9)).filter(vendor=vendor)) == {old}
    assert set(agreements_in_force(days(10)).filter(vendor=vendor)) == {renewal}
