"""Writes of the compliance app. Only the engine opens and resolves findings."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.models import ComplianceRunState, Finding
from compliance.rules import RuleContext, detect_all
from organizations.models import Organization

_CHUNK = 1000


@dataclass(frozen=True)
class RunSummary:
    opened: int
    still_open: int
    resolved: int
    as_of: datetime.date

    def as_dict(self) -> dict[str, object]:
        return {
            "opened": self.opened,
            "still_open": self.still_open,
            "resolved": self.resolved,
            "as_of": str(self.as_of),
        }


def run_compliance(
    *, organization_id: int | None = None, as_of: datetime.date | None = None, horizon_days: int | None = None
) -> RunSummary:
    """Run every rule and reconcile the stored findings with what they detect.

    Idempotent: a second run with the same data changes nothing but ``last_seen_at``. A finding no
    longer detected gets ``resolved_at``; a problem that comes back opens a new finding, so the
    history of each problem is kept. Concurrent runs for the same organizations are serialized by a
    row lock on the organizations, and the database allows one open finding per kind and subject.
    The number of queries does not depend on the amount of data (apart from chunked writes).
    """
    as_of = as_of or timezone.localdate()
    ctx = RuleContext(
        as_of=as_of,
        horizon_days=horizon_days if horizon_days is not None else settings.EXPIRY_HORIZON_DAYS,
        organization_id=organization_id,
    )
    now = timezone.now()
    with transaction.atomic():
        organizations = Organization.objects.select_for_update()
        if organization_id is not None:
            organizations = organizations.filter(pk=organization_id)
        list(organizations.values_list("pk", flat=True))  # take the lock

        detected = {(d.kind, d.subject_key): d for d in detect_all(ctx)}
        stored = Finding.objects.open()
        if organization_id is not None:
            stored = stored.filter(organization_id=organization_id)
        open_findings = {
            (row["kind"], row["subject_key"]): row
            for row in stored.values("pk", "kind", "subject_key", "severity", "explanation", "due_on", "agreement_id")
        }

        gone_ids = [row["pk"] for key, row in open_findings.items() if key not in detected]
        for start in range(0, len(gone_ids), _CHUNK):
            Finding.objects.filter(pk__in=gone_ids[start : start + _CHUNK]).update(resolved_at=now)

        still_open = [key for key in open_findings if key in detected]
        stored.update(last_seen_at=now)  # the resolved ones no longer match ``stored``
        changed = [
            Finding(
                pk=open_findings[key]["pk"],
                severity=detected[key].severity,
                explanation=detected[key].explanation,
                due_on=detected[key].due_on,
                agreement_id=detected[key].agreement_id,
            )
            for key in still_open
            if _differs(open_findings[key], detected[key])
        ]
        if changed:
            Finding.objects.bulk_update(
                changed, ["severity", "explanation", "due_on", "agreement_id"], batch_size=_CHUNK
            )

        new = [
            Finding(
                organization_id=d.organization_id,
                kind=d.kind,
                severity=d.severity,
                subject_key=d.subject_key,
                engagement_id=d.engagement_id,
                agreement_id=d.agreement_id,
                subcontractor_link_id=d.subcontractor_link_id,
                vendor_id=d.vendor_id,
                facility_id=d.facility_id,
                explanation=d.explanation,
                due_on=d.due_on,
                first_seen_at=now,
                last_seen_at=now,
            )
            for key, d in detected.items()
            if key not in open_findings
        ]
        Finding.objects.bulk_create(new, batch_size=_CHUNK)
        # The edits requested before this run started are now reflected in the findings.
        states = ComplianceRunState.objects.all()
        if organization_id is not None:
            states = states.filter(organization_id=organization_id)
        states.update(last_run_started_at=now)
    return RunSummary(opened=len(new), still_open=len(still_open), resolved=len(gone_ids), as_of=as_of)


def _differs(stored: dict, detection) -> bool:
    return (
        stored["severity"] != detection.severity
        or stored["explanation"] != detection.explanation
        or stored["due_on"] != detection.due_on
        or stored["agreement_id"] != detection.agreement_id
    )


def finding_acknowledge(*, finding: Finding, user, note: str) -> Finding:
    """Record that someone has seen the finding and what they do about it. It stays open: only the
    rules engine resolves findings, when the problem is gone from the data."""
    finding.acknowledged_at = timezone.now()
    finding.acknowledged_by = user
    finding.acknowledgement_note = note.strip()
    finding.full_clean()
    finding.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement_note"])
    return finding


def schedule_compliance_run(*, organization_id: int) -> None:
    """Re-run the engine for one organization in the background once the current transaction commits,
    so that pages reflect a fix within seconds.

    The request is recorded in the same transaction as the edit: the pages then say that findings are
    being updated until a run that started after it finishes (``compliance_run_pending``).
    """
    from compliance.tasks import run_compliance_checks

    ComplianceRunState.objects.bulk_create(
        [ComplianceRunState(organization_id=organization_id, requested_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["organization"],
        update_fields=["requested_at"],
    )
    transaction.on_commit(lambda: run_compliance_checks.delay(organization_id=organization_id))
