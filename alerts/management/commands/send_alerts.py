"""Send every alert that is due now, in this process, and say what became of them: inserted, sent,
refused, uncertain, deferred, failed and skipped (alerts.services.COUNTERS, the alerts page's words).

The same service as the daily Celery task alerts.tasks.dispatch_due_alerts (settings.CELERY_BEAT_SCHEDULE),
so running it by hand next to the worker is safe: nothing is sent twice.
"""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from alerts.services import COUNTERS, alerts_dispatch
from organizations.models import Organization


class Command(BaseCommand):
    help = "Send the alerts that are due (expiry reminders, missing-BAA alerts and reminders, digests)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="The day to send for (YYYY-MM-DD); today by default.")
        parser.add_argument("--organization", type=int, help="Only this organization (its id).")
        parser.add_argument(
            "--no-digests",
            action="store_true",
            help="Only first alerts of new findings and retries, as the frequent run does (no reminders, no digests).",
        )

    def handle(self, *args, **options):
        as_of = None
        if options["as_of"]:
            try:
                as_of = datetime.date.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(f"--as-of {options['as_of']!r} is not a date: use YYYY-MM-DD.") from None
        organization_id = options["organization"]
        if organization_id is not None and not Organization.objects.filter(pk=organization_id).exists():
            raise CommandError(f"No organization with id {organization_id}.")
        summary = alerts_dispatch(as_of=as_of, organization_id=organization_id, daily=not options["no_digests"])
        counts = ", ".join(f"{getattr(summary, name)} {name}" for name in COUNTERS)
        self.stdout.write(f"Alerts: {counts} ({summary.digests} digest{'s' if summary.digests != 1 else ''} opened).")
