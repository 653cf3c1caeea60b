"""#15 item 7: resource limits.

* An XLSX is streamed: reading stops at the row limit, before the rest of the sheet is parsed.
* A request body over the limit is refused from its Content-Length, before it is read; one without a
  (truthful) Content-Length is cut off while it arrives.
* The report verification upload has a size limit; the forms state their limits.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from baatracker.spreadsheets import SpreadsheetError, read_spreadsheet
from organizations.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def xlsx_broken_after(rows: int, broken_at: int, *, with_dimension: bool = True) -> bytes:
    """An XLSX of ``rows`` rows whose sheet XML is corrupt from row ``broken_at`` on: reading it whole
    fails on the corruption; streaming it stops at the row limit first. Its sheet starts with a
    ``<dimension>`` element, as Excel's do, unless ``with_dimension`` is false (a write-only openpyxl
    workbook writes none, nor do many converters)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=not with_dimension)
    sheet = workbook.create_sheet() if not with_dimension else workbook.active
    sheet.append(["vendor", "facility"])
    for n in range(rows):
        sheet.append([f"Vendor {n}", "North MRI"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                cut = text.index(f'<row r="{broken_at}"')
                data = (text[:cut] + '<row r="x"><c><<this is not XML').encode()
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize("with_dimension", [True, False], ids=["sized sheet", "sheet without dimension"])
def test_it_stops_reading_an_xlsx_at_the_row_limit(with_dimension):
    data = xlsx_broken_after(rows=3000, broken_at=2500, with_dimension=with_dimension)  # past the first chunks
    assert (b"<dimension" in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")) is with_dimension

    with pytest.raises(SpreadsheetError, match="more than 100 rows"):
        read_spreadsheet(io.BytesIO(data), name="inventory.xlsx", max_rows=100)


def test_it_stops_at_a_sheet_of_blank_rows_too():
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["vendor"])
    sheet.cell(row=200_000, column=1, value="far away")  # read-only mode yields 200,000 rows
    buffer = io.BytesIO()
    workbook.save(buffer)

    with pytest.raises(SpreadsheetError, match="more than 100 rows"):
        read_spreadsheet(io.BytesIO(buffer.getvalue()), name="inventory.xlsx", max_rows=100)


class UnreadableBody(io.BytesIO):
    """A request body that must not be read."""

    read_bytes = 0

    def read(self, size=-1):
        UnreadableBody.read_bytes += 1
        return super().read(size)

    readline = read


@pytest.fixture
def officer_client(client):
    org = f.organization()
    client.force_login(f.user(org, role=Role.COMPLIANCE_OFFICER))
    return client


def test_it_refuses_a_body_over_the_limit_before_reading_it(officer_client):
    declared = (settings.MAX_UPLOAD_MEGABYTES + 5) * 1024 * 1024
    UnreadableBody.read_bytes = 0

    response = officer_client.generic(
        "POST",
        reverse("vendors:import"),
        b"x" * 10,
        content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(declared),
        **{"wsgi.input": UnreadableBody(b"x" * 10)},
    )

    assert response.status_code == 413
    assert f"{settings.MAX_UPLOAD_MEGABYTES} MB" in response.content.decode()
    assert UnreadableBody.read_bytes == 0


def test_it_cuts_off_an_upload_larger_than_its_content_length_said(rf, settings):
    from baatracker.limits import LimitedUploadHandler

    settings.MAX_UPLOAD_MEGABYTES = 1
    handler = LimitedUploadHandler()
    handler.new_file("file", "big.pdf", "application/pdf", None)
    chunk = b"x" * (256 * 1024)
    from django.core.files.uploadhandler import StopUpload

    with pytest.raises(StopUpload):
        for start in range(0, 3 * 1024 * 1024, len(chunk)):
            handler.receive_data_chunk(chunk, start)


def test_the_report_verification_upload_has_a_size_limit(officer_client, settings):
    settings.MAX_UPLOAD_MEGABYTES = 1
    big = SimpleUploadedFile("report.pdf", b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10), content_type="application/pdf")

    response = officer_client.post(reverse("reports:verify"), {"file": big})

    assert response.status_code == 400
    assert "larger than 1 MB" in response.content.decode()
    assert response.context["result"] is None


@pytest.mark.parametrize(
    "url_name",
    ["reports:verify", "vendors:import"],
)
def test_the_forms_state_their_limits(officer_client, url_name):
    page = officer_client.get(reverse(url_name)).content.decode()

    assert re.search(r"at most \d+ MB", page), url_name
