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
from tests.support.fault_table import add_row

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
    common = {
        "organization": org,
        "vendor": vendor,
        "status": AgreementStatus.EXECUTED,
        "executed_on": f.days(-730),
        "effective_on": f.days(-730),
        "breach_notification_days": 30,
    }
    # Bulk-created (no history of their creation): the history rows counted are the job's own.
    created = BusinessAssociateAgreement.objects.bulk_create(
        [
            BusinessAssociateAgreement(title=f"Lapsing BAA {number}", expires_on=f.days(-1 - number % 30), **common)
            for number in range(LAPSING)
        ]
        + [
            BusinessAssociateAgreement(
                title=f"Renewing BAA {number}",
                expires_on=f.days(-5),
                auto_renews=True,
                renewal_term_months=12,
                **common,
            )
            for number in range(RENEWING)
        ]
    )
    if created[0].pk is None:  # backends that do not return ids from a bulk insert
        created = list(BusinessAssociateAgreement.objects.filter(organization=org).order_by("pk"))
    lapsing = [agreement.pk for agreement in created[:LAPSING]]
    renewing = [agreement.pk for agreement in created[LAPSING:]]
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
    lost_edits = [pk for pk in noted if rows[pk].notes != f"Edited during the nightly run ({pk})."]
    lost_edits += [pk for pk in postponed if rows[pk].expires_on != f.days(365)]
    lost_edits += [pk for pk in terminated if rows[pk].status != AgreementStatus.TERMINATED]

    # One history row per real transition: the job's own rows, by their reason.
    transitions = history_rows = 0
    for pk in lapsing:
        job_rows = list(_history(pk).filter(history_change_reason="nightly date roll").values_list("status", flat=True))
        assert set(job_rows) <= {AgreementStatus.EXPIRED}, (pk, job_rows)
        history_rows += len(job_rows)
        if pk in postponed or pk in terminated:
            transitions += 1 if job_rows else 0  # the edit came after the job had expired it
        else:
            assert rows[pk].status == AgreementStatus.EXPIRED, pk
            transitions += 1
    for pk in renewing:
        by_job = _history(pk).filter(history_change_reason="nightly date roll")
        job_rows = list(by_job.values_list("expires_on", flat=True))
        assert set(job_rows) == {f.days(-5) + relativedelta(months=12)} == {rows[pk].expires_on}, (pk, job_rows)
        history_rows += len(job_rows)
        transitions += 1
    add_row(
        "nightly lapse: 2 concurrent runs + 100 edits",
        due=transitions,
        delivered=history_rows,
        duplicates=max(history_rows - transitions, 0),
        lost=len(lost_edits),
        note=f"history rows per transition; lost = edits overwritten; {LAPSING} lapsing + {RENEWING} renewing, "
        f"a run waited for the other's lock: {saw_a_run_waiting}",
    )
    assert lost_edits == []
    assert history_rows == transitions >= LAPSING - len(postponed) - len(terminated) + RENEWING
    assert saw_a_run_waiting, "the two runs did not overlap: one should have waited for the other's lock"
