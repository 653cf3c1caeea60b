"""Import of the vendor inventory (vendors and their engagements) from a CSV or XLSX spreadsheet.

Compliance officers keep their vendors in spreadsheets; this brings them in. All or nothing:

* ``import_inventory(commit=False)`` (the preview) checks every row with the same rules as the
  pages' services (vendors.services.vendor_save / engagement_save), saves nothing, and reports every
  bad row with its row number and the reason;
* ``import_inventory(commit=True)`` (the confirmation) does the same and saves every row, in one
  transaction, only when no row failed; one bad row and nothing is saved.

The rows are checked in memory against the inventory loaded up front and written with bulk inserts
(with their change history), so a 10,000-row file takes the same few queries as a 10-row one.

The uploaded file is kept server-side between the preview and the confirmation (``stash_upload``),
under MEDIA_ROOT/imports/<token>/, tied to the user who uploaded it; the browser only holds the
token, never a copy of the data.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from simple_history.utils import bulk_create_with_history

from baatracker.spreadsheets import ReadSheet, SheetRow, SpreadsheetError, read_spreadsheet
from checklists.models import ChecklistItem, TeleradiologyChecklist, checklist_applies
from checklists.services import checklist_items_for
from compliance.scheduling import schedule_compliance_run
from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Engagement, EngagementStatus, Vendor, VendorCategory
from vendors.services import engagement_validate


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: str
    example: str


COLUMNS: tuple[Column, ...] = (
    Column(
        "legal_name", True, "The vendor's legal name. Rows with the same name are the same vendor.", "Acme PACS Inc."
    ),
    Column(
        "category",
        True,
        "One of: " + "; ".join(f"{label} ({value})" for value, label in VendorCategory.choices) + ".",
        "PACS",
    ),
    Column("is_conduit", False, "yes for a mere conduit (transports data without access, e.g. an ISP); else no.", "no"),
    Column("contact_name", False, "Vendor contact.", "Dana Smith"),
    Column("contact_email", False, "Vendor contact email.", "privacy@acme.example"),
    Column("contact_phone", False, "Vendor contact phone.", "+1 555 0100"),
    Column("website", False, "Vendor website.", "https://acme.example"),
    Column(
        "facility",
        False,
        "Name of one of your facilities where the vendor works. Empty: the vendor only, with no engagement.",
        "Lakeside Imaging Center",
    ),
    Column("service_description", False, "What the vendor does there (default: the category).", "Image archive"),
    Column("phi_creates", False, "yes if the vendor creates PHI for the facility (45 CFR 160.103).", "no"),
    Column("phi_receives", False, "yes if it receives PHI, e.g. DICOM studies.", "yes"),
    Column("phi_maintains", False, "yes if it stores PHI.", "yes"),
    Column("phi_transmits", False, "yes if it transmits PHI on your behalf.", "no"),
    Column("phi_access_starts_on", False, "First day of PHI access, YYYY-MM-DD (or MM/DD/YYYY).", "2024-03-01"),
    Column("ends_on", False, "Day the engagement ended, if it did.", ""),
    Column(
        "status",
        False,
        "planned, active or offboarded (default: active). An active engagement with PHI access needs "
        "phi_access_starts_on.",
        "active",
    ),
    Column("data_location", False, "Where the data lives.", "AWS us-east-1"),
    Column("notes", False, "Free text about the vendor.", ""),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
REQUIRED_COLUMNS = tuple(column.name for column in COLUMNS if column.required)
ENGAGEMENT_COLUMNS = (
    "service_description",
    "phi_creates",
    "phi_receives",
    "phi_maintains",
    "phi_transmits",
    "phi_access_starts_on",
    "ends_on",
    "status",
    "data_location",
)
#: Columns of the export that the import reads past without a warning.
EXPORT_ONLY_COLUMNS = ("baa_status",)

TRUE_WORDS = {"yes", "y", "true", "1", "x"}
FALSE_WORDS = {"no", "n", "false", "0", ""}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class RowOutcome:
    row: int
    vendor: str
    facility: str
    action: str


@dataclass
class ImportResult:
    rows: list[RowOutcome] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    vendors_created: int = 0
    engagements_created: int = 0
    committed: bool = False
    total_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> list[int]:
        return sorted({error.row for error in self.errors if error.row})

    def errors_by_row(self) -> list[tuple[int, list[RowError]]]:
        grouped: dict[int, list[RowError]] = {}
        for error in self.errors:
            grouped.setdefault(error.row, []).append(error)
        return sorted(grouped.items())


class _RowInvalid(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors


# --- cell parsing ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"\u201c{_text(value)}\u201d is not yes or no.")


def _parse_date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value)
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"\u201c{text}\u201d is not a date; use YYYY-MM-DD, e.g. 2024-03-01.")


def _parse_choice(value: Any, choices: Iterable[tuple[str, str]], what: str) -> str:
    text = _text(value).lower()
    for stored, label in choices:
        if text in (stored.lower(), label.lower(), stored.replace("_", " ").lower()):
            return stored
    allowed = ", ".join(label for _, label in choices)
    raise ValueError(f"\u201c{_text(value)}\u201d is not a {what}; use one of: {allowed}.")


# --- the import -----------------------------------------------------------------------------------


#: Rows are checked in memory and written with a few bulk inserts: 10,000 rows take about 1 s to
#: preview and 3 s to save (PostgreSQL), in a constant number of queries. The bound is the preview
#: page, which lists every row, and the upload's size (MAX_IMPORT_BYTES, 5 MB: 10,000 CSV rows of
#: up to 500 bytes).
MAX_ROWS = 10_000
#: Rows per INSERT statement (SQLite lowers it to its limit of 999 parameters per statement).
BATCH_SIZE = 1000
#: The reason recorded in the change history of every record the import creates.
CHANGE_REASON = "Vendor inventory import"


def read_inventory(file, *, name: str | None = None) -> ReadSheet:
    """Read the uploaded file and check its header. Raises SpreadsheetError with what to fix."""
    sheet = read_spreadsheet(file, name=name, max_rows=MAX_ROWS)
    missing = [column for column in REQUIRED_COLUMNS if column not in sheet.headers]
    if missing:
        raise SpreadsheetError(
            "The header row lacks the required column(s) "
            + ", ".join(missing)
            + ". Download the template for the expected columns."
        )
    if not sheet.rows:
        raise SpreadsheetError("The file has a header row but no vendor rows.")
    return sheet


_ENDS_AFTER_PHI_START = next(
    constraint for constraint in Engagement._meta.constraints if constraint.name == "engagement_ends_after_phi_start"
)


def _ends_before_phi_access(engagement: Engagement) -> bool:
    """The Engagement CheckConstraint ``engagement_ends_after_phi_start``, violated, in Python.

    full_clean() checks it with one query per row; tests/vendors/test_importing.py holds this
    function to the constraint's answer.
    """
    return (
        engagement.ends_on is not None
        and engagement.phi_access_starts_on is not None
        and engagement.ends_on < engagement.phi_access_starts_on
    )


def _clean_without_queries(instance, *, exclude: set[str], errors: dict[str, list] | None = None) -> None:
    """full_clean() without its queries: the field validators and clean(), plus ``errors`` found by the
    caller where full_clean() would ask the database (foreign keys, unique and check constraints)."""
    found: dict[str, list] = {}
    for check in (lambda: instance.clean_fields(exclude=exclude), instance.clean):
        try:
            check()
        except ValidationError as exc:
            found = exc.update_error_dict(found)
    for name, messages in (errors or {}).items():
        found.setdefault(name, []).extend(messages)
    if found:
        raise ValidationError(found)


class _Importer:
    """Checks every row against the inventory loaded up front (a constant number of queries), then
    writes the new vendors, engagements and checklists with a few bulk inserts."""

    def __init__(self, *, user, membership):
        self.user = user
        self.organization_id = membership.organization_id
        self.facilities = {
            facility.name.casefold(): facility
            for facility in Facility.objects.restrict(user, Action.CHANGE).order_by("pk")
        }
        #: the vendors a row can name (those the user may change), by name
        self.vendors = {
            vendor.legal_name.casefold(): vendor
            for vendor in Vendor.objects.restrict(user, Action.CHANGE).order_by("pk")
        }
        #: every legal name of the organization, also of vendors the user cannot see: the unique constraint
        self.taken_names = set(
            Vendor.objects.filter(organization_id=self.organization_id).values_list("legal_name", flat=True)
        )
        #: (vendor id, facility id, service) of the engagements already in the inventory
        self.existing_engagements = {
            (vendor_id, facility_id, service.casefold())
            for vendor_id, facility_id, service in Engagement.objects.filter(
                vendor__organization_id=self.organization_id
            ).values_list("vendor_id", "facility_id", "service_description")
        }
        #: vendor name -> (row number, category, is_conduit) for vendors created by this file
        self.created_in_file: dict[str, tuple[int, str, bool]] = {}
        #: (vendor name, facility id, service) -> first row
        self.engagement_rows: dict[tuple[str, int, str], int] = {}
        self.new_vendors: list[Vendor] = []
        self.new_engagements: list[Engagement] = []
        self.result = ImportResult()

    def run(self, sheet: ReadSheet) -> None:
        self.result.total_rows = len(sheet.rows)
        self.result.ignored_columns = [
            name for name in sheet.headers if name not in COLUMN_NAMES and name not in EXPORT_ONLY_COLUMNS
        ]
        for row in sheet.rows:
            try:
                outcome = self.import_row(row)
            except _RowInvalid as invalid:
                self.result.errors.extend(invalid.errors)
            else:
                self.result.rows.append(outcome)

    def import_row(self, row: SheetRow) -> RowOutcome:
        """Check one row; only a row without a problem adds its vendor and engagement to the import, so
        that later rows see the inventory as it would be (a failed row's vendor stays unknown)."""
        values, errors = self.parse(row)
        if errors:
            raise _RowInvalid(errors)
        name = values["legal_name"]
        key = name.casefold()
        facility = values["facility"]
        vendor, created = self.vendor_for(row, values)
        engagement = None
        if facility is None:
            outcome = RowOutcome(row.number, name, "", "new vendor" if created else "vendor already in the inventory")
        else:
            engagement, engagement_key = self.check_engagement(row, vendor, facility, values)
            what = "new vendor and engagement" if created else "new engagement for a vendor already listed"
            outcome = RowOutcome(row.number, name, facility.name, what)
        if created:
            self.vendors[key] = vendor
            self.taken_names.add(vendor.legal_name)
            self.created_in_file[key] = (row.number, vendor.category, vendor.is_conduit)
            self.new_vendors.append(vendor)
            self.result.vendors_created += 1
        if engagement is not None:
            self.engagement_rows[engagement_key] = row.number
            self.new_engagements.append(engagement)
            self.result.engagements_created += 1
        return outcome

    def parse(self, row: SheetRow) -> tuple[dict[str, Any], list[RowError]]:
        raw = row.values
        errors: list[RowError] = []
        values: dict[str, Any] = {}

        def error(column: str, message: str) -> None:
            errors.append(RowError(row.number, column, message))

        values["legal_name"] = _text(raw.get("legal_name"))[:200]
        if not values["legal_name"]:
            error("legal_name", "The vendor's legal name is required.")
        try:
            values["category"] = _parse_choice(raw.get("category"), VendorCategory.choices, "vendor category")
        except ValueError as exc:
            error("category", str(exc) if _text(raw.get("category")) else "The category is required.")
        for name in ("is_conduit", "phi_creates", "phi_receives", "phi_maintains", "phi_transmits"):
            try:
                values[name] = _parse_bool(raw.get(name))
            except ValueError as exc:
                error(name, str(exc))
        for name in ("phi_access_starts_on", "ends_on"):
            try:
                values[name] = _parse_date(raw.get(name))
            except ValueError as exc:
                error(name, str(exc))
        status_text = _text(raw.get("status"))
        try:
            values["status"] = (
                _parse_choice(status_text, EngagementStatus.choices, "status")
                if status_text
                else EngagementStatus.ACTIVE
            )
        except ValueError as exc:
            error("status", str(exc))
        for name in ("contact_name", "contact_email", "contact_phone", "website", "data_location", "notes"):
            values[name] = _text(raw.get(name)) if name != "notes" else str(raw.get(name) or "").strip()
        values["service_description"] = _text(raw.get("service_description"))[:300]
        facility_name = _text(raw.get("facility"))
        values["facility"] = None
        if facility_name:
            values["facility"] = self.facilities.get(facility_name.casefold())
            if values["facility"] is None:
                error(
                    "facility",
                    f"Unknown facility \u201c{facility_name}\u201d: use the name of one of your facilities "
                    "exactly as on the Facilities page.",
                )
        elif (
            any(values.get(verb) for verb in ("phi_creates", "phi_receives", "phi_maintains", "phi_transmits"))
            or values["service_description"]
            or values.get("phi_access_starts_on")
        ):
            error(
                "facility",
                "Engagement details (service or PHI access) are given but no facility: say at which facility the "
                "vendor works.",
            )
        return values, errors

    def vendor_for(self, row: SheetRow, values: dict[str, Any]) -> tuple[Vendor, bool]:
        key = values["legal_name"].casefold()
        existing = self.vendors.get(key)
        if existing is not None:
            first = self.created_in_file.get(key)
            if first is not None:
                first_row, category, is_conduit = first
                if category != values["category"]:
                    raise _RowInvalid(
                        [
                            RowError(
                                row.number,
                                "category",
                                f"The category differs from row {first_row} for the same vendor "
                                f"({VendorCategory(category).label}).",
                            )
                        ]
                    )
            elif existing.category != values["category"]:
                raise _RowInvalid(
                    [
                        RowError(
                            row.number,
                            "category",
                            f"{existing.legal_name} is already in your inventory as "
                            f"{existing.get_category_display()}; the file says "
                            f"{VendorCategory(values['category']).label}. Correct the file or edit the vendor first.",
                        )
                    ]
                )
            return existing, False
        vendor = Vendor(
            organization_id=self.organization_id,
            legal_name=values["legal_name"],
            category=values["category"],
            is_conduit=values["is_conduit"],
            contact_name=values["contact_name"][:200],
            contact_email=values["contact_email"],
            contact_phone=values["contact_phone"][:40],
            website=values["website"],
            notes=values["notes"],
        )
        # What vendor_save() checks (full_clean) for a new vendor, with the unique constraint checked
        # against the names loaded up front.
        unique_errors = {}
        if vendor.legal_name in self.taken_names:
            unique = vendor.unique_error_message(Vendor, ("organization", "legal_name"))
            unique_errors[NON_FIELD_ERRORS] = [unique]
        try:
            _clean_without_queries(vendor, exclude={"organization"}, errors=unique_errors)
        except ValidationError as exc:
            raise _RowInvalid(self.errors_from(row, exc, default_column="legal_name")) from exc
        return vendor, True

    def check_engagement(
        self, row: SheetRow, vendor: Vendor, facility: Facility, values: dict[str, Any]
    ) -> tuple[Engagement, tuple[str, int, str]]:
        """The row's new engagement, checked as engagement_save() would; raises _RowInvalid."""
        service = values["service_description"] or vendor.get_category_display()
        key = (vendor.legal_name.casefold(), facility.pk, service.casefold())
        first_row = self.engagement_rows.get(key)
        if first_row is not None:
            raise _RowInvalid(
                [
                    RowError(
                        row.number,
                        "facility",
                        f"Duplicate of row {first_row}: the same vendor, facility and service.",
                    )
                ]
            )
        if vendor.pk and (vendor.pk, facility.pk, service.casefold()) in self.existing_engagements:
            raise _RowInvalid(
                [
                    RowError(
                        row.number,
                        "facility",
                        f"Duplicate: {vendor.legal_name} already has the engagement \u201c{service}\u201d at "
                        f"{facility.name} in your inventory.",
                    )
                ]
            )
        engagement = Engagement(
            vendor=vendor,
            facility=facility,
            service_description=service,
            phi_creates=values["phi_creates"],
            phi_receives=values["phi_receives"],
            phi_maintains=values["phi_maintains"],
            phi_transmits=values["phi_transmits"],
            phi_access_starts_on=values["phi_access_starts_on"],
            ends_on=values["ends_on"],
            status=values["status"],
            data_location=values["data_location"][:200],
        )
        try:
            with _vendor_id_stand_in(engagement):
                engagement_validate(engagement)
            constraint_errors = {}
            if _ends_before_phi_access(engagement):
                constraint_errors[NON_FIELD_ERRORS] = [_ENDS_AFTER_PHI_START.get_violation_error_message()]
            # The vendor and facility are known to exist: their validation is a query each.
            _clean_without_queries(engagement, exclude={"vendor", "facility"}, errors=constraint_errors)
        except ValidationError as exc:
            raise _RowInvalid(self.errors_from(row, exc, default_column="")) from exc
        return engagement, key

    def write(self) -> None:
        """Insert what the rows create, with its change history by the importing user.

        The inserts return the new primary keys (PostgreSQL, and SQLite 3.35+), which the next
        inserts refer to.
        """
        history = {"batch_size": BATCH_SIZE, "default_user": self.user, "default_change_reason": CHANGE_REASON}
        if self.new_vendors:
            bulk_create_with_history(self.new_vendors, Vendor, **history)
        for engagement in self.new_engagements:
            engagement.vendor = engagement.vendor  # the id of a vendor just inserted
        if self.new_engagements:
            bulk_create_with_history(self.new_engagements, Engagement, **history)
        # What engagement_save() adds through checklist_ensure().
        checklists = [
            TeleradiologyChecklist(engagement=engagement)
            for engagement in self.new_engagements
            if checklist_applies(engagement.vendor.category)
        ]
        if checklists:
            bulk_create_with_history(checklists, TeleradiologyChecklist, **history)
            items = [item for checklist in checklists for item in checklist_items_for(checklist)]
            bulk_create_with_history(items, ChecklistItem, **history)

    @staticmethod
    def errors_from(row: SheetRow, exc: ValidationError, *, default_column: str) -> list[RowError]:
        errors = []
        if hasattr(exc, "error_dict"):
            for name, messages in exc.message_dict.items():
                column = name if name in COLUMN_NAMES else default_column
                for message in messages:
                    if name == "is_conduit" or "conduit" in message:
                        column = "is_conduit"
                    errors.append(RowError(row.number, column, message))
        else:
            errors.extend(RowError(row.number, default_column, message) for message in exc.messages)
        return errors


@contextmanager
def _vendor_id_stand_in(engagement: Engagement):
    """An engagement of a vendor not saved yet, with a stand-in vendor id and the vendor still attached.

    engagement_validate() looks at the vendor only when ``vendor_id`` is set (e.g. the conduit rule);
    the vendors of a file are inserted after every row is checked, so they have no id yet.
    """
    vendor = engagement.vendor
    if vendor.pk is not None:
        yield
        return
    engagement.vendor_id = -1  # never a primary key; this drops the attached vendor, so attach it again
    Engagement.vendor.field.set_cached_value(engagement, vendor)
    try:
        yield
    finally:
        engagement.vendor = vendor


def _import_once(*, sheet: ReadSheet, user, membership, commit: bool) -> ImportResult:
    importer = _Importer(user=user, membership=membership)
    if not commit:
        importer.run(sheet)  # reads only
        return importer.result
    with transaction.atomic():
        importer.run(sheet)
        if importer.result.ok:
            importer.write()
            importer.result.committed = True
            schedule_compliance_run(organization_id=membership.organization_id)
    return importer.result


def import_inventory(*, sheet: ReadSheet, user, membership, commit: bool) -> ImportResult:
    """Check every row; save them all only if ``commit`` and no row failed, in one transaction.

    The rows pass the same checks as the pages' services (vendors.services.vendor_save and
    engagement_save): model validation, engagement_validate (45 CFR 164.502(e) turns on each
    engagement's PHI access, so e.g. PHI access on a conduit vendor is refused), no duplicate
    engagement, one vendor per legal name; teleradiology engagements get their 7-item checklist.
    The number of queries does not depend on the number of rows. A committed import schedules the
    compliance run once, after the commit.
    """
    try:
        return _import_once(sheet=sheet, user=user, membership=membership, commit=commit)
    except IntegrityError:
        # Someone saved a vendor of the same name between the checks and the insert: check the rows
        # again against the inventory as it is now (nothing of the first attempt was kept).
        return _import_once(sheet=sheet, user=user, membership=membership, commit=commit)


def template_rows() -> list[list[str]]:
    """Two example rows for the template file."""
    return [
        [column.example for column in COLUMNS],
        [
            "Night Reads Teleradiology LLC",
            "Teleradiology",
            "no",
            "",
            "",
            "",
            "",
            "Lakeside Imaging Center",
            "Overnight reads",
            "yes",
            "yes",
            "no",
            "no",
            "2025-01-15",
            "",
            "active",
            "",
            "",
        ],
    ]


# --- the uploaded file between preview and confirmation -------------------------------------------

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: Uploads not confirmed within this time are removed.
STASH_MAX_AGE_SECONDS = 24 * 3600


def _imports_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def stash_upload(*, data: bytes, original_name: str, user) -> str:
    """Keep the uploaded bytes server-side for the confirmation; returns the token."""
    purge_stale_uploads()
    token = uuid.uuid4().hex
    folder = _imports_dir() / token
    folder.mkdir(parents=True, mode=0o750)
    (folder / "upload.bin").write_bytes(data)
    (folder / "meta.json").write_text(
        json.dumps({"user_id": user.pk, "original_name": original_name[:255], "created": time.time()})
    )
    return token


def load_upload(*, token: str, user) -> tuple[bytes, str] | None:
    """The stashed bytes and file name, only for the user who uploaded them; None otherwise."""
    if not _TOKEN.match(token or ""):
        return None
    folder = _imports_dir() / token
    try:
        meta = json.loads((folder / "meta.json").read_text())
        data = (folder / "upload.bin").read_bytes()
    except (OSError, ValueError):
        return None
    if meta.get("user_id") != user.pk or time.time() - meta.get("created", 0) > STASH_MAX_AGE_SECONDS:
        return None
    return data, meta.get("original_name", "")


def discard_upload(*, token: str) -> None:
    if _TOKEN.match(token or ""):
        shutil.rmtree(_imports_dir() / token, ignore_errors=True)


def purge_stale_uploads() -> None:
    folder = _imports_dir()
    if not folder.exists():
        return
    now = time.time()
    for entry in folder.iterdir():
        try:
            if now - entry.stat().st_mtime > STASH_MAX_AGE_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
