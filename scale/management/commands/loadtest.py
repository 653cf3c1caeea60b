"""``manage.py loadtest``: the production web service under concurrent simulated users (scale/loadtest.py).

    python manage.py loadtest --users 50 --duration 60 --json var/loadtest.json

Needs wrk (apt-get install wrk). Exits with status 1 when any request failed.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scale.loadtest import LoadTestError, LoadTestOptions, run_load_test


class Command(BaseCommand):
    help = (
        "Start Gunicorn with gunicorn.conf.py and production settings on 127.0.0.1, let N simulated users (wrk) "
        "browse the dashboard, lists and detail pages of one organization, and report requests, errors and "
        "latency percentiles. Exit status 1 if any request failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=50, help="Concurrent simulated users (default 50).")
        parser.add_argument("--duration", type=int, default=60, help="Seconds of load (default 60).")
        parser.add_argument(
            "--workers", type=int, help="Gunicorn workers (default: gunicorn.conf.py's, i.e. WEB_CONCURRENCY or 3)."
        )
        parser.add_argument(
            "--organization", type=int, help="Organization id (default: the one with the most engagements)."
        )
        parser.add_argument(
            "--timeout", type=int, default=10, help="Seconds after which a request counts as failed (default 10)."
        )
        parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 for Gunicorn (default: a free one).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the URL list (default 0).")
        parser.add_argument("--json", metavar="FILE", help="Also write the result to FILE as JSON.")

    def handle(self, *args, **options):
        load_options = LoadTestOptions(
            users=options["users"],
            duration_s=options["duration"],
            workers=options["workers"],
            organization_id=options["organization"],
            timeout_s=options["timeout"],
            port=options["port"],
            seed=options["seed"],
        )
        try:
            result = run_load_test(load_options, log=self.stderr.write)
        except LoadTestError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(result.summary())
        if options["json"]:
            path = Path(options["json"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
        if result.errors:
            raise CommandError(f"{result.errors} of {result.requests} requests failed.")
