import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook

from baatracker.spreadsheets import (
    Sheet,
    SpreadsheetError,
    SpreadsheetFormat,
    read_spreadsheet,
    safe_cell,
    spreadsheet_response,
    write_csv,
    write_xlsx,
)

DANGEROUS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_it_prefixes_formula_triggers_with_an_apostrophe(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Sectra PACS", "a=b", "", 12, 3.5, dt.date(2026, 11, 22), True])
def test_it_leaves_harmless_values_alone(value):
    assert safe_cell(value) == value


def test_it_writes_none_as_empty_text():
    assert safe_cell(None) == ""


def test_it_escapes_every_cell_of_a_csv_including_the_header():
    content = write_csv(["=head", "name"], [["=cmd|' /C calc'!A0", "-5"], ["ok", 7]]).decode("utf-8-sig")
    lines = content.splitlines()
    assert lines[0] == "'=head,name"
    assert lines[1] == "'=cmd|' /C calc'!A0,'-5"
    assert lines[2] == "ok,7"


def test_it_never_stores_a_formula_in_an_xlsx():
    data = write_xlsx([Sheet(title="Vendors: all", headers=["name", "date"], rows=[["=1+1", dt.date(2026, 1, 2)]])])
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    assert sheet.title == "Vendors  all"
    assert sheet["A2"].value == "'=1+1"
    assert sheet["A2"].data_type == "s"
    assert sheet["B2"].value.date() == dt.date(2026, 1, 2)


def test_it_reads_back_an_exported_csv_unchanged():
    content = write_csv(["Vendor name", "Start"], [["=evil", dt.date(2026, 1, 2)], ["", ""], ["Plain", ""]])
    sheet = read_spreadsheet(io.BytesIO(content), name="x.csv")
    assert sheet.headers == ["vendor_name", "start"]
    assert [(r.number, r.values) for r in sheet.rows] == [
        (2, {"vendor_name": "=evil", "start": "2026-01-02"}),
        (4, {"vendor_name": "Plain", "start": ""}),
    ]


def test_it_reads_an_xlsx_with_typed_dates():
    workbook = Workbook()
    workbook.active.append(["Name", "PHI start"])
    workbook.active.append(["Aidoc", dt.datetime(2026, 3, 1)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    sheet = read_spreadsheet(io.BytesIO(buffer.getvalue()), name="inventory.xlsx")
    assert sheet.rows[0].values == {"name": "Aidoc", "phi_start": dt.date(2026, 3, 1)}
    assert sheet.rows[0].number == 2


def test_it_reads_semicolon_separated_csv():
    sheet = read_spreadsheet(io.BytesIO(b"name;category\nSectra;pacs\n"), name="x.csv")
    assert sheet.rows[0].values == {"name": "Sectra", "category": "pacs"}


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "x.csv", "empty"),
        (b"not a zip", "x.xlsx", "not an Excel workbook"),
        (b"PK\x03\x04garbage", "x.xlsx", "not a readable Excel"),
        (b"\x00\x01\x02", "x.csv", "not a CSV"),
        (b"name,name\na,b\n", "x.csv", "appears twice"),
    ],
)
def test_it_refuses_unreadable_files_with_a_reason(content, name, message):
    with pytest.raises(SpreadsheetError, match=message):
        read_spreadsheet(io.BytesIO(content), name=name)


def test_it_refuses_too_many_rows_and_too_big_files():
    with pytest.raises(SpreadsheetError, match="more than 2 rows"):
        read_spreadsheet(io.BytesIO(b"a\n1\n2\n3\n"), name="x.csv", max_rows=2)
    with pytest.raises(SpreadsheetError, match="larger than"):
        read_spreadsheet(io.BytesIO(b"a\n" + b"1\n" * 600_000), name="x.csv", max_bytes=1024 * 1024)


@pytest.mark.parametrize(("fmt", "content_type"), [("csv", "text/csv"), ("xlsx", "spreadsheetml")])
def test_it_answers_an_attachment(fmt, content_type, settings):
    response = spreadsheet_response(fmt=SpreadsheetFormat(fmt), filename="baa inventory", headers=["a"], rows=[["@x"]])
    assert content_type in response["Content-Type"]
    assert response["Content-Disposition"].startswith('attachment; filename="baa-inventory-')
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    assert response["X-Content-Type-Options"] == "nosniff"
