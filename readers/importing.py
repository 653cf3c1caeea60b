"""Import of a teleradiology vendor's readers: the roster, the state licenses and the privileges from
CSV or XLSX (baatracker.spreadsheets), and licenses from a file in the layout of the NPPES monthly data
dissemination file (npidata_pfile_*.csv).

All rows or none: every row is checked in memory first (a bad NPI check digit, an unknown state, an
impossible date, a radiologist not on the roster...), and if any row is wrong nothing is saved and
each wrong row gets a message saying what to fix. Otherwise the rows are written with bulk inserts
and their change history by the importing user, in a constant number of queries.

The NPPES file is gigabytes (one row per NPI in the country, about 330 columns): it is read
streaming, row by row, and only the rows of NPIs on the vendor's roster are kept. Its header row is
checked against the columns used here (NPPES, "NPPES Data Dissemination" readme) before any row is read.
"""

from __future__ import annotations

import codecs
import csv
import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.db import models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from baatracker.spreadsheets import SpreadsheetError, read_spreadsheet
from compliance.scheduling import schedule_compliance_run
from facilities.models import Facility, USState
from readers.models import (
    LicenseStatus,
    Privilege,
    PrivilegeBasis,
    Radiologist,
    StateLicense,
    VerificationSource,
)
from readers.npi import npi_problem
from vendors.importing import _parse_choice, _parse_date, _text
from vendors.models import Vendor

MAX_ROWS = 10_000
BATCH_SIZE = 1000
CHANGE_REASON = "Readers import"


class ImportKind(models.TextChoices):
    ROSTER = "roster", "Roster (radiologists)"
    LICENSES = "licenses", "State licenses"
    PRIVILEGES = "privileges", "Privileges at facilities"
    NPPES = "nppes", "Licenses from an NPPES monthly file (npidata_pfile)"


#: Required and optional columns of each spreadsheet kind (normalized header names).
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ImportKind.ROSTER: (
        ("npi", "first_name", "last_name"),
        ("board", "board_certified_on", "board_certification_expires_on", "roster_starts_on"),
    ),
    ImportKind.LICENSES: (
        ("npi", "state", "license_number", "issued_on", "expires_on"),
        ("status", "verification_source", "verified_on"),
    ),
    ImportKind.PRIVILEGES: (
        ("npi", "facility", "basis", "granted_on", "expires_on"),
        ("scope", "next_reappointment_on"),
    ),
}

#: NPPES monthly file: the columns read, as named in its header row.
NPPES_NPI = "NPI"
NPPES_ENTITY_TYPE = "Entity Type Code"
NPPES_SLOTS = 15
NPPES_TAXONOMY = "Healthcare Provider Taxonomy Code_{}"
NPPES_LICENSE = "Provider License Number_{}"
NPPES_LICENSE_STATE = "Provider License Number State Code_{}"
NPPES_REQUIRED = (
    NPPES_NPI,
    NPPES_ENTITY_TYPE,
    *(
        column.format(n)
        for n in range(1, NPPES_SLOTS + 1)
        for column in (NPPES_TAXONOMY, NPPES_LICENSE, NPPES_LICENSE_STATE)
    ),
)
#: Allopathic and osteopathic physicians: radiology taxonomies are 2085R0202X (diagnostic radiology),
#: 2085N0700X (neuroradiology), 2085R0204X (vascular and interventional) and the other 2085 codes.
RADIOLOGY_TAXONOMY_PREFIX = "2085"


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ReadersImportResult:
    errors: list[RowError] = field(default_factory=list)
    saved: int = 0
    unchanged: int = 0
    total_rows: int = 0

    def errors_by_row(self) -> list[tuple[int, list[RowError]]]:
        grouped: dict[int, list[RowError]] = {}
        for error in self.errors:
            grouped.setdefault(error.row, []).append(error)
        return sorted(grouped.items())


class _RowErrors:
    def __init__(self, result: ReadersImportResult, row: int):
        self.result, self.row, self.failed = result, row, False

    def add(self, column: str, message: str) -> None:
        self.failed = True
        self.result.errors.append(RowError(self.row, column, message))

    def value(self, parse, column: str, raw: Any):
        try:
            return parse(raw)
        except ValueError as exc:
            self.add(column, str(exc))
            return None


def _state(value: Any) -> str:
    text = _text(value).upper()
    if text in USState.values:
        return text
    for code, label in USState.choices:
        if text == label.upper():
            return code
    raise ValueError(f"\u201c{_text(value)}\u201d is not a US state; use its two-letter code, e.g. TX.")


def _required_date(value: Any) -> datetime.date:
    day = _parse_date(value)
    if day is None:
        raise ValueError("The date is missing; use YYYY-MM-DD.")
    return day


def _check_npi(errors: _RowErrors, raw: Any) -> str | None:
    npi = _text(raw)
    problem = npi_problem(npi)
    if problem:
        errors.add("npi", problem)
        return None
    return npi


def _check_order(errors: _RowErrors, first, second, column: str, message: str) -> None:
    if first and second and second <= first:
        errors.add(column, message.format(first=first, second=second))


def readers_import(*, kind: str, upload: BinaryIO, vendor: Vendor, user) -> ReadersImportResult:
    """Check every row of ``upload`` and, if none is wrong, save them all (else none)."""
    result = ReadersImportResult()
    try:
        if kind == ImportKind.NPPES:
            rows = list(nppes_license_rows(upload, npis=set(vendor.radiologists.values_list("npi", flat=True))))
        else:
            rows = _sheet_rows(upload, kind)
    except SpreadsheetError as exc:
        result.errors.append(RowError(0, "", str(exc)))
        return result
    result.total_rows = len(rows)
    if kind == ImportKind.ROSTER:
        new = _check_roster(rows, vendor, result)
        model = Radiologist
    elif kind == ImportKind.PRIVILEGES:
        new = _check_privileges(rows, vendor, result)
        model = Privilege
    else:
        new = _check_licenses(rows, vendor, result, from_nppes=kind == ImportKind.NPPES)
        model = StateLicense
    if result.errors:
        return result
    with transaction.atomic():
        bulk_create_with_history(
            new, model, batch_size=BATCH_SIZE, default_user=user, default_change_reason=CHANGE_REASON
        )
        if new:
            schedule_compliance_run(organization_id=vendor.organization_id)
    result.saved = len(new)
    return result


def _sheet_rows(upload: BinaryIO, kind: str) -> list[tuple[int, dict[str, Any]]]:
    sheet = read_spreadsheet(upload, max_rows=MAX_ROWS)
    required, _optional = COLUMNS[kind]
    missing = [column for column in required if column not in sheet.headers]
    if missing:
        raise SpreadsheetError("The header row lacks the required column(s) " + ", ".join(missing) + ".")
    if not sheet.rows:
        raise SpreadsheetError("The file has a header row but no rows.")
    return [(row.number, row.values) for row in sheet.rows]


def _check_roster(rows, vendor: Vendor, result: ReadersImportResult) -> list[Radiologist]:
    known = set(vendor.radiologists.values_list("npi", flat=True))
    seen: dict[str, int] = {}
    new: list[Radiologist] = []
    today = timezone.localdate()
    for number, values in rows:
        errors = _RowErrors(result, number)
        npi = _check_npi(errors, values.get("npi"))
        first, last = _text(values.get("first_name")), _text(values.get("last_name"))
        if not first:
            errors.add("first_name", "The first name is missing.")
        if not last:
            errors.add("last_name", "The last name is missing.")
        certified = errors.value(_parse_date, "board_certified_on", values.get("board_certified_on"))
        expires = errors.value(
            _parse_date, "board_certification_expires_on", values.get("board_certification_expires_on")
        )
        starts = errors.value(_parse_date, "roster_starts_on", values.get("roster_starts_on")) or today
        _check_order(
            errors,
            certified,
            expires,
            "board_certification_expires_on",
            "The board certification cannot expire ({second}) before it was granted ({first}).",
        )
        if npi and npi in seen:
            errors.add("npi", f"NPI {npi} is already on row {seen[npi]} of this file.")
        if errors.failed or npi is None:
            continue
        seen[npi] = number
        if npi in known:
            result.unchanged += 1
            continue
        new.append(
            Radiologist(
                vendor=vendor,
                npi=npi,
                first_name=first,
                last_name=last,
                board=_text(values.get("board")) or "American Board of Radiology",
                board_certified_on=certified,
                board_certification_expires_on=expires,
                roster_starts_on=starts,
            )
        )
    return new


def _roster_by_npi(vendor: Vendor) -> dict[str, int]:
    return dict(vendor.radiologists.values_list("npi", "pk"))


def _check_licenses(rows, vendor: Vendor, result: ReadersImportResult, *, from_nppes: bool) -> list[StateLicense]:
    roster = _roster_by_npi(vendor)
    existing = set(
        StateLicense.objects.filter(radiologist__vendor=vendor).values_list("radiologist_id", "state", "number")
    )
    new: list[StateLicense] = []
    seen: set[tuple[int, str, str]] = set()
    today = timezone.localdate()
    for number, values in rows:
        errors = _RowErrors(result, number)
        npi = _check_npi(errors, values.get("npi"))
        if npi and npi not in roster:
            errors.add("npi", f"NPI {npi} is not on {vendor.legal_name}'s roster: import the roster first.")
        state = errors.value(_state, "state", values.get("state"))
        license_number = _text(values.get("license_number"))
        if not license_number:
            errors.add("license_number", "The license number is missing.")
        if from_nppes:
            issued = expires = None
            status, source, verified = LicenseStatus.ACTIVE, VerificationSource.NPPES, today
        else:
            issued = errors.value(_required_date, "issued_on", values.get("issued_on"))
            expires = errors.value(_required_date, "expires_on", values.get("expires_on"))
            _check_order(
                errors,
                issued,
                expires,
                "expires_on",
                "The license cannot expire ({second}) before it was issued ({first}).",
            )
            status = LicenseStatus.ACTIVE
            if _text(values.get("status")):
                status = errors.value(
                    lambda v: _parse_choice(v, LicenseStatus.choices, "license status"), "status", values.get("status")
                )
            source = VerificationSource.STATE_BOARD
            if _text(values.get("verification_source")):
                source = errors.value(
                    lambda v: _parse_choice(v, VerificationSource.choices, "verification source"),
                    "verification_source",
                    values.get("verification_source"),
                )
            verified = errors.value(_parse_date, "verified_on", values.get("verified_on"))
            if verified and verified > today:
                errors.add("verified_on", f"The verification date {verified} is in the future.")
        if errors.failed:
            continue
        key = (roster[npi], state, license_number)
        if key in existing or key in seen:
            result.unchanged += 1
            continue
        seen.add(key)
        new.append(
            StateLicense(
                radiologist_id=roster[npi],
                state=state,
                number=license_number,
                status=status,
                issued_on=issued,
                expires_on=expires,
                verification_source=source,
                verified_on=verified,
            )
        )
    return new


def _check_privileges(rows, vendor: Vendor, result: ReadersImportResult) -> list[Privilege]:
    roster = _roster_by_npi(vendor)
    facilities = {
        name.lower(): pk
        for name, pk in Facility.objects.filter(organization=vendor.organization_id).values_list("name", "pk")
    }
    existing = set(
        Privilege.objects.filter(radiologist__vendor=vendor).values_list("radiologist_id", "facility_id", "granted_on")
    )
    new: list[Privilege] = []
    for number, values in rows:
        errors = _RowErrors(result, number)
        npi = _check_npi(errors, values.get("npi"))
        if npi and npi not in roster:
            errors.add("npi", f"NPI {npi} is not on {vendor.legal_name}'s roster: import the roster first.")
        facility_name = _text(values.get("facility"))
        facility_id = facilities.get(facility_name.lower())
        if facility_id is None:
            errors.add("facility", f"\u201c{facility_name}\u201d is not a facility of the organization.")
        basis = errors.value(lambda v: _parse_choice(v, PrivilegeBasis.choices, "basis"), "basis", values.get("basis"))
        granted = errors.value(_required_date, "granted_on", values.get("granted_on"))
        expires = errors.value(_required_date, "expires_on", values.get("expires_on"))
        reappointment = errors.value(_parse_date, "next_reappointment_on", values.get("next_reappointment_on"))
        _check_order(
            errors,
            granted,
            expires,
            "expires_on",
            "The privileges cannot end ({second}) before they were granted ({first}).",
        )
        _check_order(
            errors,
            granted,
            reappointment,
            "next_reappointment_on",
            "The next reappointment ({second}) must come after the grant ({first}).",
        )
        if errors.failed:
            continue
        key = (roster[npi], facility_id, granted)
        if key in existing:
            result.unchanged += 1
            continue
        existing.add(key)
        new.append(
            Privilege(
                radiologist_id=roster[npi],
                facility_id=facility_id,
                basis=basis,
                scope=_text(values.get("scope")) or "Diagnostic radiology, teleradiology interpretation",
                granted_on=granted,
                expires_on=expires,
                next_reappointment_on=reappointment,
            )
        )
    return new


# --- NPPES monthly file ---------------------------------------------------------------------------


def _text_lines(upload: BinaryIO) -> Iterator[str]:
    """The upload's lines, decoded as they are read (never the whole file in memory)."""
    if hasattr(upload, "seek"):
        upload.seek(0)
    reader = codecs.getreader("utf-8")(upload, errors="replace")
    first = True
    for line in reader:
        if first:
            line = line.lstrip("\ufeff")
            first = False
        yield line


def nppes_license_rows(upload: BinaryIO, *, npis: set[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    """Rows ``(line number, {npi, state, license_number})`` for each radiology taxonomy slot with a
    license of the individuals in ``npis``, read streaming from a file in the NPPES monthly layout.
    Raises SpreadsheetError when the header row is not that layout."""
    reader = csv.reader(_text_lines(upload))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise SpreadsheetError("The file is empty.") from exc
    index = {name.strip(): position for position, name in enumerate(header)}
    missing = [column for column in NPPES_REQUIRED if column not in index]
    if missing:
        shown = ", ".join(f"\u201c{column}\u201d" for column in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise SpreadsheetError(
            f"This is not an NPPES monthly file (npidata_pfile): its header row lacks {shown}{more}."
        )
    npi_at, entity_at = index[NPPES_NPI], index[NPPES_ENTITY_TYPE]
    slots = [
        (index[NPPES_TAXONOMY.format(n)], index[NPPES_LICENSE.format(n)], index[NPPES_LICENSE_STATE.format(n)])
        for n in range(1, NPPES_SLOTS + 1)
    ]
    for line_number, row in enumerate(reader, start=2):
        if len(row) <= npi_at or row[npi_at] not in npis:
            continue
        if row[entity_at].strip() != "1":  # 1 = individual; 2 = organization
            continue
        for taxonomy_at, license_at, state_at in slots:
            taxonomy = row[taxonomy_at].strip() if taxonomy_at < len(row) else ""
            number = row[license_at].strip() if license_at < len(row) else ""
            if taxonomy.startswith(RADIOLOGY_TAXONOMY_PREFIX) and number:
                yield line_number, {"npi": row[npi_at], "state": row[state_at].strip(), "license_number": number}
