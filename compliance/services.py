"""Writes of the compliance app. Only the engine opens and resolves findings."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from compliance.models import AssessmentOutcome, BreachRiskAssessment, ComplianceRunState, Finding
from compliance.rules import Detection, RuleContext, detect_all
from compliance.scheduling import schedule_compliance_run
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


def rule_context(*, as_of: datetime.date, organization_id: int | None, horizon_days: int | None) -> RuleContext:
    """The rules' settings for a run, the same for today's stored run and any other day's question."""
    return RuleContext(
        as_of=as_of,
        horizon_days=horizon_days if horizon_days is not None else settings.EXPIRY_HORIZON_DAYS,
        organization_id=organization_id,
        license_reverify_days=settings.READER_LICENSE_REVERIFY_DAYS,
    )


def run_compliance(
    *, organization_id: int | None = None, as_of: datetime.date | None = None, horizon_days: int | None = None
) -> RunSummary:
    """Run every rule for today and reconcile the stored findings with what they detect.

    Only the nightly run and the on-commit runs write findings, and only for today: ``as_of`` is the
    day that counts as today (tests fix it); a question about another day is
    ``evaluate_compliance``, which writes nothing.

    Idempotent: a second run with the same data changes nothing but ``last_seen_at``. A finding no
    longer detected gets ``resolved_at``; a problem that comes back opens a new finding, so the
    history of each problem is kept. Concurrent runs for the same organizations are serialized by a
    row lock on the organizations, and the database allows one open finding per kind and subject.
    The number of queries does not depend on the amount of data (apart from chunked writes).
    """
    as_of = as_of or timezone.localdate()
    ctx = rule_context(as_of=as_of, organization_id=organization_id, horizon_days=horizon_days)
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
            Finding(**d.finding_fields(), first_seen_at=now, last_seen_at=now)
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


class WriteRefused(RuntimeError):
    """An as-of evaluation tried to write: it must leave every stored row as it was."""


_WRITES = ("insert", "update", "delete", "replace", "merge", "truncate", "alter", "create", "drop")


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Refuse any statement that would change the database, for the duration of the block.

    An as-of run answers a question about another day; if it wrote, its findings would be mailed
    by the next alert dispatch and the stored history would lie (issue 16, item 5).
    """

    def guard(execute, sql, params, many, context):
        head = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else ""
        if head in _WRITES:
            raise WriteRefused(f"An as-of evaluation must not write; refused: {sql[:80]}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(guard):
        yield


def evaluate_compliance(
    *, as_of: datetime.date, organization_id: int | None = None, horizon_days: int | None = None
) -> list[Detection]:
    """What the rules find on ``as_of`` (any day, past or future), without writing anything.

    The point-in-time answer for a surveyor ("as of D"): the same rules as the nightly run, over the
    facts on record by that day. Stored findings, acknowledgements and history stay untouched; only
    ``run_compliance`` for today writes.
    """
    ctx = rule_context(as_of=as_of, organization_id=organization_id, horizon_days=horizon_days)
    with read_only():
        return detect_all(ctx)


def breach_risk_assessment_record(
    *,
    engagement,
    period_starts_on: datetime.date,
    period_ends_on: datetime.date,
    nature_and_extent: str,
    unauthorized_person: str,
    acquired_or_viewed: str,
    mitigation: str,
    outcome: str,
    assessed_on: datetime.date,
    assessed_by,
    document,
) -> BreachRiskAssessment:
    """Record the risk assessment of a period of PHI disclosed without a BAA (45 CFR 164.402(2)).

    The four factors are required, with the outcome, the date, who assessed and the signed document
    (164.530(j): documentation). It closes the period's finding at the next run, scheduled on commit.
    """
    if outcome not in AssessmentOutcome.values:
        raise ValidationError({"outcome": "Choose the outcome of the assessment."})
    assessment = BreachRiskAssessment(
        engagement=engagement,
        period_starts_on=period_starts_on,
        period_ends_on=period_ends_on,
        nature_and_extent=nature_and_extent.strip(),
        unauthorized_person=unauthorized_person.strip(),
        acquired_or_viewed=acquired_or_viewed.strip(),
        mitigation=mitigation.strip(),
        outcome=outcome,
        assessed_on=assessed_on,
        assessed_by=assessed_by,
        document=document,
    )
    assessment.full_clean()
    assessment.save()
    schedule_compliance_run(organization_id=engagement.facility.organization_id)
    return assessment


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
