"""Agreement pages: list filters, detail, form validation, lifecycle actions, documents, export, gate."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements.models import AgreementDocument, AgreementStatus, BusinessAssociateAgreement
from compliance.services import run_compliance
from organizations.models import AccessAction, AccessLogEntry, Role
from tests import factories as f
from tests.support_matrix import (
    OTHER_FACILITY,
    OTHER_ORG,
    OWN_FACILITY,
    assert_list_matrix,
    assert_matrix,
    expected_read,
    expected_write,
    login_as,
    matrix_world,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def officer_client(client):
    org = f.organization(name="Lakeside")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, username="officer")
    client.force_login(officer)
    client.org, client.user = org, officer
    client.vendor = f.vendor(org, legal_name="Sectra")
    client.facility = f.facility(org, name="Lakeside MRI")
    return client


def _titles(client, **params) -> set[str]:
    response = client.get(reverse("agreements:list"), params)
    assert response.status_code == 200
    return {a.title for a in response.context["page"].object_list}


def test_it_filters_agreements_by_status_and_expiry(officer_client):
    today = timezone.localdate()
    vendor = officer_client.vendor
    days = lambda n: today + timezone.timedelta(days=n)  # noqa: E731
    f.agreement(vendor, title="In 20 days", expires_on=days(20), signed_document=False)
    f.agreement(vendor, title="In 45 days", expires_on=days(45), signed_document=False)
    f.agreement(vendor, title="In 80 days", expires_on=days(80), signed_document=False)
    f.agreement(vendor, title="Past", expires_on=days(-5), signed_document=False)
    f.agreement(vendor, title="Evergreen", signed_document=False)
    f.agreement(vendor, title="Draft", status=AgreementStatus.DRAFT, expires_on=days(10))
    run_compliance()  # "expiring" is what the rules find (issue 10 item 2), as after every save
    assert _titles(officer_client, expiry="30") == {"In 20 days"}
    assert _titles(officer_client, expiry="60") == {"In 20 days", "In 45 days"}
    assert _titles(officer_client, expiry="90") == {"In 20 days", "In 45 days", "In 80 days"}
    assert _titles(officer_client, expiry="expired") == {"Past"}
    assert _titles(officer_client, expiry="evergreen") == {"Evergreen"}
    assert _titles(officer_client, status="draft") == {"Draft"}
    assert _titles(officer_client, q="45") == {"In 45 days"}


def test_it_hides_archived_agreements_unless_asked(officer_client):
    f.agreement(officer_client.vendor, title="Old draft", status=AgreementStatus.DRAFT, archived_at=timezone.now())
    f.agreement(officer_client.vendor, title="Current", signed_document=False)
    assert _titles(officer_client) == {"Current"}
    assert _titles(officer_client, archived="yes") == {"Old draft"}
    assert _titles(officer_client, archived="all") == {"Old draft", "Current"}


def test_it_lists_agreements_with_a_constant_number_of_queries(officer_client, django_assert_max_num_queries):
    def add(count, start):
        for n in range(start, start + count):
            vendor = f.vendor(officer_client.org, legal_name=f"V{n:03d}")
            f.agreement(vendor, facilities=[officer_client.facility])

    add(2, 0)
    with CaptureQueriesContext(connection) as few:
        officer_client.get(reverse("agreements:list"))
    add(30, 2)
    run_compliance(organization_id=officer_client.org.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = officer_client.get(reverse("agreements:list"))
    assert len(response.context["page"].object_list) == 25


def test_it_shows_the_agreement_page(officer_client):
    org, vendor = officer_client.org, officer_client.vendor
    f.engagement(vendor, officer_client.facility, phi_access_starts_on=f.days(-800))
    old = f.agreement(vendor, title="BAA 2019", breach_notification_days=90, facilities=[officer_client.facility])
    new = f.agreement(vendor, title="BAA 2026", status=AgreementStatus.DRAFT, supersedes=old)
    run_compliance(organization_id=org.pk)
    response = officer_client.get(reverse("agreements:detail", args=[old.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    document = old.documents.get()
    for text in (
        "Lakeside MRI",
        document.sha256,
        "Breach-notification window longer than 60 days",
        "PHI before signature",
        "Superseded by",
        "BAA 2026",
        "longer than the 60 days of 45 CFR 164.410(b)",
    ):
        assert text in html, text
    assert reverse("agreements:document_download", args=[document.pk]) in html
    response = officer_client.get(reverse("agreements:detail", args=[new.pk]))
    assert "Supersedes" in response.content.decode() and response.context["predecessor"] == old


def _form(officer_client, **overrides) -> dict:
    data = {
        "vendor": officer_client.vendor.pk,
        "title": "BAA 2026",
        "status": "draft",
        "covers_all_facilities": "on",
        "breach_notification_days": "30",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_it_prefills_the_form_from_the_coverage_matrix(officer_client):
    url = reverse("agreements:create") + f"?vendor={officer_client.vendor.pk}&facility={officer_client.facility.pk}"
    form = officer_client.get(url).context["form"]
    assert form.initial["vendor"] == officer_client.vendor
    assert form.initial["covers_all_facilities"] is False
    assert form.initial["covered_facilities"] == [officer_client.facility]
    foreign = f.vendor(f.organization())
    form = officer_client.get(reverse("agreements:create") + f"?vendor={foreign.pk}").context["form"]
    assert form.initial.get("vendor") is None


def test_it_records_an_executed_agreement_and_schedules_a_run(officer_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = officer_client.post(
            reverse("agreements:create"),
            _form(
                officer_client,
                status="executed",
                executed_on="2025-01-10",
                expires_on="2028-01-10",
                covers_all_facilities=None,
                covered_facilities=[officer_client.facility.pk],
            ),
        )
    assert response.status_code == 302
    agreement = BusinessAssociateAgreement.objects.get()
    assert agreement.status == AgreementStatus.EXECUTED
    assert str(agreement.effective_on) == "2025-01-10"  # defaults to the execution date
    assert list(agreement.covered_facilities.all()) == [officer_client.facility]
    assert agreement.organization == officer_client.org
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"effective_on": "2026-05-01", "expires_on": "2026-04-01"},
            "expires_on",
            "The expiry date (2026-04-01) must be after the effective date (2026-05-01).",
        ),
        ({"status": "executed"}, "executed_on", "An executed agreement needs its execution date"),
        ({"executed_on": "2099-01-01", "status": "executed"}, "executed_on", "is in the future"),
        ({"executed_on": "2025-01-01"}, "status", "An agreement signed on 2025-01-01 is executed"),
        ({"covers_all_facilities": None}, "covered_facilities", "Choose the facilities this agreement covers"),
        ({"auto_renews": "on"}, "renewal_term_months", "needs its renewal term"),
        ({"title": ""}, "title", "This field is required."),
    ],
)
def test_it_explains_what_to_fix_in_the_agreement_form(officer_client, overrides, field, message):
    response = officer_client.post(reverse("agreements:create"), _form(officer_client, **overrides))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not BusinessAssociateAgreement.objects.exists()


def test_it_warns_about_a_breach_window_longer_than_60_days(officer_client):
    response = officer_client.post(
        reverse("agreements:create"), _form(officer_client, breach_notification_days="90"), follow=True
    )
    assert BusinessAssociateAgreement.objects.get().breach_notification_days == 90  # saved, with a warning
    messages = [str(m) for m in response.context["messages"]]
    assert any("longer than the 60 calendar days 45 CFR 164.410(b) allows" in m for m in messages)


def test_it_keeps_covered_facilities_a_limited_officer_cannot_see(client):
    org = f.organization()
    own, other = f.facility(org, name="Own"), f.facility(org, name="Other")
    vendor = f.vendor(org)
    agreement = f.agreement(vendor, facilities=[own, other], signed_document=False)
    client.force_login(f.user(org, facilities=[own]))
    form = client.get(reverse("agreements:update", args=[agreement.pk])).context["form"]
    assert list(form.fields["covered_facilities"].queryset) == [own]
    response = client.post(
        reverse("agreements:update", args=[agreement.pk]),
        {
            "title": "Renamed",
            "covered_facilities": [own.pk],
            "breach_notification_days": "30",
            "executed_on": agreement.executed_on,
            "effective_on": agreement.effective_on,
        },
    )
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.title == "Renamed"
    assert set(agreement.covered_facilities.all()) == {own, other}
    response = client.post(
        reverse("agreements:update", args=[agreement.pk]),
        {"title": "All", "covers_all_facilities": "on", "executed_on": agreement.executed_on},
    )
    assert response.status_code == 400
    assert "You manage only some facilities" in " ".join(response.context["form"].errors["covers_all_facilities"])


# --- lifecycle ------------------------------------------------------------------------------------


def _transition(client, agreement, action, **data):
    return client.post(reverse("agreements:transition", args=[agreement.pk]), {"action": action, **data})


def test_it_moves_an_agreement_through_its_lifecycle(officer_client, django_capture_on_commit_callbacks):
    agreement = f.agreement(officer_client.vendor, status=AgreementStatus.DRAFT)
    with django_capture_on_commit_callbacks() as callbacks:
        assert _transition(officer_client, agreement, "send").status_code == 302
    assert len(callbacks) == 1
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SENT
    assert _transition(officer_client, agreement, "negotiate").status_code == 302
    response = _transition(officer_client, agreement, "execute", **{"execute-executed_on": "2026-11-01"})
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXECUTED and str(agreement.executed_on) == "2026-11-01"
    response = officer_client.post(
        reverse("agreements:terminate", args=[agreement.pk]),
        {"terminated_on": "2026-11-20", "reason": "Vendor replaced", "confirm": "yes"},
    )
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TERMINATED and str(agreement.terminated_on) == "2026-11-20"
    assert _transition(officer_client, agreement, "archive").status_code == 302
    agreement.refresh_from_db()
    assert agreement.archived_at is not None
    assert BusinessAssociateAgreement.objects.filter(pk=agreement.pk).exists()  # archived, never deleted


def test_it_shows_the_services_message_for_an_illegal_transition(officer_client):
    agreement = f.agreement(officer_client.vendor)  # executed
    response = _transition(officer_client, agreement, "send")
    assert response.status_code == 400
    messages = [str(m) for m in response.context["messages"]]
    assert any("An agreement that is executed cannot become sent for signature" in m for m in messages)
    response = _transition(officer_client, agreement, "archive")
    assert response.status_code == 400
    assert any("Terminate or supersede an executed agreement" in str(m) for m in response.context["messages"])
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXECUTED and agreement.archived_at is None


def test_it_asks_for_the_execution_date(officer_client):
    agreement = f.agreement(officer_client.vendor, status=AgreementStatus.SENT)
    response = _transition(officer_client, agreement, "execute")
    assert response.status_code == 400
    assert "executed_on" in response.context["execute_form"].errors
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SENT


def test_it_renews_an_agreement_which_supersedes_the_old_one_once_executed(officer_client):
    old = f.agreement(officer_client.vendor, title="BAA 2024", expires_on=f.days(30))
    response = officer_client.post(
        reverse("agreements:renew", args=[old.pk]),
        {"renew-title": "BAA 2027", "renew-effective_on": f.days(30), "renew-expires_on": f.days(1125)},
    )
    renewal = BusinessAssociateAgreement.objects.get(title="BAA 2027")
    assert response.status_code == 302 and response["Location"] == reverse("agreements:detail", args=[renewal.pk])
    assert renewal.supersedes == old and renewal.status == AgreementStatus.DRAFT
    old.refresh_from_db()
    assert old.status == AgreementStatus.EXECUTED  # stays in force until the renewal is executed
    _transition(officer_client, renewal, "execute", **{"execute-executed_on": f.days(-1)})
    old.refresh_from_db()
    renewal.refresh_from_db()
    assert renewal.status == AgreementStatus.EXECUTED and old.status == AgreementStatus.SUPERSEDED
    response = officer_client.post(reverse("agreements:renew", args=[old.pk]), {"renew-title": "Again"})
    assert response.status_code == 400
    assert any("Only an executed or expired agreement can be renewed" in str(m) for m in response.context["messages"])


def test_it_has_no_delete_view():
    from agreements import urls

    assert not [p for p in urls.urlpatterns if "delete" in str(p.pattern) or "delete" in (p.name or "")]


# --- documents ------------------------------------------------------------------------------------


def test_it_stores_a_signed_pdf_and_shows_its_sha256(officer_client, django_capture_on_commit_callbacks):
    agreement = f.agreement(officer_client.vendor, signed_document=False)
    upload = SimpleUploadedFile("signed.pdf", f.MINIMAL_PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks() as callbacks:
        response = officer_client.post(
            reverse("agreements:upload", args=[agreement.pk]), {"kind": "signed", "file": upload}, follow=True
        )
    digest = hashlib.sha256(f.MINIMAL_PDF).hexdigest()
    document = AgreementDocument.objects.get()
    assert document.sha256 == digest and document.uploaded_by == officer_client.user
    assert digest in response.content.decode()
    # The compliance run, and the worker's reading of the quarantined upload (documents.tasks).
    assert len(callbacks) == 2
    assert document.reading.safety == "quarantined" and "Quarantined, queued" in response.content.decode()


def test_it_refuses_a_file_that_is_not_a_pdf_by_its_content(officer_client):
    agreement = f.agreement(officer_client.vendor, signed_document=False)
    upload = SimpleUploadedFile("signed.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = officer_client.post(
        reverse("agreements:upload", args=[agreement.pk]), {"kind": "signed", "file": upload}
    )
    assert response.status_code == 400
    assert "This file is not a PDF" in " ".join(response.context["form"].errors["file"])
    assert not AgreementDocument.objects.exists()


def test_it_refuses_a_pdf_over_the_size_limit(officer_client, settings):
    settings.MAX_UPLOAD_MEGABYTES = 1
    agreement = f.agreement(officer_client.vendor, signed_document=False)
    upload = SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (1024 * 1024 + 1))
    response = officer_client.post(
        reverse("agreements:upload", args=[agreement.pk]), {"kind": "signed", "file": upload}
    )
    assert response.status_code == 400
    assert "larger than 1 MB" in " ".join(response.context["form"].errors["file"])


def test_it_serves_a_document_as_a_recorded_pdf_attachment(officer_client):
    agreement = f.agreement(officer_client.vendor, title="Signed BAA")
    document = agreement.documents.get()
    response = officer_client.get(reverse("agreements:document_download", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == f.MINIMAL_PDF
    entry = AccessLogEntry.objects.get()
    assert (entry.action, entry.user, entry.object_id) == (AccessAction.DOWNLOAD, officer_client.user, str(document.pk))
    assert entry.object_type == "agreements.agreementdocument"


# --- export ---------------------------------------------------------------------------------------


def test_it_exports_agreements_safely_and_records_it(officer_client):
    f.agreement(officer_client.vendor, title="@cmd|' /C calc'!A0", expires_on=f.days(40))
    run_compliance()  # "expiring" is what the rules find, as after every save
    response = officer_client.get(reverse("agreements:export"), {"format": "csv", "expiry": "60"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["title"] for row in rows] == ["'@cmd|' /C calc'!A0"]
    assert rows[0]["vendor"] == "Sectra" and rows[0]["in_force"] == "yes"
    entry = AccessLogEntry.objects.get()
    assert entry.action == AccessAction.EXPORT and "agreements" in entry.description


# --- the permission matrix ----------------------------------------------------------------------------


@pytest.fixture
def world(matrix_world):  # noqa: F811
    """An executed BAA covering each scope's facility only, with its signed PDF."""
    matrix_world.agreements = {
        scope: f.agreement(
            matrix_world.vendor_in(scope), title=f"Matrix BAA {scope}", facilities=[matrix_world.facility_in(scope)]
        )
        for scope in (OWN_FACILITY, OTHER_FACILITY, OTHER_ORG)
    }
    return matrix_world


def _draft_in(world, scope):
    return f.agreement(world.vendor_in(scope), status=AgreementStatus.DRAFT, facilities=[world.facility_in(scope)])


def test_it_shows_each_role_only_the_agreements_it_may_see(client, world):
    assert_list_matrix(client, world, url=reverse("agreements:list"), marker=lambda s: f"Matrix BAA {s}")
    assert_list_matrix(
        client, world, url=reverse("agreements:export") + "?format=csv", marker=lambda s: f"Matrix BAA {s}"
    )


def test_it_guards_the_agreement_page(client, world):
    assert_matrix(client, world, url=lambda s: reverse("agreements:detail", args=[world.agreements[s].pk]))


def test_it_guards_the_download_and_records_only_allowed_ones(client, world):
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("agreements:document_download", args=[world.agreements[s].documents.get().pk]),
    )
    downloads = AccessLogEntry.objects.filter(action=AccessAction.DOWNLOAD)
    allowed = sum(
        1
        for scope in (OWN_FACILITY, OTHER_FACILITY, OTHER_ORG)
        for role in ("admin", "officer", "limited_officer", "viewer", "auditor")
        if expected_read(role, scope) == 200
    )
    assert downloads.count() == allowed
    assert not downloads.filter(object_id=str(world.agreements[OTHER_ORG].documents.get().pk)).exists()


def test_it_guards_the_agreement_update(client, world):
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("agreements:update", args=[world.agreements[s].pk]),
        method="post",
        data=lambda s: {
            "title": f"Matrix BAA {s}",
            "covered_facilities": [world.facility_in(s).pk],
            "executed_on": world.agreements[s].executed_on,
            "breach_notification_days": "20",
        },
        expected=expected_write,
    )
    assert (
        world.agreements[OTHER_ORG].__class__.objects.get(pk=world.agreements[OTHER_ORG].pk).breach_notification_days
        == 30
    )


def test_it_guards_the_lifecycle_actions(client, world):
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("agreements:transition", args=[_draft_in(world, s).pk]),
        method="post",
        data={"action": "send"},
        expected=expected_write,
    )
    assert not BusinessAssociateAgreement.objects.filter(
        organization=world.other_org, status=AgreementStatus.SENT
    ).exists()


def test_it_guards_the_upload(client, world):
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("agreements:upload", args=[world.agreements[s].pk]),
        method="post",
        data=lambda s: {"kind": "amendment", "file": SimpleUploadedFile("amendment.pdf", f.MINIMAL_PDF)},
        expected=expected_write,
    )
    assert not AgreementDocument.objects.filter(agreement=world.agreements[OTHER_ORG], kind="amendment").exists()


def test_it_guards_the_create_page(client, world):
    assert_matrix(
        client,
        world,
        url=lambda s: reverse("agreements:create"),
        expected=lambda role, scope: expected_write(role, scope, success=200),
        scopes=(OWN_FACILITY,),
    )


def test_it_never_offers_another_organizations_vendor_or_facility(client, world):
    login_as(client, world, "admin")
    form = client.get(reverse("agreements:create")).context["form"]
    assert world.vendor_in(OTHER_ORG) not in form.fields["vendor"].queryset
    assert world.facility_in(OTHER_ORG) not in form.fields["covered_facilities"].queryset
    response = client.post(
        reverse("agreements:create"),
        {
            "vendor": world.vendor_in(OTHER_ORG).pk,
            "title": "Cross-tenant",
            "status": "draft",
            "covered_facilities": [world.facility_in(OTHER_ORG).pk],
        },
    )
    assert response.status_code == 400
    assert not BusinessAssociateAgreement.objects.filter(title="Cross-tenant").exists()


def _executed_with(officer_client, upload, **overrides):
    data = _form(officer_client, status="executed", executed_on="2025-01-10", **overrides)
    data["signed_pdf"] = upload
    return officer_client.post(reverse("agreements:create"), data)


def test_it_records_an_executed_agreement_and_its_signed_pdf_in_one_step(officer_client):
    response = _executed_with(officer_client, SimpleUploadedFile("signed.pdf", f.MINIMAL_PDF))

    assert response.status_code == 302
    agreement = BusinessAssociateAgreement.objects.get()
    document = AgreementDocument.objects.get(agreement=agreement)
    assert document.sha256 == hashlib.sha256(f.MINIMAL_PDF).hexdigest()
    assert document.uploaded_by == officer_client.user
    assert agreement.history.count() == 1


def test_it_records_neither_the_agreement_nor_the_file_when_the_file_is_refused(officer_client):
    response = _executed_with(officer_client, SimpleUploadedFile("signed.pdf", b"not a pdf at all"))

    assert response.status_code == 400
    assert "is not a PDF" in str(response.context["form"].errors["signed_pdf"])
    assert not BusinessAssociateAgreement.objects.exists()
    assert not AgreementDocument.objects.exists()
    assert response.context["form"].instance.pk is None


def test_it_refuses_a_signed_pdf_on_a_draft(officer_client):
    data = _form(officer_client, status="draft")
    data["signed_pdf"] = SimpleUploadedFile("signed.pdf", f.MINIMAL_PDF)
    response = officer_client.post(reverse("agreements:create"), data)
    assert response.status_code == 400
    assert "executed agreement" in str(response.context["form"].errors["signed_pdf"])
    assert not BusinessAssociateAgreement.objects.exists()
