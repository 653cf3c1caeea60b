"""The nightly lapse step under concurrency, with real components: two Celery workers run the nightly
compliance task at once on PostgreSQL while people edit the lapsing agreements (notes, dates, status).

What must hold (issue #16 item 4): one history row per real transition, whichever run makes it; every
edit made during the runs survives (the job writes only the field it owns, on the condition that made
it due, and never saves a whole row it loaded earlier).
"""

from __future__ import annotations

import random

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection, transaction

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from compliance.tasks import run_compliance_checks
from tests import factories as f
from tests.support import wait_until

pytestmark = [pytest.mark.services, pytest.mark.postgresql_only]

LAPSING = 240
RENEWING = 40


def _waiting_for_a_lock() -> bool:
    """A backend of this test database waits for a row lock: the second run, behind the first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _rows_the_job_has_changed(pks: list[int]) -> int:
    """How many of these rows a run has changed and not yet committed: they are row-locked, so a
    SKIP LOCKED read leaves them out."""
    with transaction.atomic():
        free = BusinessAssociateAgreement.objects.filter(pk__in=pks).select_for_update(skip_locked=True)
        return len(pks) - len(list(free.values_list("pk", flat=True)))


def _history(pk: int):
    return BusinessAssociateAgreement.history.filter(id=pk).order_by("history_id")


def test_two_concurrent_nightly_runs_write_one_history_row_per_transition_and_lose_no_edit(celery_worker_factory):
    org = f.organization(name="Concurrent Nightly Health")
    vendor = f.vendor(org, legal_name="Lapsing Vendor")
    lapsing = [
        f.agreement(vendor, expires_on=f.days(-1 - number % 30), signed_document=False).pk for number in range(LAPSING)
    ]
    renewing = [
        f.agreement(vendor, expires_on=f.days(-5), auto_renews=True, renewal_term_months=12, signed_document=False).pk
        for _ in range(RENEWING)
    ]
    versions_before = {pk: _history(pk).count() for pk in lapsing + renewing}
    workers = [celery_worker_factory(), celery_worker_factory()]

    # People's edits while the runs go on, from the end of the list (the job goes from the start), so
    # that some land before the job reaches their row and some after. Each one writes its own field.
    rng = random.Random(16)
    noted = rng.sample(lapsing, 60)
    postponed = rng.sample(sorted(set(lapsing) - set(noted)), 20)
    terminated = rng.sample(sorted(set(lapsing) - set(noted) - set(postponed)), 20)
    edits = [(pk, "notes") for pk in noted] + [(pk, "expires_on") for pk in postponed]
    edits += [(pk, "status") for pk in terminated]
    edits.sort(key=lambda edit: -edit[0])

    run_compliance_checks.delay(organization_id=org.pk)
    run_compliance_checks.delay(organization_id=org.pk)
    # Once the first run is a third of the way through (its changed rows are locked until it commits),
    # the other run waits for its lock, and the edits begin.
    wait_until(
        lambda: _rows_the_job_has_changed(lapsing) >= LAPSING // 3,
        timeout=60,
        interval=0.01,
        message=lambda: "\n".join(worker.log_tail() for worker in workers),
    )
    saw_a_run_waiting = _waiting_for_a_lock()
    for pk, field in edits:
        agreement = BusinessAssociateAgreement.objects.get(pk=pk)
        if field == "notes":
            agreement.notes = f"Edited during the nightly run ({pk})."
        elif field == "expires_on":
            agreement.expires_on = f.days(365)
        else:
            agreement.status, agreement.terminated_on = AgreementStatus.TERMINATED, f.days(-1)
            field = ["status", "terminated_on"]
        agreement.save(update_fields=[field] if isinstance(field, str) else field)

    def both_runs_done() -> bool:
        return all("run_compliance_checks" in worker.log() and "succeeded" in worker.log() for worker in workers)

    wait_until(both_runs_done, timeout=120, message=lambda: "\n".join(worker.log_tail() for worker in workers))

    rows = BusinessAssociateAgreement.objects.in_bulk(lapsing + renewing)
    # Every edit survived.
    for pk in noted:
        assert rows[pk].notes == f"Edited during the nightly run ({pk}).", pk
    for pk in postponed:
        assert rows[pk].expires_on == f.days(365), pk
    for pk in terminated:
        assert rows[pk].status == AgreementStatus.TERMINATED, pk

    # One history row per real transition: the job's own rows, by their reason.
    duplicates = []
    for pk in lapsing:
        job_rows = list(_history(pk).filter(history_change_reason="nightly date roll").values_list("status", flat=True))
        if pk in postponed or pk in terminated:
            assert job_rows in ([], [AgreementStatus.EXPIRED]), (pk, job_rows)
        else:
            assert rows[pk].status == AgreementStatus.EXPIRED, pk
            if job_rows != [AgreementStatus.EXPIRED]:
                duplicates.append((pk, job_rows))
    for pk in renewing:
        by_job = _history(pk).filter(history_change_reason="nightly date roll")
        job_rows = list(by_job.values_list("expires_on", flat=True))
        assert job_rows == [rows[pk].expires_on] == [f.days(-5) + relativedelta(months=12)], (pk, job_rows)
        assert _history(pk).count() == versions_before[pk] + 1
    assert duplicates == []
    expired_rows = BusinessAssociateAgreement.history.filter(
        id__in=lapsing, history_change_reason="nightly date roll", status=AgreementStatus.EXPIRED
    ).count()
    actually_expired = sum(
        1 for pk in lapsing if _history(pk).filter(history_change_reason="nightly date roll").exists()
    )
    assert expired_rows == actually_expired >= LAPSING - len(postponed) - len(terminated)
    assert saw_a_run_waiting, "the two runs did not overlap: one should have waited for the other's lock"
    print(
        f"\nnightly lapse, 2 concurrent runs: {expired_rows} expired history rows for {actually_expired} "
        f"transitions ({LAPSING} lapsing, {RENEWING} renewing); {len(edits)} edits during the runs, all kept; "
        f"a run seen waiting for the other's lock: {saw_a_run_waiting}"
    )
