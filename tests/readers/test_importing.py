"""Import of the readers: all rows or none, a message per wrong row (bad NPIs, unknown states,
impossible dates), and licenses from a file in the NPPES monthly layout."""

from __future__ import annotations

import csv
import io

import pytest

from readers.importing import NPPES_REQUIRED, ImportKind, readers_import
from readers.models import Privilege, PrivilegeBasis, Radiologist, StateLicense, VerificationSource
from tests import factories as f
from tests.factories import days

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor():
    return f.vendor(category="teleradiology", legal_name="Nightshift Reads")


@pytest.fixture
def officer(vendor):
    return f.user(vendor.organization)


def csv_file(rows: list[list[str]], name: str = "rows.csv") -> io.BytesIO:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    upload = io.BytesIO(out.getvalue().encode())
    upload.name = name
    return upload


def xlsx_file(rows: list[list[object]]) -> io.BytesIO:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    upload = io.BytesIO()
    workbook.save(upload)
    upload.seek(0)
    upload.name = "rows.xlsx"
    return upload


def messages(result) -> dict[int, str]:
    return {row: " | ".join(f"{e.column}: {e.message}" for e in errors) for row, errors in result.errors_by_row()}


def test_it_imports_a_roster_with_history(vendor, officer):
    first, second = f.npi(), f.npi()
    upload = csv_file(
        [
            ["NPI", "First name", "Last name", "Board certification expires on"],
            [first, "Ada", "Lovelace", "2029-06-30"],
            [second, "Alan", "Turing", ""],
        ]
    )

    result = readers_import(kind=ImportKind.ROSTER, upload=upload, vendor=vendor, user=officer)

    assert (result.errors, result.saved) == ([], 2)
    ada = Radiologist.objects.get(npi=first)
    assert (ada.vendor, ada.name, str(ada.board_certification_expires_on)) == (vendor, "Ada Lovelace", "2029-06-30")
    assert ada.history.get().history_user == officer


def test_it_rejects_bad_npis_and_saves_no_row(vendor, officer):
    good = f.npi()
    upload = csv_file(
        [
            ["npi", "first_name", "last_name"],
            [good, "Ada", "Lovelace"],
            ["1234567890", "Bad", "Checkdigit"],
            ["12345", "Too", "Short"],
            [good, "Ada", "Again"],
        ]
    )

    result = readers_import(kind=ImportKind.ROSTER, upload=upload, vendor=vendor, user=officer)

    assert result.saved == 0 and not Radiologist.objects.exists()
    found = messages(result)
    assert set(found) == {3, 4, 5}
    assert "check digit should be 3" in found[3]
    assert "exactly 10 digits" in found[4]
    assert "already on row 2" in found[5]


def test_it_imports_licenses_from_xlsx(vendor, officer):
    person = f.radiologist(vendor)
    upload = xlsx_file(
        [
            ["npi", "state", "license_number", "issued_on", "expires_on", "verification_source", "verified_on"],
            [person.npi, "TX", "Q1234", days(-900), days(400), "FSMB DocInfo", days(-3)],
            [person.npi, "Oklahoma", "OK-77", "2020-01-31", "2027-01-31", "", ""],
        ]
    )

    result = readers_import(kind=ImportKind.LICENSES, upload=upload, vendor=vendor, user=officer)

    assert (result.errors, result.saved) == ([], 2)
    texas = StateLicense.objects.get(state="TX")
    assert (texas.number, texas.expires_on, texas.verification_source) == ("Q1234", days(400), "fsmb_docinfo")
    assert StateLicense.objects.get(state="OK").number == "OK-77"


def test_it_rejects_unknown_states_impossible_dates_and_strangers_with_a_message_per_row(vendor, officer):
    person = f.radiologist(vendor)
    stranger = f.npi()
    upload = csv_file(
        [
            ["npi", "state", "license_number", "issued_on", "expires_on"],
            [person.npi, "TX", "ok-row", "2020-01-01", "2027-01-01"],
            [person.npi, "Texass", "L2", "2020-01-01", "2027-01-01"],
            [person.npi, "TX", "L3", "2027-01-01", "2020-01-01"],
            [person.npi, "TX", "L4", "2020-02-30", "2027-01-01"],
            [stranger, "TX", "L5", "2020-01-01", "2027-01-01"],
            [person.npi, "TX", "", "2020-01-01", ""],
        ]
    )

    result = readers_import(kind=ImportKind.LICENSES, upload=upload, vendor=vendor, user=officer)

    assert result.saved == 0 and not StateLicense.objects.exists()
    found = messages(result)
    assert set(found) == {3, 4, 5, 6, 7}
    assert "not a US state" in found[3]
    assert "cannot expire (2020-01-01) before it was issued (2027-01-01)" in found[4]
    assert "\u201c2020-02-30\u201d is not a date" in found[5]
    assert "not on Nightshift Reads's roster" in found[6]
    assert "license number is missing" in found[7] and "expires_on: The date is missing" in found[7]


def test_it_imports_privileges_by_facility_name(vendor, officer):
    person = f.radiologist(vendor)
    site = f.facility(vendor.organization, name="Lakeside MRI")
    upload = csv_file(
        [
            ["npi", "facility", "basis", "granted_on", "expires_on", "next_reappointment_on"],
            [person.npi, "lakeside mri", "proxy", "2025-01-01", "2027-01-01", "2026-11-01"],
        ]
    )

    result = readers_import(kind=ImportKind.PRIVILEGES, upload=upload, vendor=vendor, user=officer)

    assert (result.errors, result.saved) == ([], 1)
    grant = Privilege.objects.get()
    assert (grant.radiologist, grant.facility, grant.basis) == (person, site, PrivilegeBasis.PROXY)


def test_it_rejects_privileges_at_unknown_facilities_and_reappointments_before_the_grant(vendor, officer):
    person = f.radiologist(vendor)
    f.facility(vendor.organization, name="Lakeside MRI")
    f.facility(name="Lakeside MRI of another organization")
    upload = csv_file(
        [
            ["npi", "facility", "basis", "granted_on", "expires_on", "next_reappointment_on"],
            [person.npi, "Lakeside MRI of another organization", "direct", "2025-01-01", "2027-01-01", ""],
            [person.npi, "Lakeside MRI", "sometimes", "2025-01-01", "2027-01-01", "2024-01-01"],
        ]
    )

    result = readers_import(kind=ImportKind.PRIVILEGES, upload=upload, vendor=vendor, user=officer)

    assert result.saved == 0 and not Privilege.objects.exists()
    found = messages(result)
    assert "is not a facility of the organization" in found[2]
    assert "not a basis" in found[3] and "must come after the grant" in found[3]


def test_it_says_which_required_columns_are_missing(vendor, officer):
    result = readers_import(
        kind=ImportKind.LICENSES, upload=csv_file([["npi", "state"], ["1", "TX"]]), vendor=vendor, user=officer
    )

    assert result.saved == 0
    assert "license_number, issued_on, expires_on" in result.errors[0].message


# --- NPPES ------------------------------------------------------------------------------------------


def nppes_file(rows: list[dict[str, str]]) -> io.BytesIO:
    """A file in the NPPES monthly layout: its real column names, plus a few columns not read."""
    header = ["NPI", "Entity Type Code", "Replacement NPI", "Provider Last Name (Legal Name)", *NPPES_REQUIRED[2:]]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, quoting=csv.QUOTE_ALL, restval="")
    writer.writeheader()
    writer.writerows(rows)
    upload = io.BytesIO(("\ufeff" + out.getvalue()).encode())
    upload.name = "npidata_pfile_20261101-20261107.csv"
    return upload


def test_it_imports_the_radiology_licenses_of_the_roster_from_an_nppes_file(vendor, officer):
    person = f.radiologist(vendor)
    upload = nppes_file(
        [
            {"NPI": f.npi(), "Entity Type Code": "1", "Healthcare Provider Taxonomy Code_1": "2085R0202X",
             "Provider License Number_1": "NOT-OURS", "Provider License Number State Code_1": "TX"},
            {"NPI": person.npi, "Entity Type Code": "1",
             "Healthcare Provider Taxonomy Code_1": "2085R0202X", "Provider License Number_1": "TX-1",
             "Provider License Number State Code_1": "TX",
             "Healthcare Provider Taxonomy Code_2": "207R00000X", "Provider License Number_2": "INTERNAL",
             "Provider License Number State Code_2": "OK",
             "Healthcare Provider Taxonomy Code_15": "2085N0700X", "Provider License Number_15": "WI-9",
             "Provider License Number State Code_15": "WI"},
        ]
    )  # fmt: skip

    result = readers_import(kind=ImportKind.NPPES, upload=upload, vendor=vendor, user=officer)

    assert (result.errors, result.saved) == ([], 2)
    licenses = {(lic.state, lic.number) for lic in StateLicense.objects.filter(radiologist=person)}
    assert licenses == {("TX", "TX-1"), ("WI", "WI-9")}
    texas = StateLicense.objects.get(number="TX-1")
    # NPPES lists no dates: the license does not count until its expiry is recorded from the board.
    assert (texas.expires_on, texas.verification_source) == (None, VerificationSource.NPPES)

    again = readers_import(kind=ImportKind.NPPES, upload=upload, vendor=vendor, user=officer)
    assert (again.saved, again.unchanged) == (0, 2)


def test_it_refuses_a_file_that_is_not_in_the_nppes_layout(vendor, officer):
    upload = csv_file([["NPI", "Entity Type Code", "Provider License Number_1"], ["1234567893", "1", "X"]])

    result = readers_import(kind=ImportKind.NPPES, upload=upload, vendor=vendor, user=officer)

    assert result.saved == 0
    assert "not an NPPES monthly file" in result.errors[0].message
    assert "Healthcare Provider Taxonomy Code_1" in result.errors[0].message


def test_it_reads_the_nppes_file_streaming(vendor, officer):
    """The rows are read one at a time from the file object: nothing reads it whole."""
    person = f.radiologist(vendor)
    row = {"NPI": person.npi, "Entity Type Code": "1", "Healthcare Provider Taxonomy Code_1": "2085R0202X",
           "Provider License Number_1": "TX-1", "Provider License Number State Code_1": "TX"}  # fmt: skip
    data = nppes_file([row]).getvalue()

    class NoWholeReads(io.BytesIO):
        def read(self, size=-1):
            assert size is not None and size >= 0, "read the whole file"
            return super().read(size)

    upload = NoWholeReads(data)
    result = readers_import(kind=ImportKind.NPPES, upload=upload, vendor=vendor, user=officer)

    assert result.saved == 1


def test_the_command_imports_an_nppes_file_from_disk(vendor, officer, tmp_path):
    from django.core.management import call_command

    person = f.radiologist(vendor)
    path = tmp_path / "npidata_pfile.csv"
    path.write_bytes(
        nppes_file(
            [{"NPI": person.npi, "Entity Type Code": "1", "Healthcare Provider Taxonomy Code_1": "2085R0202X",
              "Provider License Number_1": "TX-1", "Provider License Number State Code_1": "TX"}]
        ).getvalue()
    )  # fmt: skip
    out = io.StringIO()

    call_command("import_nppes", str(path), vendor=vendor.pk, user=officer.username, stdout=out)

    assert "1 licenses imported" in out.getvalue()
    assert StateLicense.objects.get(radiologist=person).history.get().history_user == officer
