"""run_compliance: reconciliation of the stored findings with what the rules detect."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from agreements.services import agreement_execute, agreement_renew
from checklists.models import ChecklistItem, ItemStatus
from checklists.services import checklist_item_update
from compliance import kinds
from compliance.models import Finding, FindingKind, Severity
from compliance.services import finding_acknowledge, run_compliance
from documents.models import ProvisionReview
from tests import factories as f
from tests.factories import TODAY, days
from vendors.models import Engagement, VendorCategory
from vendors.services import engagement_save

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def open_findings(org=None) -> dict[tuple[str, str], Finding]:
    findings = Finding.objects.open()
    if org is not None:
        findings = findings.filter(organization=org)
    return {(finding.kind, finding.subject_key): finding for finding in findings}


def inventory(org, groups: int) -> int:
    """``groups`` times one case of every rule (14 findings each); returns the findings expected."""
    officer = f.user(org)
    for _ in range(groups):
        # 1 missing BAA
        f.engagement(f.vendor(org), f.facility(org))
        # 2 lapsed
        lapsed = f.vendor(org)
        f.engagement(lapsed, f.facility(org))
        f.agreement(lapsed, status=AgreementStatus.EXPIRED, expires_on=days(-5))
        # 3 expiring
        expiring = f.vendor(org)
        f.engagement(expiring, f.facility(org))
        f.agreement(expiring, expires_on=days(45))
        # 4 PHI before BAA
        late = f.vendor(org)
        f.engagement(late, f.facility(org), phi_access_starts_on=days(-100))
        f.agreement(late, executed_on=days(-90))
        # 5 no signed document
        unsigned = f.vendor(org)
        f.engagement(unsigned, f.facility(org))
        f.agreement(unsigned, signed_document=False)
        # 6 breach window
        slow = f.vendor(org)
        f.engagement(slow, f.facility(org))
        f.agreement(slow, breach_notification_days=90)
        # 7 pre-Omnibus
        old = f.vendor(org)
        f.engagement(old, f.facility(org), phi_access_starts_on=datetime.date(2012, 1, 1))
        f.agreement(old, executed_on=datetime.date(2011, 6, 1))
        # 8a checklist incomplete, 8b review overdue
        for overdue in (False, True):
            telerad = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
            engagement = engagement_save(
                engagement=Engagement(
                    vendor=telerad,
                    facility=f.facility(org),
                    service_description="Overnight reads",
                    phi_receives=True,
                    phi_access_starts_on=days(-365),
                    status="active",
                )
            )
            f.agreement(telerad)
            if overdue:
                f.reader(engagement)  # licensed and privileged: items 2 and 3 met
                for item in ChecklistItem.objects.filter(checklist__engagement=engagement, number__gte=4):
                    checklist_item_update(
                        item=item,
                        status=ItemStatus.COMPLETE,
                        verified_by=officer,
                        verified_on=days(-400),
                        next_review_on=days(-35),
                    )
        # 9 subcontractor gap
        host = f.vendor(org)
        f.engagement(host, f.facility(org))
        f.agreement(host)
        f.subcontractor_link(host)
        # 10 a required provision not found in the signed document (documents app's review)
        thin = f.vendor(org)
        f.engagement(thin, f.facility(org))
        ProvisionReview.objects.create(agreement=f.agreement(thin), provision="P5", detected=False)
        # 3b terminating on a day ahead
        leaving = f.vendor(org)
        f.engagement(leaving, f.facility(org))
        f.agreement(leaving, status=AgreementStatus.TERMINATED, terminated_on=days(40))
        # 3c gap ahead: the successor takes effect late
        late_successor = f.vendor(org)
        f.engagement(late_successor, f.facility(org))
        previous = f.agreement(late_successor, expires_on=days(20))
        renewal = agreement_renew(previous=previous, title="Renewal", effective_on=days(25))
        agreement_execute(agreement=renewal, executed_on=TODAY, effective_on=days(25))
        f.signed_pdf(renewal)
        # 4b PHI disclosed without a BAA in a past period
        f.engagement(f.vendor(org), f.facility(org), phi_access_starts_on=days(-900), ends_on=days(-500))
    return groups * 14


def test_it_opens_a_finding_for_every_detection_with_its_facts():
    org = f.organization()
    expected = inventory(org, 1)

    summary = run_compliance(as_of=TODAY)

    assert (summary.opened, summary.still_open, summary.resolved, summary.as_of) == (expected, 0, 0, TODAY)
    findings = open_findings(org)
    assert len(findings) == expected
    # Every kind but the readers' (their rules have cases of their own in tests/compliance/test_rules.py).
    reader_kinds = {spec.value for spec in kinds.READER_KINDS}
    assert {kind for kind, _ in findings} == set(FindingKind.values) - reader_kinds
    for finding in findings.values():
        assert finding.first_seen_at == finding.last_seen_at
        assert finding.vendor.organization_id == org.pk
        assert finding.explanation


def test_it_is_idempotent():
    org = f.organization()
    inventory(org, 1)
    run_compliance(as_of=TODAY)
    before = {
        key: (finding.pk, finding.first_seen_at, finding.last_seen_at, finding.explanation, finding.severity)
        for key, finding in open_findings(org).items()
    }

    summary = run_compliance(as_of=TODAY)

    after = open_findings(org)
    assert (summary.opened, summary.still_open, summary.resolved) == (0, len(before), 0)
    assert set(after) == set(before)
    assert Finding.objects.count() == len(before)
    for key, finding in after.items():
        pk, first_seen_at, last_seen_at, explanation, severity = before[key]
        assert (finding.pk, finding.first_seen_at, finding.explanation, finding.severity) == (
            pk,
            first_seen_at,
            explanation,
            severity,
        )
        assert finding.last_seen_at > last_seen_at


def test_it_resolves_a_problem_that_was_fixed():
    org = f.organization()
    vendor = f.vendor(org)
    f.engagement(vendor, f.facility(org), phi_access_starts_on=TODAY)
    run_compliance(as_of=TODAY)
    missing = Finding.objects.get(kind=FindingKind.MISSING_BAA)

    f.agreement(vendor, executed_on=TODAY)
    summary = run_compliance(as_of=TODAY)

    missing.refresh_from_db()
    assert (summary.opened, summary.still_open, summary.resolved) == (0, 0, 1)
    assert missing.resolved_at is not None
    assert missing.resolved_at >= missing.last_seen_at
    assert not Finding.objects.open().exists()


def test_a_problem_that_comes_back_is_a_new_finding_and_the_old_one_keeps_its_history():
    org = f.organization()
    agreement = f.agreement(f.vendor(org), breach_notification_days=90)
    run_compliance(as_of=TODAY)
    first = Finding.objects.get()
    BusinessAssociateAgreement.objects.filter(pk=agreement.pk).update(breach_notification_days=30)
    run_compliance(as_of=TODAY)
    first.refresh_from_db()
    resolved_at = first.resolved_at

    BusinessAssociateAgreement.objects.filter(pk=agreement.pk).update(breach_notification_days=120)
    summary = run_compliance(as_of=TODAY)

    assert summary.opened == 1
    first.refresh_from_db()
    again = Finding.objects.open().get()
    assert again.pk != first.pk
    assert (again.kind, again.subject_key) == (first.kind, first.subject_key)
    assert again.first_seen_at > resolved_at
    assert "120 days" in again.explanation
    assert first.resolved_at == resolved_at, "the resolved finding is history: left alone"
    assert "90 days" in first.explanation
    assert Finding.objects.filter(kind=FindingKind.BREACH_WINDOW_TOO_LONG).count() == 2


def test_a_run_for_one_organization_never_touches_another_organizations_findings():
    mine, theirs = f.organization(), f.organization()
    my_vendor, their_vendor = f.vendor(mine), f.vendor(theirs)
    f.engagement(my_vendor, f.facility(mine))
    f.engagement(their_vendor, f.facility(theirs))
    run_compliance(as_of=TODAY)
    theirs_before = Finding.objects.get(organization=theirs)
    # Both problems are fixed and another organization gets a new one; only mine is run.
    f.agreement(my_vendor, executed_on=days(-400))
    f.agreement(their_vendor, executed_on=days(-400))
    f.engagement(f.vendor(theirs), f.facility(theirs))

    summary = run_compliance(organization_id=mine.pk, as_of=TODAY)

    assert (summary.opened, summary.still_open, summary.resolved) == (0, 0, 1)
    assert not Finding.objects.open().filter(organization=mine).exists()
    theirs_after = Finding.objects.get(organization=theirs)
    assert theirs_after.pk == theirs_before.pk
    assert theirs_after.resolved_at is None
    assert theirs_after.last_seen_at == theirs_before.last_seen_at


def inserts_of_findings(run: CaptureQueriesContext) -> list[str]:
    table = connection.ops.quote_name(Finding._meta.db_table)
    return [q["sql"] for q in run.captured_queries if q["sql"].startswith(f"INSERT INTO {table}")]


def insert_batch(rows: int) -> int:
    """Findings per INSERT statement, as Django batches a bulk insert on this database."""
    fields = [field for field in Finding._meta.concrete_fields if not field.primary_key]
    return min(connection.ops.bulk_batch_size(fields, [None] * rows) or rows, rows)


def statements_apart_from_inserted_rows(run: CaptureQueriesContext) -> int:
    """The statements of a run, counting the bulk insert of new findings once however it was batched."""
    inserts = inserts_of_findings(run)
    return len(run.captured_queries) - len(inserts) + min(1, len(inserts))


def test_its_query_count_does_not_depend_on_the_amount_of_data():
    small, large = f.organization(), f.organization()
    small_expected = inventory(small, 1)  # 11 engagements, every rule once
    large_expected = inventory(large, 4)  # 44 engagements, every rule four times

    with CaptureQueriesContext(connection) as small_run:
        run_compliance(organization_id=small.pk, as_of=TODAY)
    with CaptureQueriesContext(connection) as large_run:
        run_compliance(organization_id=large.pk, as_of=TODAY)

    assert len(open_findings(small)) == small_expected
    assert len(open_findings(large)) == large_expected
    assert statements_apart_from_inserted_rows(small_run) == statements_apart_from_inserted_rows(large_run)
    # PostgreSQL inserts all new findings in one statement; SQLite's 999-parameter limit splits the
    # bulk insert into batches (about 60 findings), the one count that grows with the data there.
    assert len(inserts_of_findings(small_run)) == 1
    assert len(inserts_of_findings(large_run)) == -(-large_expected // insert_batch(large_expected))

    # And again when every finding is already stored and some are resolved.
    for org in (small, large):
        Engagement.objects.filter(facility__organization=org, vendor__agreements__isnull=True).update(
            status="offboarded"
        )
    with CaptureQueriesContext(connection) as small_rerun:
        small_summary = run_compliance(organization_id=small.pk, as_of=TODAY)
    with CaptureQueriesContext(connection) as large_rerun:
        large_summary = run_compliance(organization_id=large.pk, as_of=TODAY)

    assert (small_summary.resolved, large_summary.resolved) == (1, 4)
    assert len(small_rerun.captured_queries) == len(large_rerun.captured_queries)


def test_the_database_allows_one_open_finding_per_kind_and_subject():
    org = f.organization()
    f.engagement(f.vendor(org), f.facility(org))
    run_compliance(as_of=TODAY)
    finding = Finding.objects.get()
    duplicate = {
        field: getattr(finding, field)
        for field in ("organization_id", "kind", "severity", "subject_key", "engagement_id", "vendor_id", "facility_id")
    }
    now = timezone.now()

    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(**duplicate, explanation="again", first_seen_at=now, last_seen_at=now)

    # A resolved one with the same kind and subject is history, not a duplicate.
    Finding.objects.create(**duplicate, explanation="earlier", first_seen_at=now, last_seen_at=now, resolved_at=now)
    assert Finding.objects.filter(kind=finding.kind, subject_key=finding.subject_key).count() == 2


def test_an_expiring_finding_escalates_within_30_days_and_is_updated_not_duplicated():
    org = f.organization()
    agreement = f.agreement(f.vendor(org), expires_on=days(31))
    run_compliance(as_of=TODAY)
    finding = Finding.objects.get()
    assert (finding.kind, finding.severity, finding.due_on) == (FindingKind.BAA_EXPIRING, Severity.MEDIUM, days(31))
    assert "(31 days)" in finding.explanation

    summary = run_compliance(as_of=days(1))

    assert (summary.opened, summary.still_open) == (0, 1)
    finding.refresh_from_db()
    assert Finding.objects.get().pk == finding.pk
    assert (finding.severity, finding.agreement_id, finding.due_on) == (Severity.HIGH, agreement.pk, days(31))
    assert "(30 days)" in finding.explanation


def test_an_acknowledged_finding_stays_open_and_keeps_its_acknowledgement_across_runs():
    org = f.organization()
    f.engagement(f.vendor(org), f.facility(org))
    officer = f.user(org)
    run_compliance(as_of=TODAY)
    finding = Finding.objects.get()

    finding_acknowledge(finding=finding, user=officer, note="  BAA sent to the vendor's counsel  ")
    run_compliance(as_of=TODAY)

    finding.refresh_from_db()
    assert finding.is_open
    assert (finding.acknowledged_by, finding.acknowledgement_note) == (officer, "BAA sent to the vendor's counsel")
    assert finding.acknowledged_at is not None
