"""Thin tasks: they take ids, call a service, and are safe to run twice."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from agreements.services import agreements_apply_lapse
from compliance.services import run_compliance


@shared_task(name="compliance.tasks.run_compliance_checks")
def run_compliance_checks(organization_id: int | None = None, as_of: str | None = None) -> dict[str, object]:
    """Bring agreement statuses up to date with their dates, then recompute every finding.

    ``as_of`` (YYYY-MM-DD) lets tests and back-fills run the rules for another day. For a day after
    today only the rules run: rolling statuses forward to it would mark agreements expired that are
    still in force today.
    """
    day = datetime.date.fromisoformat(as_of) if as_of else None
    if day is None or day <= timezone.localdate():
        agreements_apply_lapse(organization_id=organization_id, as_of=day)
    return run_compliance(organization_id=organization_id, as_of=day).as_dict()
