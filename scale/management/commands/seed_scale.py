"""``manage.py seed_scale --size small|large``: the scale dataset for benchmarks (scale/seeding.py).

Refused when a scale dataset is there (--replace archives it first: kept, renamed, users
deactivated) and in production (DEBUG=false) unless --force: its users share a known password. The
compliance engine is not run unless --check, since the benchmark times that run itself.
"""

from __future__ import annotations

import argparse
import datetime
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance.models import FindingKind
from compliance.services import run_compliance
from scale import seeding


def _as_of(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: give the day as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Create the scale dataset (organizations named 'Scale Health NN', users scale-*, password "
        f"{seeding.SCALE_PASSWORD!r}) with bulk inserts: deterministic for a given size and day."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--size",
            required=True,
            choices=["small", "medium", "large"],
            help="small for CI, medium = large's organizations and flagship (a fifth of the rest), large = issue 6.",
        )
        parser.add_argument(
            "--as-of", type=_as_of, metavar="YYYY-MM-DD", help="Dates are relative to this day (default: today)."
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Archive an existing scale dataset first (its records are kept, never deleted).",
        )
        parser.add_argument("--check", action="store_true", help="Run the compliance rules afterwards (timed).")
        parser.add_argument("--force", action="store_true", help="Seed even when DEBUG is false.")

    def handle(self, *args, size, as_of=None, replace=False, check=False, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed the scale dataset with DEBUG=false (production settings): its users share a known "
                "password. Pass --force if this is a benchmark database."
            )
        as_of = as_of or timezone.localdate()
        self.stdout.write(f"Seeding the {size} scale dataset as of {as_of:%Y-%m-%d}...")
        started = time.monotonic()
        try:
            counts = seeding.seed(size, as_of=as_of, stdout=self.stdout, replace=replace)
        except seeding.ScaleDatasetExists as exc:
            raise CommandError(str(exc)) from None
        elapsed = time.monotonic() - started
        for model, n in counts.items():
            self.stdout.write(f"  {n:>9,} {model}")
        self.stdout.write(self.style.SUCCESS(f"Seeded in {elapsed:.1f} s ({sum(counts.values()):,} rows)."))
        first = seeding.scale_organizations().first()
        self.stdout.write(
            f"Sign in as {seeding.admin_username(1)} (administrator of {first.name}), password "
            f"{seeding.SCALE_PASSWORD!r}; the flagship facility is {seeding.FLAGSHIP_FACILITY_NAME!r}."
        )
        if check:
            started = time.monotonic()
            summary = run_compliance(as_of=as_of)
            elapsed = time.monotonic() - started
            self.stdout.write(f"Compliance run in {elapsed:.1f} s: {summary.opened:,} findings opened.")
            for kind, n in seeding.open_findings_per_kind().items():
                self.stdout.write(f"  {n:>9,} {FindingKind(kind).label}")
            with_phi, covered = seeding.phi_coverage(as_of)
            self.stdout.write(
                f"{covered:,} of {with_phi:,} engagements with PHI access are covered by a BAA in force "
                f"({covered / max(with_phi, 1):.0%})."
            )
