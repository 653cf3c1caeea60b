"""``manage.py check_compliance``: run the rules engine now and show the open findings per kind.

The engine itself is compliance.tasks.run_compliance_checks (the nightly job): this command only
calls it and reports what is open afterwards, so it never disagrees with the nightly run.
``--as-of`` another day evaluates the same rules for that day without writing anything
(compliance.services.evaluate_compliance): stored findings and their history stay as they were.
"""

from __future__ import annotations

import argparse
import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone

from compliance import kinds
from compliance.models import Finding, Severity
from compliance.services import evaluate_compliance
from compliance.tasks import run_compliance_checks
from organizations.models import Organization

SEVERITIES = [Severity(value) for value in Severity.values]


def _as_of(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date: give the day as YYYY-MM-DD, e.g. {timezone.localdate():%Y-%m-%d}."
        ) from None


def open_findings_by_kind(*, organization_id: int | None = None) -> dict[str, dict[str, int]]:
    """Open findings counted per kind and severity, every kind and severity present (zero included).
    One query."""
    counts = {kind: {severity: 0 for severity in Severity.values} for kind, _ in kinds.choices()}
    findings = Finding.objects.open()
    if organization_id is not None:
        findings = findings.filter(organization_id=organization_id)
    for row in findings.order_by().values("kind", "severity").annotate(n=Count("pk")):
        counts.setdefault(row["kind"], dict.fromkeys(Severity.values, 0))[row["severity"]] = row["n"]
    return counts


class Command(BaseCommand):
    help = (
        "Run the compliance rules now (as the nightly job does) and print the open findings per kind. "
        "--as-of evaluates another day read-only: it shows what was (or will be) open that day and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", type=int, metavar="ID", help="Only this organization (its id).")
        parser.add_argument(
            "--as-of", type=_as_of, metavar="YYYY-MM-DD", help="Evaluate the rules for this day (default: today)."
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print one JSON object instead of a table."
        )

    def handle(self, *args, organization=None, as_of=None, as_json=False, **options):
        org = None
        if organization is not None:
            org = Organization.objects.filter(pk=organization).first()
            if org is None:
                raise CommandError(f"There is no organization with id {organization}.")
        if as_of is not None and as_of != timezone.localdate():
            detections = evaluate_compliance(as_of=as_of, organization_id=organization)
            counts = {kind: {severity: 0 for severity in Severity.values} for kind, _ in kinds.choices()}
            for detection in detections:
                counts[detection.kind][detection.severity] += 1
            summary = {"as_of": str(as_of), "read_only": True}
        else:
            summary = run_compliance_checks(organization_id=organization)
            counts = open_findings_by_kind(organization_id=organization)
        if as_json:
            self._print_json(summary, counts, organization)
        else:
            self._print_table(summary, counts, org)

    def _print_json(self, summary: dict, counts: dict[str, dict[str, int]], organization_id: int | None) -> None:
        by_severity = {severity: sum(row[severity] for row in counts.values()) for severity in Severity.values}
        payload = {
            **summary,
            "organization_id": organization_id,
            "open_total": sum(by_severity.values()),
            "open_by_kind": {kind: sum(row.values()) for kind, row in counts.items()},
            "open_by_severity": by_severity,
        }
        self.stdout.write(json.dumps(payload, indent=2))

    def _print_table(self, summary: dict, counts: dict[str, dict[str, int]], org: Organization | None) -> None:
        scope = f"{org.name} (id {org.pk})" if org else "all organizations"
        if summary.get("read_only"):
            self.stdout.write(
                f"Compliance as of {summary['as_of']} for {scope}, read-only: the findings open that day by the "
                "dates on record; stored findings untouched."
            )
        else:
            self.stdout.write(
                f"Compliance run as of {summary['as_of']} for {scope}: {summary['opened']} opened, "
                f"{summary['resolved']} resolved, {summary['still_open']} still open."
            )
        self.stdout.write("")
        label_width = max(len(kinds.label(kind)) for kind in counts) + 2
        header = f"{'Open findings':<{label_width}}{'Total':>7}" + "".join(
            f"{severity.label:>10}" for severity in SEVERITIES
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        totals = {severity: 0 for severity in Severity.values}
        for kind, row in counts.items():
            line = f"{kinds.label(kind):<{label_width}}{sum(row.values()):>7}" + "".join(
                f"{row[severity]:>10}" for severity in Severity.values
            )
            self.stdout.write(self.style.WARNING(line) if sum(row.values()) else line)
            for severity, n in row.items():
                totals[severity] += n
        self.stdout.write("-" * len(header))
        self.stdout.write(
            f"{'Total':<{label_width}}{sum(totals.values()):>7}"
            + "".join(f"{totals[severity]:>10}" for severity in Severity.values)
        )
