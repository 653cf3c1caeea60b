"""Spreadsheet files in and out (CSV and XLSX), safe against formula injection.

Exports: a spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(a leading tab, carriage return or space can hide one, and fullwidth look-alikes such as ``＝`` are
folded into them by some programs), so a vendor named ``=HYPERLINK(...)`` typed by
one user could run in another user's spreadsheet (CSV/formula injection, OWASP). Every *text* cell
that starts with one of those characters is written with a leading apostrophe; numbers and dates
keep their type. XLSX cells are always written as text or typed values, never as formulas.

Imports: rows come back as ``SheetRow(number, values)`` where ``number`` is the row number a person
sees in a spreadsheet program (the header is row 1), and ``values`` maps normalized header names
(lowercase, underscores) to stripped text or typed values. The apostrophe added on export is
removed again, so an exported file can be imported unchanged.

Usage::

    from baatracker.spreadsheets import SpreadsheetFormat, spreadsheet_response, read_spreadsheet

    return spreadsheet_response(fmt=SpreadsheetFormat.XLSX, filename="findings", headers=[...], rows=[...])
    sheet = read_spreadsheet(uploaded_file)  # raises SpreadsheetError with a message for the user
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO

from django.db import models
from django.http import HttpResponse
from django.utils import timezone

#: Characters that make a spreadsheet program treat a cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Look-alikes some spreadsheet programs also read as operators, or fold into them on import:
#: fullwidth and small forms (NFKC folds them to = + - @) and the minus sign.
LOOK_ALIKE_TRIGGERS = frozenset("\u2212")
ESCAPE_PREFIX = "'"


def needs_escape(text: str) -> bool:
    """Whether a spreadsheet program could read ``text`` as a formula: it starts with a trigger, a
    look-alike of one (``＝`` ``＋`` ``－`` ``＠`` ``﹦`` ...), or whitespace and control characters
    (tab, CR, LF, spaces) before one."""
    if not text:
        return False
    if text.startswith(FORMULA_TRIGGERS):
        return True
    stripped = text.lstrip(" \t\r\n\u00a0\u3000")
    if not stripped:
        return False
    first = stripped[0]
    return first in LOOK_ALIKE_TRIGGERS or unicodedata.normalize("NFKC", first) in ("=", "+", "-", "@")


#: Upper bounds for an uploaded spreadsheet, so one upload cannot exhaust the server.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5000

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SpreadsheetFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"


class SpreadsheetError(ValueError):
    """The uploaded file cannot be read as a spreadsheet; the message says why, for the user."""


# --- writing -------------------------------------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """The value to write: text that could start a formula gets a leading apostrophe.

    None becomes "", numbers, dates and booleans keep their type, anything else becomes text.
    """
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal | dt.date | dt.datetime):
        return value
    text = str(value)
    if needs_escape(text):
        return ESCAPE_PREFIX + text
    return text


def _xlsx_value(value: Any) -> Any:
    value = safe_cell(value)
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        # XLSX has no time zones: write the local time the user sees on the pages.
        value = timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, Decimal):
        value = float(value)
    return value


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV as UTF-8 with a byte order mark, so Excel opens non-ASCII names correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in headers])
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_text(value: Any) -> str:
    value = safe_cell(value)
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass
class Sheet:
    """One worksheet of an XLSX workbook."""

    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence[Any]] = field(default_factory=list)


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """An XLSX workbook with one worksheet per ``Sheet``; no cell is ever a formula."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        worksheet = workbook.create_sheet(title=_sheet_title(sheet.title))
        worksheet.append([_xlsx_value(h) for h in sheet.headers])
        for cell in worksheet[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            worksheet.append([_xlsx_value(v) for v in row])
        # openpyxl turns any text starting with "=" into a formula; safe_cell has escaped those,
        # and this makes sure no cell of ours is stored as a formula whatever its text.
        for row_cells in worksheet.iter_rows():
            for cell in row_cells:
                if cell.data_type == "f":
                    cell.data_type = TYPE_STRING
        worksheet.freeze_panes = "A2"
        for index, header in enumerate(sheet.headers, start=1):
            worksheet.column_dimensions[_column_letter(index)].width = max(12, min(40, len(str(header)) + 4))
    if not workbook.worksheets:
        workbook.create_sheet("Sheet1")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def _sheet_title(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet1"


def spreadsheet_response(
    *,
    fmt: str,
    filename: str,
    headers: Sequence[str] | None = None,
    rows: Iterable[Sequence[Any]] = (),
    sheets: Sequence[Sheet] | None = None,
) -> HttpResponse:
    """A download of ``headers`` + ``rows`` (or several ``sheets`` for XLSX) as an attachment.

    ``filename`` is without extension; today's date and the extension are added. For CSV with
    several sheets only the first is written. Record the export in the access log in the view
    (``organizations.services.access_log_record(action=AccessAction.EXPORT)``).
    """
    if sheets is None:
        sheets = [Sheet(title=filename, headers=headers or [], rows=rows)]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", filename).strip("-") or "export"
    stamp = timezone.localdate().isoformat()
    if fmt == SpreadsheetFormat.XLSX:
        content, content_type, extension = write_xlsx(sheets), XLSX_CONTENT_TYPE, "xlsx"
    elif fmt == SpreadsheetFormat.CSV:
        content, content_type, extension = write_csv(sheets[0].headers, sheets[0].rows), CSV_CONTENT_TYPE, "csv"
    else:
        raise ValueError(f"Unknown spreadsheet format {fmt!r}; use csv or xlsx.")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    #: The row number a person sees in a spreadsheet program: the header is row 1.
    number: int
    values: dict[str, Any]


@dataclass
class ReadSheet:
    headers: list[str]
    rows: list[SheetRow]


def normalize_header(text: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text or "").strip().lower()).strip("_")


def unescape_cell(value: Any) -> Any:
    """Strip and undo the export's apostrophe (``'=x`` -> ``=x``); other values unchanged."""
    if isinstance(value, str):
        value = value.strip()
        if len(value) > 1 and value[0] == ESCAPE_PREFIX and needs_escape(value[1:]):
            value = value[1:].strip()
    if isinstance(value, dt.datetime) and value.time() == dt.time(0, 0):
        # XLSX stores dates as datetimes at midnight.
        return value.date()
    return value


def detect_format(name: str, head: bytes) -> str:
    """The format by content (an XLSX is a ZIP archive), with the file name as a tie-breaker."""
    if head.startswith(b"PK\x03\x04"):
        return SpreadsheetFormat.XLSX
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise SpreadsheetError("The file is named .xlsx but is not an Excel workbook. Save it again as .xlsx or CSV.")
    if b"\x00" in head:
        raise SpreadsheetError("The file is not a CSV text file or an Excel (.xlsx) workbook.")
    return SpreadsheetFormat.CSV


def read_spreadsheet(
    file: BinaryIO, *, name: str | None = None, max_bytes: int = MAX_IMPORT_BYTES, max_rows: int = MAX_IMPORT_ROWS
) -> ReadSheet:
    """Read the first worksheet of an XLSX or a CSV file; empty rows are skipped (numbers kept).

    Raises ``SpreadsheetError`` with a message for the user when the file is too big, not a
    spreadsheet, has no header row, a duplicated column or too many rows.
    """
    name = name if name is not None else getattr(file, "name", "") or ""
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SpreadsheetError(f"The file is larger than {max_bytes // (1024 * 1024)} MB; split it into smaller files.")
    if not data.strip():
        raise SpreadsheetError("The file is empty.")
    fmt = detect_format(name, data[:8])
    # Streamed: _to_sheet stops at the row limit, so a sheet of 300,000 rows costs what 5,000 do (#15).
    raw_rows = _xlsx_rows(data) if fmt == SpreadsheetFormat.XLSX else _csv_rows(data)
    with contextlib.closing(raw_rows):
        return _to_sheet(raw_rows, max_rows=max_rows)


def _csv_rows(data: bytes) -> Generator[list[Any]]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly everything
        raise SpreadsheetError("The CSV file is not UTF-8 text. Save it as 'CSV UTF-8'.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        yield from csv.reader(io.StringIO(text, newline=""), dialect)
    except csv.Error as exc:
        raise SpreadsheetError(f"The CSV file cannot be read: {exc}.") from exc


def _open_streamed_workbook(data: bytes):
    """A read-only openpyxl workbook whose worksheets are never sized when opened.

    openpyxl sizes each read-only sheet as it opens the workbook, from the sheet's ``<dimension>``
    element; a sheet without one (written by CSV converters and several libraries) is probed to the end
    of ``<sheetData>``, i.e. parsed whole, before a single row is returned: 300,000 rows cost seconds of
    CPU and a zip bomb costs what it expands to (#15 item 7). Unsized, the rows are parsed only as they
    are iterated, so reading stops at the row limit whatever the file says about its size."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class UnsizedWorksheet(ReadOnlyWorksheet):
        def _get_size(self):
            pass  # rows are counted as they are read (_to_sheet), never from the whole sheet first

    class StreamingReader(ExcelReader):
        def read_worksheets(self):
            for sheet, rel in self.parser.find_sheets():
                if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                    self.wb._sheets.append(UnsizedWorksheet(self.wb, sheet.name, rel.target, self.shared_strings))

    reader = StreamingReader(io.BytesIO(data), read_only=True, data_only=True)
    reader.read()
    return reader.wb


def _xlsx_rows(data: bytes) -> Generator[list[Any]]:
    """The rows of the first worksheet, one at a time: the read-only workbook parses the sheet's XML as
    it is iterated, so nothing past the row where the reader stops is parsed."""
    try:
        workbook = _open_streamed_workbook(data)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError) as exc:
        raise SpreadsheetError("The file is not a readable Excel (.xlsx) workbook.") from exc
    try:
        worksheet = workbook.worksheets[0]
        for row in worksheet.iter_rows(values_only=True):
            yield list(row)
    except IndexError as exc:
        raise SpreadsheetError("The Excel (.xlsx) workbook has no worksheet.") from exc
    except (SyntaxError, zipfile.BadZipFile, KeyError, ValueError) as exc:  # XML parse errors are SyntaxErrors
        raise SpreadsheetError("The Excel (.xlsx) workbook is damaged; save it again and upload it again.") from exc
    finally:
        workbook.close()


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _to_sheet(raw_rows: Iterable[list[Any]], *, max_rows: int) -> ReadSheet:
    iterator = iter(enumerate(raw_rows, start=1))
    for _number, row in iterator:
        if any(not _is_empty(v) for v in row):
            headers = [normalize_header(v) for v in row]
            break
    else:
        raise SpreadsheetError("The file has no header row.")
    seen: set[str] = set()
    for header in headers:
        if header and header in seen:
            raise SpreadsheetError(f"The column '{header}' appears twice in the header row.")
        seen.add(header)
    rows: list[SheetRow] = []
    for number, row in iterator:
        # Blank rows are skipped but not free: a sheet padded with a million of them stops here too.
        if number > 2 * max_rows + 1:
            raise SpreadsheetError(f"The file has more than {max_rows} rows; split it into smaller files.")
        if all(_is_empty(v) for v in row):
            continue
        if len(rows) >= max_rows:
            raise SpreadsheetError(f"The file has more than {max_rows} rows; split it into smaller files.")
        values: dict[str, Any] = {}
        for index, header in enumerate(headers):
            if not header:
                continue
            value = row[index] if index < len(row) else None
            values[header] = "" if value is None else unescape_cell(value)
        rows.append(SheetRow(number=number, values=values))
    return ReadSheet(headers=[h for h in headers if h], rows=rows)
