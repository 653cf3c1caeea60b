"""The benchmark's floor of the compliance run (scale/floor.py) finds exactly what the engine finds.

Otherwise the ratio "engine / floor" would compare the engine with a cheaper, different question. The
floor is PostgreSQL SQL, so these tests run in the PostgreSQL pass of the suite.
"""

from __future__ import annotations

import datetime

import pytest

from compliance.rules import RuleContext, detect_all
from scale import floor
from tests import factories as f
from tests.compliance.test_rules import CASES
from tests.compliance.test_timeline import CASES as TIMELINE_CASES
from tests.factories import TODAY, days

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql_only]

HORIZON = 90


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def engine_detections(as_of: datetime.date) -> set[tuple]:
    return {
        (d.kind, d.subject_key, d.organization_id, d.vendor_id, d.facility_id, d.agreement_id, d.due_on)
        for d in detect_all(RuleContext(as_of=as_of, horizon_days=HORIZON))
    }


def floor_detections(as_of: datetime.date) -> set[tuple]:
    return set(floor.floor_detections(as_of, HORIZON))


@pytest.mark.parametrize("build", CASES)
def test_it_finds_what_the_engine_finds_in_every_case_of_the_rules(build):
    build(f.organization())

    for as_of in (TODAY, days(45), days(400), days(-200)):
        assert floor_detections(as_of) == engine_detections(as_of), as_of


@pytest.mark.parametrize("build", TIMELINE_CASES)
def test_it_finds_what_the_engine_finds_in_every_case_of_the_timeline(build, django_capture_on_commit_callbacks):
    expect = build(f.organization())

    for as_of in (TODAY, days(45), days(-200), *expect.as_of):
        assert floor_detections(as_of) == engine_detections(as_of), as_of


def test_it_rolls_auto_renewing_agreements_forward_like_the_engine_across_month_ends():
    org = f.organization()
    for expires_on, term, notice in (
        (datetime.date(2025, 1, 31), 1, 10),
        (datetime.date(2024, 2, 29), 12, 60),
        (datetime.date(2025, 3, 31), 3, 0),
        (datetime.date(2025, 8, 30), 6, 45),
    ):
        vendor = f.vendor(org)
        f.engagement(vendor, f.facility(org))
        f.agreement(
            vendor,
            executed_on=datetime.date(2023, 1, 1),
            expires_on=expires_on,
            auto_renews=True,
            renewal_term_months=term,
            renewal_notice_days=notice,
        )

    day = datetime.date(2025, 1, 1)
    checked = found = 0
    while day < datetime.date(2026, 6, 1):
        engine = engine_detections(day)
        assert floor_detections(day) == engine, day
        found += sum(1 for detection in engine if detection[0] == "baa_expiring")
        checked += 1
        day += datetime.timedelta(days=7)
    assert checked > 70 and found > 0  # the dates above do fall due in the period
