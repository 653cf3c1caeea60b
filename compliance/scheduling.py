"""Scheduling the rules engine after a write: what every write service calls, once its transaction commits.

Kept apart from compliance.services (which imports the rules, and through them every app's models and
services) so that the apps' write services can import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection, transaction
from django.utils import timezone


class _ComplianceRun:
    """The on-commit callback of schedule_compliance_run; it carries its organization so that a second
    request in the same transaction can see it is already pending."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id

    def __call__(self) -> None:
        from compliance.tasks import run_compliance_checks

        run_compliance_checks.delay(organization_id=self.organization_id)


def _pending_runs() -> Iterator[int]:
    """The organizations whose run is already waiting for the current transaction's commit.

    Every callback still in the connection's on-commit list belongs to the open transaction (a rolled
    back savepoint takes its callbacks out), so one pending run covers every later write of it. The
    test case's own atomic blocks are not a transaction: there only callbacks of the transaction opened
    inside them (the request's, the service's) count, as two requests of one test are two commits.
    """
    if not connection.in_atomic_block:
        return
    outer = 0
    while outer < len(connection.atomic_blocks) and getattr(connection.atomic_blocks[outer], "_from_testcase", False):
        outer += 1
    root = connection.savepoint_ids[outer - 1] if outer and len(connection.savepoint_ids) >= outer else None
    for savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _ComplianceRun) and (not outer or root in savepoints):
            yield callback.organization_id


def schedule_compliance_run(*, organization_id: int) -> None:
    """Re-run the engine for one organization in the background once the current transaction commits,
    so that pages reflect a fix within seconds.

    The write services call it (agreements, vendors, checklists, readers, documents), so every path
    (page, API, admin, import) schedules the run; once per organization and transaction however many
    services the transaction calls. Outside a transaction it enqueues at once.
    """
    if organization_id in _pending_runs():
        return
    # Recorded in the same transaction as the edit: the pages say that findings are being updated
    # until a run that started after it finishes (ComplianceRunState, issue #18 item 2).
    from compliance.models import ComplianceRunState

    ComplianceRunState.objects.bulk_create(
        [ComplianceRunState(organization_id=organization_id, requested_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["organization"],
        update_fields=["requested_at"],
    )
    transaction.on_commit(_ComplianceRun(organization_id))
