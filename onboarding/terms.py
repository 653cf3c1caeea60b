"""A spreadsheet (CSV or XLSX) of agreement terms for the drafts of the review queue, one row per PDF,
linked by the ``file_name`` column. All rows or none, like the vendor import (vendors.importing,
whose cell parsing and row errors this reuses): every bad row is reported with its number and
reason, and nothing is written unless every row is good. The terms land on the drafts
(``sheet_terms``) and prefill their review screens; the officer still confirms each draft."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from agreements.models import BreachWindowUnit
from baatracker.spreadsheets import ReadSheet, SpreadsheetError, read_spreadsheet
from onboarding.models import OnboardingDraft
from organizations.querysets import Action
from vendors.importing import Column, RowError, _parse_bool, _parse_choice, _parse_date, _text
from vendors.models import Vendor

COLUMNS: tuple[Column, ...] = (
    Column("file_name", True, "The name of an uploaded PDF waiting in the review queue.", "northwind-baa.pdf"),
    Column(
        "vendor", False, "The vendor's legal name as in the inventory (else the reader's match).", "Northwind PACS Inc."
    ),
    Column("title", False, "The agreement's title.", "Business Associate Agreement with Northwind PACS"),
    Column("executed_on", False, "Day both parties had signed, YYYY-MM-DD.", "2025-01-01"),
    Column("effective_on", False, "First day in force.", "2025-01-01"),
    Column("expires_on", False, "Last day in force, if it ends.", "2027-12-31"),
    Column("breach_notification_window", False, "The breach-notification window as the BAA states it, a number.", "30"),
    Column(
        "breach_notification_unit",
        False,
        "One of: " + "; ".join(label for _, label in BreachWindowUnit.choices) + ".",
        "Calendar days",
    ),
    Column("covers_all_facilities", False, "yes if the BAA covers every facility.", "yes"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
MAX_ROWS = 1000


@dataclass
class TermsResult:
    #: (row, file name) of the rows that were (or, with errors, would have been) applied.
    rows: list[tuple[int, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def errors_by_row(self) -> list[tuple[int, list[RowError]]]:
        grouped: dict[int, list[RowError]] = {}
        for error in self.errors:
            grouped.setdefault(error.row, []).append(error)
        return sorted(grouped.items())


def read_terms(file, *, name: str | None = None) -> ReadSheet:
    sheet = read_spreadsheet(file, name=name, max_rows=MAX_ROWS)
    if "file_name" not in sheet.headers:
        raise SpreadsheetError("The header row lacks the required column file_name.")
    if not sheet.rows:
        raise SpreadsheetError("The file has a header row but no rows.")
    return sheet


def _row_terms(values: dict[str, Any], vendors: dict[str, Vendor]) -> tuple[dict, list[tuple[str, str]]]:
    terms: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for column in ("executed_on", "effective_on", "expires_on"):
        try:
            day = _parse_date(values.get(column))
        except ValueError as exc:
            problems.append((column, str(exc)))
        else:
            if day:
                terms[column] = day.isoformat()
    vendor_name = _text(values.get("vendor"))
    if vendor_name:
        vendor = vendors.get(vendor_name.casefold())
        if vendor is None:
            problems.append(("vendor", f"\u201c{vendor_name}\u201d is not a vendor of your inventory."))
        else:
            terms["vendor"] = vendor.pk
    if _text(values.get("title")):
        terms["title"] = _text(values.get("title"))[:200]
    window = _text(values.get("breach_notification_window"))
    if window:
        if not window.isdigit():
            problems.append(("breach_notification_window", f"\u201c{window}\u201d is not a whole number."))
        else:
            terms["breach_notification_window"] = int(window)
    if _text(values.get("breach_notification_unit")):
        try:
            terms["breach_notification_unit"] = _parse_choice(
                values.get("breach_notification_unit"), BreachWindowUnit.choices, "unit"
            )
        except ValueError as exc:
            problems.append(("breach_notification_unit", str(exc)))
    if _text(values.get("covers_all_facilities")):
        try:
            terms["covers_all_facilities"] = _parse_bool(values.get("covers_all_facilities"))
        except ValueError as exc:
            problems.append(("covers_all_facilities", str(exc)))
    if terms.get("effective_on") and terms.get("expires_on") and terms["expires_on"] < terms["effective_on"]:
        problems.append(("expires_on", "The expiry date is before the effective date."))
    return terms, problems


def terms_import(*, sheet: ReadSheet, user, commit: bool) -> TermsResult:
    """Check every row against the drafts the user may change; with ``commit``, write the terms of
    every row to its draft in one transaction, only if no row failed."""
    result = TermsResult()
    drafts = {}
    for draft in OnboardingDraft.objects.restrict(user, Action.CHANGE).open().order_by("pk"):
        drafts.setdefault(draft.original_name.casefold(), []).append(draft)
    vendors = {v.legal_name.casefold(): v for v in Vendor.objects.restrict(user, Action.CHANGE)}
    seen: dict[str, int] = {}
    updates: list[tuple[OnboardingDraft, dict]] = []
    for row in sheet.rows:
        name = _text(row.values.get("file_name"))
        found = drafts.get(name.casefold(), [])
        if not name:
            result.errors.append(RowError(row.number, "file_name", "The file name is empty."))
            continue
        if not found:
            result.errors.append(
                RowError(row.number, "file_name", f"No PDF named \u201c{name}\u201d is waiting in the review queue.")
            )
            continue
        if len(found) > 1:
            result.errors.append(
                RowError(row.number, "file_name", f"{len(found)} PDFs named \u201c{name}\u201d wait in the queue.")
            )
            continue
        if name.casefold() in seen:
            result.errors.append(
                RowError(row.number, "file_name", f"Row {seen[name.casefold()]} already gives the terms of {name}.")
            )
            continue
        seen[name.casefold()] = row.number
        terms, problems = _row_terms(row.values, vendors)
        if problems:
            result.errors.extend(RowError(row.number, column, message) for column, message in problems)
            continue
        result.rows.append((row.number, name))
        updates.append((found[0], terms))
    if commit and result.ok:
        with transaction.atomic():
            for draft, terms in updates:
                OnboardingDraft.objects.filter(pk=draft.pk).update(sheet_terms=terms)
        result.committed = True
    return result
