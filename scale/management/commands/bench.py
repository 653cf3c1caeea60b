"""`python manage.py bench --size small|large --json FILE`: every hot path against its floor (scale/bench.py)."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from scale import bench


class Command(BaseCommand):
    help = (
        "Benchmark the hot paths (compliance run, pages, alert dispatch, PDF report, import) on the scale "
        "dataset, each against its floor measured in the same run. PostgreSQL only; seeds the dataset "
        "(seed_scale) if the database has none."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", required=True, choices=sorted(bench.SIZES), help="The dataset size.")
        parser.add_argument("--json", dest="json_path", metavar="FILE", help="Write the results to FILE as JSON.")
        parser.add_argument("--markdown", metavar="FILE", help="Write the results to FILE as a Markdown table.")
        parser.add_argument(
            "--only",
            action="append",
            choices=bench.SECTIONS,
            help="Run only these sections (repeatable). Default: all.",
        )
        parser.add_argument(
            "--runs", type=int, help="Runs per path (default: by cost, " + str(bench.RUNS) + "); at least 1."
        )
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, help="The day to compute for (YYYY-MM-DD).")

    def handle(self, *args, size, json_path, markdown, only, runs, as_of, **options):
        if runs is not None and runs < 1:
            raise CommandError("--runs must be at least 1.")
        report = bench.run(
            size,
            sections=tuple(only or bench.SECTIONS),
            runs=dict.fromkeys(bench.RUNS, runs) if runs else None,
            as_of=as_of,
            log=lambda line: self.stderr.write(line),
        )
        self.stdout.write(bench.format_table(report))
        check = report.checks.get("compliance")
        if check is not None and not check["floor_finds_the_same_problems"]:
            self.stderr.write(
                self.style.WARNING(
                    f"The floor SQL and the engine disagree: only engine {check['only_engine']}, "
                    f"only floor {check['only_floor']}"
                )
            )
        if json_path:
            bench.write_json(report, json_path)
            self.stderr.write(f"Written to {json_path}")
        if markdown:
            with open(markdown, "w") as out:
                out.write(bench.format_markdown(report))
            self.stderr.write(f"Written to {markdown}")
