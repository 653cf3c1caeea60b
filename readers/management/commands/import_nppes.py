"""manage.py import_nppes --vendor ID FILE: the radiology licenses of a teleradiology vendor's roster
from an NPPES monthly file (npidata_pfile_*.csv, gigabytes: too big for an upload). Read streaming and
filtered by the roster's NPIs; all rows or none, as the import page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from readers.importing import ImportKind, readers_import
from vendors.models import Vendor


class Command(BaseCommand):
    help = "Import the radiology licenses of a teleradiology vendor's roster from an NPPES monthly file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the npidata_pfile_*.csv file.")
        parser.add_argument("--vendor", type=int, required=True, help="Id of the teleradiology vendor.")
        parser.add_argument("--user", help="Username recorded in the change history (default: none).")

    def handle(self, *args, file, vendor, user, **options):
        target = Vendor.objects.filter(pk=vendor, category__in=settings.CHECKLIST_VENDOR_CATEGORIES).first()
        if target is None:
            raise CommandError(f"No teleradiology vendor with id {vendor}.")
        account = None
        if user:
            account = get_user_model().objects.filter(username=user).first()
            if account is None:
                raise CommandError(f"No user named {user!r}.")
        try:
            handle = open(file, "rb")  # closed by the with below; read streaming
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        with handle:
            result = readers_import(kind=ImportKind.NPPES, upload=handle, vendor=target, user=account)
        if result.errors:
            for row, errors in result.errors_by_row():
                where = f"line {row}: " if row else ""
                self.stderr.write(
                    where + "; ".join(f"{e.column}: {e.message}" if e.column else e.message for e in errors)
                )
            raise CommandError("Nothing was imported: fix the lines above.")
        self.stdout.write(f"{result.saved} licenses imported, {result.unchanged} already recorded.")
