"""Import of the vendor inventory: preview lists every bad row, confirm saves all rows or none."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from checklists.models import ChecklistItem, ItemStatus, TeleradiologyChecklist
from organizations.models import Role
from tests import factories as f
from vendors import importing
from vendors.models import Engagement, Vendor, VendorCategory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stashed imports go to a directory of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"


HEADER = list(importing.COLUMN_NAMES)


def csv_bytes(rows: list[dict], header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def xlsx_bytes(rows: list[dict], header: list[str] = HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(name) for name in header])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def world(client):
    org = f.organization(name="Lakeside")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    client.force_login(officer)
    lakeside = f.facility(org, name="Lakeside MRI")
    f.facility(org, name="Naperville Imaging")
    f.facility(f.organization(), name="Elsewhere Radiology")  # another organization's
    existing = f.vendor(org, legal_name="Sectra", category=VendorCategory.PACS)
    f.engagement(existing, lakeside, service_description="PACS")

    class World:
        pass

    w = World()
    w.client, w.org, w.officer, w.lakeside, w.existing = client, org, officer, lakeside, existing
    return w


GOOD_ROWS = [
    {
        "legal_name": "Aidoc",
        "category": "AI diagnostic software",
        "facility": "Lakeside MRI",
        "service_description": "Triage AI",
        "phi_receives": "yes",
        "phi_access_starts_on": "2026-03-01",
        "status": "active",
    },
    {
        "legal_name": "Aidoc",
        "category": "ai_diagnostic",
        "facility": "naperville imaging",
        "service_description": "Triage AI",
        "phi_receives": "y",
        "phi_access_starts_on": "03/15/2026",
    },
    {
        "legal_name": "Night Reads LLC",
        "category": "Teleradiology",
        "facility": "Lakeside MRI",
        "service_description": "Overnight reads",
        "phi_receives": "x",
        "phi_creates": "true",
        "phi_access_starts_on": "2025-01-15",
    },
    {
        "legal_name": "Sectra",
        "category": "PACS",
        "facility": "Naperville Imaging",
        "phi_maintains": "yes",
        "phi_access_starts_on": "2024-01-01",
    },
    {"legal_name": "Comcast Business", "category": "other", "is_conduit": "yes", "contact_email": "noc@isp.example"},
]

BAD_ROWS = [
    # row 2: fine
    {
        "legal_name": "Aidoc",
        "category": "ai_diagnostic",
        "facility": "Lakeside MRI",
        "phi_receives": "yes",
        "phi_access_starts_on": "2026-03-01",
    },
    # row 3: unknown facility (another organization's)
    {
        "legal_name": "Vrad",
        "category": "teleradiology",
        "facility": "Elsewhere Radiology",
        "phi_receives": "yes",
        "phi_access_starts_on": "2026-03-01",
    },
    # row 4: bad category
    {"legal_name": "Mystery", "category": "Quantum", "facility": "Lakeside MRI"},
    # row 5: bad date
    {
        "legal_name": "Ambra",
        "category": "cloud_dicom_storage",
        "facility": "Lakeside MRI",
        "phi_maintains": "yes",
        "phi_access_starts_on": "31/31/2026",
    },
    # row 6: conduit with PHI access
    {
        "legal_name": "ISP Inc",
        "category": "other",
        "is_conduit": "yes",
        "facility": "Lakeside MRI",
        "phi_transmits": "yes",
        "phi_access_starts_on": "2026-01-01",
    },
    # row 7: duplicate of row 2
    {
        "legal_name": "aidoc",
        "category": "AI diagnostic software",
        "facility": "Lakeside MRI",
        "phi_receives": "yes",
        "phi_access_starts_on": "2026-03-01",
    },
    # row 8: duplicate of an engagement already in the inventory
    {"legal_name": "Sectra", "category": "pacs", "facility": "Lakeside MRI", "service_description": "PACS"},
    # row 9: not yes/no, and no legal name
    {"legal_name": "", "category": "pacs", "phi_creates": "maybe"},
    # row 10: active with PHI but no start date
    {"legal_name": "Billing Co", "category": "billing", "facility": "Lakeside MRI", "phi_receives": "yes"},
    # row 11: the category of an existing vendor contradicted
    {"legal_name": "Sectra", "category": "ris", "facility": "Naperville Imaging"},
]

EXPECTED_BAD = {
    3: ("facility", "Unknown facility \u201cElsewhere Radiology\u201d"),
    4: ("category", "\u201cQuantum\u201d is not a vendor category"),
    5: ("phi_access_starts_on", "\u201c31/31/2026\u201d is not a date"),
    6: ("is_conduit", "mere conduit"),
    7: ("facility", "Duplicate of row 2"),
    8: ("facility", "already has the engagement \u201cPACS\u201d at Lakeside MRI"),
    9: ("phi_creates", "\u201cmaybe\u201d is not yes or no"),
    10: ("phi_access_starts_on", "needs the date PHI access started"),
    11: ("category", "already in your inventory as PACS"),
}


def _counts() -> tuple[int, int, int]:
    return Vendor.objects.count(), Engagement.objects.count(), TeleradiologyChecklist.objects.count()


def test_it_previews_and_then_saves_every_row(world, django_capture_on_commit_callbacks):
    before = _counts()
    upload = SimpleUploadedFile("inventory.csv", csv_bytes(GOOD_ROWS), content_type="text/csv")
    response = world.client.post(reverse("vendors:import"), {"file": upload})
    assert response.status_code == 200
    result = response.context["result"]
    assert result.ok and not result.committed
    assert (result.vendors_created, result.engagements_created) == (3, 4)
    assert _counts() == before  # the preview saved nothing
    token = response.context["token"]
    assert (Path(importing._imports_dir()) / token / "upload.bin").exists()  # kept server-side
    html = response.content.decode()
    assert "Save all 5 rows" in html

    with django_capture_on_commit_callbacks() as callbacks:
        response = world.client.post(reverse("vendors:import"), {"token": token, "confirm": "1"})
    assert response.status_code == 302
    assert len(callbacks) == 1  # one compliance run for the whole import
    aidoc = Vendor.objects.get(legal_name="Aidoc")
    assert aidoc.organization == world.org and aidoc.category == VendorCategory.AI_DIAGNOSTIC
    assert sorted(e.facility.name for e in aidoc.engagements.all()) == ["Lakeside MRI", "Naperville Imaging"]
    assert aidoc.engagements.get(facility__name="Naperville Imaging").phi_access_starts_on == datetime.date(2026, 3, 15)
    reads = Engagement.objects.get(vendor__legal_name="Night Reads LLC")
    assert reads.phi_verbs == ["creates", "receives"] and reads.status == "active"
    checklist = TeleradiologyChecklist.objects.get(engagement=reads)  # as engagement_save would add it
    assert [(item.number, item.status) for item in checklist.items.order_by("number")] == [
        *[(number, ItemStatus.COMPUTED) for number in (1, 2, 3)],  # from the BAAs, licenses and privileges
        *[(number, ItemStatus.NOT_STARTED) for number in range(4, 8)],
    ]
    assert Vendor.objects.get(legal_name="Comcast Business").is_conduit
    assert world.existing.engagements.count() == 2
    assert _counts()[:2] == (before[0] + 3, before[1] + 4)
    assert not (Path(importing._imports_dir()) / token).exists()
    # The same token cannot be used twice.
    response = world.client.post(reverse("vendors:import"), {"token": token, "confirm": "1"})
    assert response.status_code == 400
    assert _counts()[:2] == (before[0] + 3, before[1] + 4)


def test_it_lists_every_bad_row_with_its_number_and_saves_nothing(world):
    before = _counts()
    upload = SimpleUploadedFile("inventory.xlsx", xlsx_bytes(BAD_ROWS))
    response = world.client.post(reverse("vendors:import"), {"file": upload})
    assert response.status_code == 400
    result = response.context["result"]
    assert result.bad_rows == sorted(EXPECTED_BAD)
    for row, (column, message) in EXPECTED_BAD.items():
        errors = [e for e in result.errors if e.row == row]
        assert any(e.column == column and message in e.message for e in errors), (row, errors)
    assert any(e.row == 9 and e.column == "legal_name" for e in result.errors)
    assert _counts() == before
    assert response.context["token"] == ""  # nothing to confirm
    html = response.content.decode()
    assert "Nothing was saved: 9 of 10 rows have problems." in html
    for row in EXPECTED_BAD:
        assert f"Row {row}</th>" in html


def test_it_commits_nothing_when_one_row_of_many_fails(world):
    before = _counts()
    rows = [dict(GOOD_ROWS[0], legal_name=f"Vendor {n}") for n in range(20)]
    rows.append(dict(GOOD_ROWS[0], legal_name="Broken", phi_access_starts_on="never"))
    sheet = importing.read_inventory(io.BytesIO(csv_bytes(rows)), name="x.csv")
    membership = world.officer.membership
    result = importing.import_inventory(sheet=sheet, user=world.officer, membership=membership, commit=True)
    assert not result.ok and not result.committed
    assert result.bad_rows == [22]
    assert _counts() == before


def test_it_checks_the_rules_of_the_model_and_the_services_on_every_row(world):
    limited = f.user(world.org, facilities=[world.lakeside])
    naperville = world.org.facilities.get(name="Naperville Imaging")
    f.engagement(f.vendor(world.org, legal_name="Unseen Co"), naperville)  # not visible to ``limited``
    rows = [
        # row 2: the database constraint engagement_ends_after_phi_start
        dict(GOOD_ROWS[0], legal_name="Ends Early", phi_access_starts_on="2026-03-01", ends_on="2026-02-01"),
        # row 3: the model's email and URL validators
        {"legal_name": "Bad Links", "category": "pacs", "contact_email": "nope", "website": "ftp//x"},
        # row 4: the organization already has a vendor of this name, one the user cannot see
        {"legal_name": "Unseen Co", "category": "pacs"},
        # row 5 marks the vendor a conduit; row 6 gives it PHI access
        {"legal_name": "Wire Co", "category": "other", "is_conduit": "yes"},
        dict(GOOD_ROWS[0], legal_name="wire co", category="other"),
        # row 7: ends on the day PHI access starts, which is fine
        dict(GOOD_ROWS[0], legal_name="Same Day", phi_access_starts_on="2026-03-01", ends_on="2026-03-01"),
    ]
    sheet = importing.read_inventory(io.BytesIO(csv_bytes(rows)), name="x.csv")
    result = importing.import_inventory(sheet=sheet, user=limited, membership=limited.membership, commit=True)
    assert [(e.row, e.column, e.message[:45]) for e in result.errors] == [
        (2, "", "The engagement cannot end before PHI access s"),
        (3, "contact_email", "Enter a valid email address."),
        (3, "website", "Enter a valid URL."),
        (4, "legal_name", "Vendor with this Organization and Legal name "),
        (6, "is_conduit", "Wire Co is marked as a mere conduit, which by"),
    ]
    assert [outcome.row for outcome in result.rows] == [5, 7]
    assert not result.committed and not Vendor.objects.filter(legal_name="Same Day").exists()


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [
        (None, None),
        (None, f.days(0)),
        (f.days(0), None),
        (f.days(0), f.days(0)),
        (f.days(0), f.days(1)),
        (f.days(1), f.days(0)),
    ],
)
def test_it_checks_the_end_date_as_the_database_constraint_does(world, starts_on, ends_on):
    constraint = importing._ENDS_AFTER_PHI_START
    engagement = Engagement(
        vendor=world.existing, facility=world.lakeside, phi_access_starts_on=starts_on, ends_on=ends_on
    )
    try:
        constraint.validate(Engagement, engagement)  # asks the database
    except ValidationError:
        violated = True
    else:
        violated = False
    assert importing._ends_before_phi_access(engagement) is violated


def test_it_records_every_record_it_creates_in_the_change_history(world):
    sheet = importing.read_inventory(io.BytesIO(csv_bytes(GOOD_ROWS)), name="x.csv")
    result = importing.import_inventory(
        sheet=sheet, user=world.officer, membership=world.officer.membership, commit=True
    )
    assert result.committed
    reads = Engagement.objects.get(vendor__legal_name="Night Reads LLC")
    created = {
        Vendor: Vendor.objects.filter(legal_name__in=["Aidoc", "Night Reads LLC", "Comcast Business"]),
        Engagement: Engagement.objects.exclude(service_description="PACS"),
        TeleradiologyChecklist: TeleradiologyChecklist.objects.filter(engagement=reads),
        ChecklistItem: ChecklistItem.objects.filter(checklist__engagement=reads),
    }
    for model, objects in created.items():
        records = model.history.filter(id__in=objects.values("id"))
        assert len(records) == len(objects) > 0, model
        assert {(r.history_type, r.history_user, r.history_change_reason) for r in records} == {
            ("+", world.officer, importing.CHANGE_REASON)
        }, model
    assert [r.history_type for r in world.existing.history.all()] == ["+"]  # the vendor already listed: unchanged


def _inventory_rows(count: int, prefix: str) -> list[dict]:
    """``count`` rows, two per vendor, a fifth of the vendors teleradiology (with checklists), and
    new engagements for the vendor already in the inventory."""
    categories = ["teleradiology", "pacs", "ris", "billing", "other"]
    rows = []
    for n in range(count):
        vendor = n // 2
        name = "Sectra" if vendor % 5 == 1 else f"{prefix} {vendor}"
        category = "pacs" if name == "Sectra" else categories[vendor % 5]
        facility = ["Lakeside MRI", "Naperville Imaging"][n % 2]
        rows.append(
            dict(
                GOOD_ROWS[0], legal_name=name, category=category, facility=facility, service_description=f"{prefix} {n}"
            )
        )
    return rows


def _queries(world, rows: list[dict], *, commit: bool) -> int:
    sheet = importing.read_inventory(io.BytesIO(csv_bytes(rows)), name="x.csv")
    user = type(world.officer).objects.get(pk=world.officer.pk)  # nothing cached from an earlier import
    membership = user.membership
    with CaptureQueriesContext(connection) as queries:
        result = importing.import_inventory(sheet=sheet, user=user, membership=membership, commit=commit)
    assert result.ok and result.committed is commit, result.errors
    return len(queries)


def test_it_takes_as_many_queries_for_30_rows_as_for_10(world):
    # Fewer rows than SQLite's bulk insert batch (999 parameters: 55 historical engagements).
    small, large = _inventory_rows(10, "Small"), _inventory_rows(30, "Large")
    assert _queries(world, small, commit=False) == _queries(world, large, commit=False)
    assert _queries(world, small, commit=True) == _queries(world, large, commit=True)
    assert TeleradiologyChecklist.objects.filter(engagement__service_description__startswith="Large").count() == 6


def test_it_checks_again_when_the_inventory_changes_while_it_saves(world, monkeypatch):
    write = importing._Importer.write
    attempts = []

    def write_once_conflicting(importer):
        attempts.append(importer)
        if len(attempts) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        write(importer)

    monkeypatch.setattr(importing._Importer, "write", write_once_conflicting)
    before = _counts()
    sheet = importing.read_inventory(io.BytesIO(csv_bytes(GOOD_ROWS)), name="x.csv")
    result = importing.import_inventory(
        sheet=sheet, user=world.officer, membership=world.officer.membership, commit=True
    )
    assert len(attempts) == 2 and result.committed
    assert _counts()[:2] == (before[0] + 3, before[1] + 4)


def test_it_refuses_a_facility_the_user_may_not_change(client):
    org = f.organization()
    own, other = f.facility(org, name="Own"), f.facility(org, name="Other")
    officer = f.user(org, facilities=[own])
    sheet = importing.read_inventory(
        io.BytesIO(csv_bytes([{"legal_name": "A", "category": "pacs", "facility": other.name}])), name="x.csv"
    )
    result = importing.import_inventory(sheet=sheet, user=officer, membership=officer.membership, commit=True)
    assert [(e.row, e.column) for e in result.errors] == [(2, "facility")]
    assert not Vendor.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"vendor,kind\nA,B\n", "x.csv", "lacks the required column(s) legal_name, category"),
        (b"legal_name,category\n", "x.csv", "no vendor rows"),
        (b"not really a workbook", "x.xlsx", "not an Excel workbook"),
    ],
)
def test_it_explains_a_file_it_cannot_read(world, content, name, message):
    response = world.client.post(reverse("vendors:import"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 400
    assert message in response.context["error"]


def test_it_documents_the_columns_and_offers_template_files(world):
    html = world.client.get(reverse("vendors:import")).content.decode()
    for column in importing.COLUMNS:
        assert f"<code>{column.name}</code>" in html
    assert "?template=xlsx" in html and "?template=csv" in html
    response = world.client.get(reverse("vendors:import"), {"template": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [cell.value for cell in sheet[1]] == HEADER
    # The template's example rows are themselves importable (given facilities of those names).
    f.facility(world.org, name="Lakeside Imaging Center")
    sheet = importing.read_inventory(io.BytesIO(response.content), name="template.xlsx")
    result = importing.import_inventory(
        sheet=sheet, user=world.officer, membership=world.officer.membership, commit=False
    )
    assert result.ok, result.errors


def test_it_imports_its_own_export_again(world):
    vendor = f.vendor(world.org, legal_name="=Formula Vendor", category=VendorCategory.RIS)
    f.engagement(vendor, world.lakeside, service_description="Scheduling", phi_access_starts_on=f.days(-10))
    export = world.client.get(reverse("vendors:export"), {"format": "xlsx"}).content
    Engagement.objects.filter(vendor=vendor).delete()
    Vendor.objects.filter(pk=vendor.pk).delete()
    Engagement.objects.filter(vendor=world.existing).delete()
    sheet = importing.read_inventory(io.BytesIO(export), name="export.xlsx")
    result = importing.import_inventory(
        sheet=sheet, user=world.officer, membership=world.officer.membership, commit=True
    )
    assert result.ok, result.errors
    assert result.ignored_columns == []
    restored = Engagement.objects.get(vendor__legal_name="=Formula Vendor")
    assert restored.service_description == "Scheduling" and restored.phi_access_starts_on == f.days(-10)


def test_it_keeps_the_upload_for_its_uploader_only(world):
    upload = SimpleUploadedFile("inventory.csv", csv_bytes(GOOD_ROWS[:1]))
    token = world.client.post(reverse("vendors:import"), {"file": upload}).context["token"]
    other = f.user(world.org, role=Role.COMPLIANCE_OFFICER)
    assert importing.load_upload(token=token, user=other) is None
    world.client.force_login(other)
    response = world.client.post(reverse("vendors:import"), {"token": token, "confirm": "1"})
    assert response.status_code == 400
    assert not Vendor.objects.filter(legal_name="Aidoc").exists()
    assert importing.load_upload(token="../../etc/passwd", user=world.officer) is None


def test_it_cancels_an_import(world):
    upload = SimpleUploadedFile("inventory.csv", csv_bytes(GOOD_ROWS[:1]))
    token = world.client.post(reverse("vendors:import"), {"file": upload}).context["token"]
    response = world.client.post(reverse("vendors:import"), {"token": token, "cancel": "1"})
    assert response.status_code == 302
    assert importing.load_upload(token=token, user=world.officer) is None
    assert not Vendor.objects.filter(legal_name="Aidoc").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AUDITOR])
def test_it_refuses_the_import_to_read_only_roles(client, role):
    org = f.organization()
    f.facility(org, name="Lakeside MRI")
    client.force_login(f.user(org, role=role))
    upload = SimpleUploadedFile("inventory.csv", csv_bytes(GOOD_ROWS))
    assert client.post(reverse("vendors:import"), {"file": upload}).status_code == 403
    assert not Vendor.objects.exists()


def test_it_refuses_more_rows_than_it_can_check_in_one_request(world, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    rows = [dict(GOOD_ROWS[0], legal_name=f"Vendor {n}") for n in range(4)]
    upload = SimpleUploadedFile("inventory.csv", csv_bytes(rows))
    response = world.client.post(reverse("vendors:import"), {"file": upload})
    assert response.status_code == 400
    assert "more than 3 rows; split it into smaller files" in response.context["error"]
