"""Thin tasks: they take ids, call a service, and are safe to run twice."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from agreements.services import agreements_apply_lapse
from compliance.services import run_compliance


@shared_task(name="compliance.tasks.run_compliance_checks")
def run_compliance_checks(organization_id: int | None = None, as_of: str | None = None) -> dict[str, object]:
    """Bring agreement statuses up to date with their dates, then recompute every finding, for today.

    Only today's run writes findings (the nightly job and the on-commit runs): a run for another day
    would store findings that the next alert dispatch mails, and resolve and reopen real ones without
    their acknowledgements. ``as_of`` is accepted only when it is today; ask about another day with
    compliance.services.evaluate_compliance (``check_compliance --as-of``), which writes nothing.
    """
    today = timezone.localdate()
    day = datetime.date.fromisoformat(as_of) if as_of else today
    if day != today:
        raise ValueError(
            f"A compliance run writes findings for today ({today:%Y-%m-%d}) only, not {day:%Y-%m-%d}: "
            "use evaluate_compliance (check_compliance --as-of) for another day; it writes nothing."
        )
    agreements_apply_lapse(organization_id=organization_id, as_of=day)
    return run_compliance(organization_id=organization_id, as_of=day).as_dict()
