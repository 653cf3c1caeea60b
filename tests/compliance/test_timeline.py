"""Coverage over time (issue 11), case by case: each case builds one organization and states

- the EXACT timeline of one engagement: its covered periods (with the agreement) and uncovered
  periods (with the reason), as derived from dates by compliance/timeline.py;
- the EXACT open findings of the organization today (stored by run_compliance for TODAY);
- the EXACT findings as of other days (evaluate_compliance, which writes nothing).

Every case of the issue is here, plus multiple PHI periods, chained renewals with and without gaps,
a facility added to and removed from coverage, and evergreen pre-Omnibus BAAs amended and not.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.base import ContentFile

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from agreements.services import agreement_execute, agreement_renew, agreement_save
from compliance.models import AssessmentOutcome, Finding, FindingKind
from compliance.rules import with_item_one_computed
from compliance.services import breach_risk_assessment_record, evaluate_compliance, run_compliance
from compliance.timeline import (
    EndReason,
    GapReason,
    agreements_in_force,
    build_timelines,
    covering,
    engagements_with_phi_access,
)
from organizations.models import Organization
from tests import factories as f
from tests.factories import TODAY, days
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, VendorCategory
from vendors.services import engagement_save

pytestmark = pytest.mark.django_db

D = datetime.date
MISSING = FindingKind.MISSING_BAA
LAPSED = FindingKind.BAA_LAPSED
EXPIRING = FindingKind.BAA_EXPIRING
TERMINATING = FindingKind.BAA_TERMINATING
GAP_AHEAD = FindingKind.COVERAGE_GAP_AHEAD
PHI_BEFORE = FindingKind.PHI_BEFORE_BAA
PHI_WITHOUT = FindingKind.PHI_WITHOUT_BAA
PRE_OMNIBUS = FindingKind.PRE_OMNIBUS_BAA
SUBCONTRACTOR_GAP = FindingKind.SUBCONTRACTOR_GAP


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def key(obj, starts_on: datetime.date | None = None) -> str:
    prefix = {
        Engagement: "engagement",
        BusinessAssociateAgreement: "agreement",
        SubcontractorLink: "subcontractor_link",
    }
    base = f"{prefix[type(obj)]}:{obj.pk}"
    return f"{base}:{starts_on:%Y-%m-%d}" if starts_on else base


#: A period of the expected timeline: (first day, last day or None, agreement or reason).
#: A covered period names its agreement; an uncovered one its GapReason (and cause, if lapsed).
Covered = tuple


@dataclass
class Expect:
    engagement: Engagement | None
    periods: list[tuple]
    today: set[tuple[str, str]]
    as_of: dict[datetime.date, set[tuple[str, str]]] = field(default_factory=dict)


CASES: list = []


def case(case_id: str):
    def register(build: Callable[[Organization], Expect]):
        CASES.append(pytest.param(build, id=case_id))
        return build

    return register


def pacs(org, **kwargs):
    return f.vendor(org, category=VendorCategory.PACS, **kwargs)


def gap(first, last, reason=GapReason.NO_BAA, cause=""):
    return (first, last, (reason, cause))


# --- The cases of the issue ---------------------------------------------------------------------


@case("as of 2025-03-01 a BAA terminated in June 2025 still covers")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2021, 1, 1))
    a = f.agreement(vendor, status=AgreementStatus.TERMINATED, executed_on=D(2020, 1, 1), terminated_on=D(2025, 6, 15))
    return Expect(
        e,
        [(D(2021, 1, 1), D(2025, 6, 14), a), gap(D(2025, 6, 15), None, GapReason.LAPSED, EndReason.TERMINATED)],
        today={(LAPSED, key(e))},
        as_of={D(2025, 3, 1): {(TERMINATING, key(a))}, D(2020, 6, 1): {(TERMINATING, key(a))}},
    )


@case("a BAA now expired (2025-06-30) is not expired on 2025-03-01")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2021, 1, 1))
    a = f.agreement(vendor, status=AgreementStatus.EXPIRED, executed_on=D(2020, 1, 1), expires_on=D(2025, 6, 30))
    return Expect(
        e,
        [(D(2021, 1, 1), D(2025, 6, 30), a), gap(D(2025, 7, 1), None, GapReason.LAPSED, EndReason.EXPIRES)],
        today={(LAPSED, key(e))},
        as_of={D(2025, 3, 1): set(), D(2025, 5, 1): {(EXPIRING, key(a))}, D(2025, 7, 1): {(LAPSED, key(e))}},
    )


@case("an active engagement whose PHI starts in 2026 is not missing a BAA in 2025")
def _(org):
    e = f.engagement(pacs(org), f.facility(org), phi_access_starts_on=D(2026, 2, 1))
    return Expect(e, [gap(D(2026, 2, 1), None)], today={(MISSING, key(e))}, as_of={D(2025, 6, 1): set()})


@case("PHI 2015-2018 with no BAA, engagement ended: PHI disclosed without a BAA")
def _(org):
    e = f.engagement(pacs(org), f.facility(org), phi_access_starts_on=D(2015, 1, 1), ends_on=D(2018, 12, 31))
    return Expect(
        e,
        [gap(D(2015, 1, 1), D(2018, 12, 31))],
        today={(PHI_WITHOUT, key(e, D(2015, 1, 1)))},
        as_of={D(2017, 1, 1): {(MISSING, key(e))}, D(2014, 1, 1): set()},
    )


@case("BAA expired 2021-12-31, new BAA executed 2023-06-01, PHI throughout: the gap is recorded")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2019, 1, 1))
    old = f.agreement(vendor, status=AgreementStatus.EXPIRED, executed_on=D(2018, 6, 1), expires_on=D(2021, 12, 31))
    new = f.agreement(vendor, executed_on=D(2023, 6, 1))
    return Expect(
        e,
        [
            (D(2019, 1, 1), D(2021, 12, 31), old),
            gap(D(2022, 1, 1), D(2023, 5, 31), GapReason.LAPSED, EndReason.EXPIRES),
            (D(2023, 6, 1), None, new),
        ],
        today={(PHI_WITHOUT, key(e, D(2022, 1, 1)))},
        as_of={D(2022, 6, 1): {(LAPSED, key(e))}, D(2021, 11, 1): {(EXPIRING, key(old))}},
    )


@case("effective date counts: executed 2024-01-01, effective 2024-06-01, PHI from 2024-03-01")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2024, 3, 1))
    a = f.agreement(vendor, executed_on=D(2024, 1, 1), effective_on=D(2024, 6, 1))
    return Expect(
        e,
        [gap(D(2024, 3, 1), D(2024, 5, 31)), (D(2024, 6, 1), None, a)],
        today={(PHI_WITHOUT, key(e, D(2024, 3, 1)))},
        as_of={D(2024, 4, 1): {(MISSING, key(e))}},
    )


@case("a facility added today to a 2020 BAA was not covered since its PHI access began in 2023")
def _(org):
    vendor = pacs(org)
    first, added = f.facility(org), f.facility(org)
    e = f.engagement(vendor, added, phi_access_starts_on=D(2023, 1, 1))
    f.engagement(vendor, first, phi_access_starts_on=D(2020, 6, 1))
    a = f.agreement(vendor, facilities=[first], executed_on=D(2020, 1, 1))
    agreement_save(agreement=a, covered_facilities=[first, added], coverage_changed_on=TODAY)
    return Expect(
        e,
        [gap(D(2023, 1, 1), days(-1)), (TODAY, None, a)],
        today={(PHI_WITHOUT, key(e, D(2023, 1, 1)))},
        as_of={D(2024, 1, 1): {(MISSING, key(e))}},
    )


@case("gap ahead: the successor takes effect a week after the old BAA expires")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org))
    old = f.agreement(vendor, expires_on=days(30))
    renewal = agreement_renew(previous=old, title="Renewal", effective_on=days(38))
    agreement_execute(agreement=renewal, executed_on=TODAY, effective_on=days(38))
    f.signed_pdf(renewal)
    return Expect(
        e,
        [
            (days(-365), days(30), old),
            gap(days(31), days(37), GapReason.LAPSED, EndReason.EXPIRES),
            (days(38), None, renewal),
        ],
        today={(GAP_AHEAD, key(e))},
        # Before the renewal was executed there was no successor on record: the old BAA was expiring.
        as_of={
            days(-10): {(EXPIRING, key(old))},
            days(33): {(LAPSED, key(e))},
            days(40): {(PHI_WITHOUT, key(e, days(31)))},
        },
    )


@case("gap ahead: the successor drops a facility")
def _(org):
    vendor = pacs(org)
    kept, dropped = f.facility(org), f.facility(org)
    f.engagement(vendor, kept)
    e = f.engagement(vendor, dropped)
    old = f.agreement(vendor, facilities=[kept, dropped], expires_on=days(30))
    renewal = agreement_renew(previous=old, title="Renewal", effective_on=days(31))
    agreement_save(agreement=renewal, covered_facilities=[kept])
    agreement_execute(agreement=renewal, executed_on=TODAY, effective_on=days(31))
    f.signed_pdf(renewal)
    return Expect(
        e,
        [(days(-365), days(30), old), gap(days(31), None, GapReason.LAPSED, EndReason.SUPERSEDED)],
        today={(GAP_AHEAD, key(e))},
        as_of={days(31): {(LAPSED, key(e))}},
    )


@case("a termination dated ahead is 'terminating on D', not a lapse")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org))
    a = f.agreement(vendor, status=AgreementStatus.TERMINATED, terminated_on=days(45))
    return Expect(
        e,
        [(days(-365), days(44), a), gap(days(45), None, GapReason.LAPSED, EndReason.TERMINATED)],
        today={(TERMINATING, key(a))},
        as_of={days(45): {(LAPSED, key(e))}},
    )


@case("a BAA terminated before PHI ever started: missing, not lapsed")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=days(-100))
    f.agreement(vendor, status=AgreementStatus.TERMINATED, executed_on=days(-1000), terminated_on=days(-200))
    return Expect(e, [gap(days(-100), None)], today={(MISSING, key(e))})


@case("a future-dated downstream BAA attestation does not clear a subcontractor gap")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org))
    a = f.agreement(vendor)
    link = f.subcontractor_link(vendor, downstream_baa_attested_on=days(10))
    dated = f.subcontractor_link(vendor, downstream_baa_attested_on=days(-10), downstream_baa_executed_on=days(5))
    return Expect(
        e,
        [(days(-365), None, a)],
        today={(SUBCONTRACTOR_GAP, key(link)), (SUBCONTRACTOR_GAP, key(dated))},
        as_of={days(11): set()},
    )


@case("an engagement that ended years ago but is still marked active raises no checklist finding")
def _(org):
    vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    e = engagement_save(
        engagement=Engagement(
            vendor=vendor,
            facility=f.facility(org),
            service_description="Overnight reads",
            phi_receives=True,
            phi_access_starts_on=D(2018, 1, 1),
            ends_on=D(2020, 12, 31),
            status=EngagementStatus.ACTIVE,
        )
    )
    a = f.agreement(vendor, executed_on=D(2017, 6, 1))
    return Expect(
        e,
        [(D(2018, 1, 1), D(2020, 12, 31), a)],
        today=set(),
        as_of={D(2019, 1, 1): {(FindingKind.CHECKLIST_INCOMPLETE, key(e))}},
    )


@case("a superseded pre-Omnibus BAA governs until its renewal takes effect, with its findings")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org))
    old = f.agreement(vendor, executed_on=D(2010, 5, 1))
    renewal = agreement_renew(previous=old, title="Omnibus BAA", effective_on=days(20))
    agreement_execute(agreement=renewal, executed_on=days(-5), effective_on=days(20))
    f.signed_pdf(renewal)
    return Expect(
        e,
        [(days(-365), days(19), old), (days(20), None, renewal)],
        today={(PRE_OMNIBUS, key(old))},
        as_of={days(20): set()},
    )


# --- Periods and chains ---------------------------------------------------------------------------


@case("multiple PHI periods: an engagement 2016-2017 before the BAA, another since 2020 under it")
def _(org):
    vendor = pacs(org)
    facility = f.facility(org)
    early = f.engagement(vendor, facility, phi_access_starts_on=D(2016, 1, 1), ends_on=D(2017, 12, 31))
    later = f.engagement(vendor, facility, phi_access_starts_on=D(2020, 1, 1))
    a = f.agreement(vendor, executed_on=D(2019, 1, 1))
    return Expect(
        later,
        [(D(2020, 1, 1), None, a)],
        today={(PHI_WITHOUT, key(early, D(2016, 1, 1)))},
        as_of={D(2017, 6, 1): {(MISSING, key(early))}, D(2018, 6, 1): {(PHI_WITHOUT, key(early, D(2016, 1, 1)))}},
    )


def _chain(org, *, second_starts_on):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2018, 1, 1))
    first = f.agreement(vendor, executed_on=D(2017, 12, 1), expires_on=D(2020, 12, 31))
    second = agreement_renew(previous=first, title="Second", effective_on=second_starts_on, expires_on=D(2022, 12, 31))
    agreement_execute(agreement=second, executed_on=D(2020, 12, 1), effective_on=second_starts_on)
    f.signed_pdf(second)
    third = agreement_renew(previous=second, title="Third", effective_on=D(2023, 1, 1))
    agreement_execute(agreement=third, executed_on=D(2022, 12, 15), effective_on=D(2023, 1, 1))
    f.signed_pdf(third)
    return vendor, e, first, second, third


@case("chained renewals without a gap")
def _(org):
    _, e, first, second, third = _chain(org, second_starts_on=D(2021, 1, 1))
    return Expect(
        e,
        [
            (D(2018, 1, 1), D(2020, 12, 31), first),
            (D(2021, 1, 1), D(2022, 12, 31), second),
            (D(2023, 1, 1), None, third),
        ],
        today=set(),
        as_of={D(2021, 6, 1): set(), D(2020, 11, 1): {(EXPIRING, key(first))}},
    )


@case("chained renewals with a gap of January 2021")
def _(org):
    _, e, first, second, third = _chain(org, second_starts_on=D(2021, 2, 1))
    return Expect(
        e,
        [
            (D(2018, 1, 1), D(2020, 12, 31), first),
            gap(D(2021, 1, 1), D(2021, 1, 31), GapReason.LAPSED, EndReason.EXPIRES),
            (D(2021, 2, 1), D(2022, 12, 31), second),
            (D(2023, 1, 1), None, third),
        ],
        today={(PHI_WITHOUT, key(e, D(2021, 1, 1)))},
        as_of={D(2020, 12, 15): {(GAP_AHEAD, key(e))}, D(2021, 1, 15): {(LAPSED, key(e))}},
    )


@case("a facility removed from coverage on 2025-01-01")
def _(org):
    vendor = pacs(org)
    kept, removed = f.facility(org), f.facility(org)
    f.engagement(vendor, kept)
    e = f.engagement(vendor, removed, phi_access_starts_on=D(2022, 1, 1))
    a = f.agreement(vendor, facilities=[kept, removed], executed_on=D(2021, 1, 1))
    agreement_save(agreement=a, covered_facilities=[kept], coverage_changed_on=D(2025, 1, 1))
    return Expect(
        e,
        [(D(2022, 1, 1), D(2024, 12, 31), a), gap(D(2025, 1, 1), None, GapReason.LAPSED, EndReason.FACILITY_REMOVED)],
        today={(LAPSED, key(e))},
        as_of={D(2024, 6, 1): set()},
    )


@case("evergreen pre-Omnibus BAA never amended")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2012, 1, 1))
    a = f.agreement(vendor, executed_on=D(2011, 3, 1))
    return Expect(
        e, [(D(2012, 1, 1), None, a)], today={(PRE_OMNIBUS, key(a))}, as_of={D(2013, 1, 1): {(PRE_OMNIBUS, key(a))}}
    )


@case("evergreen pre-Omnibus BAA amended in 2014: a finding only before the amendment")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2012, 1, 1))
    a = f.agreement(vendor, executed_on=D(2011, 3, 1), amended_on=D(2014, 3, 1))
    return Expect(
        e, [(D(2012, 1, 1), None, a)], today=set(), as_of={D(2014, 1, 1): {(PRE_OMNIBUS, key(a))}, D(2014, 3, 1): set()}
    )


@case("an agreement covers only engagements of its own organization")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org))
    other = f.organization()
    BusinessAssociateAgreement.objects.create(
        organization=other,
        vendor=vendor,
        title="Wrong tenant",
        status=AgreementStatus.EXECUTED,
        executed_on=days(-700),
        effective_on=days(-700),
    )
    return Expect(e, [gap(days(-365), None)], today={(MISSING, key(e))})


@case("a risk assessment of the past gap closes its finding")
def _(org):
    vendor = pacs(org)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2019, 1, 1))
    old = f.agreement(vendor, status=AgreementStatus.EXPIRED, executed_on=D(2018, 6, 1), expires_on=D(2021, 12, 31))
    new = f.agreement(vendor, executed_on=D(2023, 6, 1))
    breach_risk_assessment_record(
        engagement=e,
        period_starts_on=D(2022, 1, 1),
        period_ends_on=D(2023, 5, 31),
        nature_and_extent="DICOM headers of about 4,000 studies",
        unauthorized_person="The PACS vendor, bound by its own security program",
        acquired_or_viewed="Stored only; no access outside support sessions",
        mitigation="BAA executed 2023-06-01 covering the period's data",
        outcome=AssessmentOutcome.LOW_PROBABILITY,
        assessed_on=days(-3),
        assessed_by=f.user(org),
        document=ContentFile(f.MINIMAL_PDF, name="assessment.pdf"),
    )
    return Expect(
        e,
        [
            (D(2019, 1, 1), D(2021, 12, 31), old),
            gap(D(2022, 1, 1), D(2023, 5, 31), GapReason.LAPSED, EndReason.EXPIRES),
            (D(2023, 6, 1), None, new),
        ],
        today=set(),
        # Before the assessment was recorded, the finding was open.
        as_of={days(-4): {(PHI_WITHOUT, key(e, D(2022, 1, 1)))}},
    )


@case("an active engagement without a PHI start date that ended last year: no PHI period today")
def _(org):
    # Known to touch PHI only from the day asked about (``_phi_period``): as of a day before its end it
    # has PHI and no BAA; today it has none, and no past period is invented (it used to yield one
    # that ended before it began).
    e = f.engagement(pacs(org), f.facility(org), phi_access_starts_on=None, ends_on=days(-300))
    return Expect(e, [], today=set(), as_of={days(-400): {(MISSING, key(e))}})


# --- The table ------------------------------------------------------------------------------------


def _actual_periods(timeline):
    result = []
    for p in timeline.periods:
        if p.covered:
            result.append((p.starts_on, p.ends_on, p.agreement_id))
        else:
            result.append((p.starts_on, p.ends_on, (p.reason, p.cause)))
    return result


def _expected_periods(periods):
    return [(a, b, c.pk if isinstance(c, BusinessAssociateAgreement) else c) for a, b, c in periods]


@pytest.mark.parametrize("build", CASES)
def test_it_derives_the_exact_timeline_and_findings(build, django_capture_on_commit_callbacks):
    org = f.organization()
    expect = build(org)
    noise = f.organization()  # another organization with problems of its own must not leak in
    f.engagement(pacs(noise), f.facility(noise), phi_access_starts_on=D(2015, 1, 1), ends_on=D(2016, 1, 1))

    timeline = build_timelines(TODAY, organization_id=org.pk).engagements[expect.engagement.pk]
    assert _actual_periods(timeline) == _expected_periods(expect.periods)

    run_compliance(as_of=TODAY)
    found = set(Finding.objects.open().filter(organization=org).values_list("kind", "subject_key"))
    assert found == expect.today

    for day, expected in expect.as_of.items():
        detected = {(d.kind, d.subject_key) for d in evaluate_compliance(as_of=day, organization_id=org.pk)}
        assert detected == expected, f"as of {day}"
        # The SQL forms agree with the timeline on that day (the pages read them).
        agrees_on(org, day)
    agrees_on(org, TODAY)


def agrees_on(org, day):
    """engagements_with_phi_access + covering(agreements_in_force) say what the timeline says."""
    timelines = build_timelines(day, organization_id=org.pk).engagements.values()
    with_phi = set(engagements_with_phi_access(day).filter(facility__organization=org).values_list("pk", flat=True))
    assert with_phi == {t.engagement_id for t in timelines if t.has_phi_on(day)}, f"PHI on {day}"
    from django.db.models import Exists

    covered = set(
        Engagement.objects.filter(facility__organization=org)
        .filter(Exists(covering(agreements_in_force(day), as_of=day)))
        .values_list("pk", flat=True)
    )
    expected = {t.engagement_id for t in timelines if t.agreements_covering_on(day)}
    assert covered == expected, f"covered on {day}"


def test_checklist_item_one_fails_when_the_baa_took_effect_after_phi_access_began():
    org = f.organization()
    vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    e = f.engagement(vendor, f.facility(org), phi_access_starts_on=D(2024, 3, 1))
    f.agreement(vendor, executed_on=D(2024, 1, 1), effective_on=D(2024, 6, 1))

    computed = with_item_one_computed(Engagement.objects.filter(pk=e.pk), TODAY).get()

    assert computed.baa_before_phi is False


def test_it_names_dates_and_day_count_of_a_past_gap():
    org = f.organization()
    e = f.engagement(pacs(org), f.facility(org), phi_access_starts_on=D(2015, 1, 1), ends_on=D(2018, 12, 31))

    run_compliance(as_of=TODAY)

    finding = Finding.objects.get(engagement=e)
    assert finding.kind == PHI_WITHOUT
    assert finding.due_on == D(2015, 1, 1)
    assert "from 2015-01-01 to 2018-12-31 (1461 days)" in finding.explanation
    assert "164.402(2)" in finding.explanation


@pytest.mark.parametrize(
    "category", [VendorCategory.CLOUD_DICOM_STORAGE, VendorCategory.CLOUD_HOSTING, VendorCategory.PACS]
)
def test_a_storage_vendor_cannot_be_marked_a_conduit(category):
    from django.core.exceptions import ValidationError

    from vendors.models import Vendor
    from vendors.services import vendor_save

    org = f.organization()
    with pytest.raises(ValidationError) as error:
        vendor_save(vendor=Vendor(organization=org, legal_name="Cloud archive", category=category, is_conduit=True))

    assert "HHS's guidance on HIPAA and cloud computing" in " ".join(error.value.message_dict["is_conduit"])
    carrier = vendor_save(
        vendor=Vendor(organization=org, legal_name="Fiber", category=VendorCategory.NETWORK_CARRIER, is_conduit=True)
    )
    assert carrier.is_conduit
