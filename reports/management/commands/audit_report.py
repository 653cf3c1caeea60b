"""Write a BAA audit report to a file: the same report the app generates, stored and verifiable."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from facilities.models import Facility
from organizations.models import Organization
from reports.models import PaperSize, ReportStatus
from reports.services import audit_report_write


class Command(BaseCommand):
    help = (
        "Generate the BAA audit report of a facility (--facility ID) or of a whole organization "
        "(--organization ID), store it, and write the PDF to --output."
    )

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--facility", type=int, metavar="ID", help="Report on this facility.")
        scope.add_argument("--organization", type=int, metavar="ID", help="Report on every facility of it.")
        parser.add_argument("--output", required=True, metavar="FILE.pdf", help="Where to write the PDF.")
        parser.add_argument("--paper", choices=PaperSize.values, default=PaperSize.LETTER, help="Paper size.")
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, metavar="YYYY-MM-DD", default=None)
        parser.add_argument(
            "--append-signed", action="store_true", help="Append the signed BAA PDFs on file after the report."
        )

    def handle(self, *args, **options):
        facility = None
        if options["facility"] is not None:
            facility = Facility.objects.select_related("organization").filter(pk=options["facility"]).first()
            if facility is None:
                raise CommandError(f"No facility with id {options['facility']}.")
            organization = facility.organization
        else:
            organization = Organization.objects.filter(pk=options["organization"]).first()
            if organization is None:
                raise CommandError(f"No organization with id {options['organization']}.")
        output = Path(options["output"])
        if not output.parent.is_dir():
            raise CommandError(f"The directory {output.parent} does not exist.")

        report = audit_report_write(
            organization=organization,
            facility=facility,
            paper_size=options["paper"],
            include_signed_documents=options["append_signed"],
            as_of=options["as_of"],
        )
        if report.status != ReportStatus.DONE:
            raise CommandError(f"Report {report.pk} failed: {report.error}")
        with report.file.open("rb") as source:
            output.write_bytes(source.read())
        self.stdout.write(
            f"Report {report.pk} ({report.scope_label}, as of {report.as_of:%Y-%m-%d}): "
            f"{report.page_count} pages, SHA-256 {report.sha256}, written to {output}"
        )
