"""#15 item 8: Cache-Control and Permissions-Policy headers, unsubscribe links that expire, the
subcontractor attestation file (allowed types, a logged download through the gate), and look-alike
formula characters neutralised in exports."""

from __future__ import annotations

import csv
import io
from unittest import mock

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from alerts.emails import UNSUBSCRIBE_MAX_AGE_DAYS, unsubscribe_token, user_id_from_unsubscribe_token
from baatracker.spreadsheets import safe_cell, unescape_cell, write_csv
from organizations.models import AccessAction, AccessLogEntry, Role
from tests import factories as f
from vendors.models import SubcontractorLink

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def officer_client(client):
    org = f.organization()
    client.officer = f.user(org, role=Role.COMPLIANCE_OFFICER)
    client.org = org
    client.force_login(client.officer)
    return client


# --- headers ---------------------------------------------------------------------------------------


def test_authenticated_pages_are_not_stored(officer_client):
    response = officer_client.get(reverse("compliance:dashboard"))

    assert "no-store" in response["Cache-Control"]


def test_every_response_has_a_permissions_policy(client):
    for response in (client.get(reverse("login")), client.get(reverse("healthz"))):
        assert "camera=()" in response["Permissions-Policy"]
        assert "geolocation=()" in response["Permissions-Policy"]


# --- unsubscribe -----------------------------------------------------------------------------------


def test_an_unsubscribe_token_expires(client):
    user = f.user()
    long_ago = signing.time.time() - (UNSUBSCRIBE_MAX_AGE_DAYS + 1) * 86400
    with mock.patch("django.core.signing.time.time", return_value=long_ago):
        old_token = unsubscribe_token(user.pk)
    fresh_token = unsubscribe_token(user.pk)

    assert user_id_from_unsubscribe_token(fresh_token) == user.pk
    assert user_id_from_unsubscribe_token(old_token) is None
    page = client.get(reverse("alerts:unsubscribe", args=[old_token]))
    assert page.status_code == 404
    assert "expired" in page.content.decode()


def test_the_email_says_how_long_the_unsubscribe_link_works():
    from django.template.loader import render_to_string

    from alerts.emails import _common_context

    context = _common_context(user_id=1, organization_name="Lakeside", recipient=None)
    text = render_to_string("alerts/email/_footer.txt", context)
    html = render_to_string("alerts/email/_base.html", context)

    assert f"{UNSUBSCRIBE_MAX_AGE_DAYS} days" in text
    assert f"{UNSUBSCRIBE_MAX_AGE_DAYS} days" in html


# --- the attestation file --------------------------------------------------------------------------


def _subcontractor_post(client, vendor, upload):
    sub = f.vendor(vendor.organization, legal_name="Cloud Host")
    return client.post(
        reverse("vendors:subcontractor_create", args=[vendor.pk]),
        {
            "subcontractor": sub.pk,
            "service_description": "Hosting",
            "touches_phi": "on",
            "downstream_baa_attested_on": f.days(-5).isoformat(),
            "attestation_evidence": "Email of the privacy officer",
            "attestation_file": upload,
        },
    )


def test_the_attestation_file_must_be_an_allowed_type(officer_client):
    vendor = f.vendor(officer_client.org)

    response = _subcontractor_post(
        officer_client, vendor, SimpleUploadedFile("run.html", b"<script>alert(1)</script>", content_type="text/html")
    )

    assert response.status_code == 400
    assert "not accepted" in response.content.decode()
    assert not SubcontractorLink.objects.filter(vendor=vendor).exists()


def test_a_pdf_attestation_must_be_a_pdf_by_content(officer_client):
    vendor = f.vendor(officer_client.org)

    response = _subcontractor_post(
        officer_client,
        vendor,
        SimpleUploadedFile("fake.pdf", b"<html>not a pdf</html>", content_type="application/pdf"),
    )

    assert response.status_code == 400
    assert not SubcontractorLink.objects.filter(vendor=vendor).exists()


def test_the_attestation_file_is_downloaded_through_the_gate_and_logged(officer_client, client):
    vendor = f.vendor(officer_client.org)
    response = _subcontractor_post(
        officer_client, vendor, SimpleUploadedFile("baa.pdf", f.MINIMAL_PDF, content_type="application/pdf")
    )
    assert response.status_code == 302
    link = SubcontractorLink.objects.get(vendor=vendor)
    url = reverse("vendors:attestation_download", args=[link.pk])

    detail = officer_client.get(reverse("vendors:detail", args=[vendor.pk])).content.decode()
    download = officer_client.get(url)

    assert url in detail
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == f.MINIMAL_PDF
    assert download["Content-Disposition"].startswith("attachment")
    assert AccessLogEntry.objects.filter(
        action=AccessAction.DOWNLOAD, object_type="vendors.subcontractorlink", object_id=str(link.pk)
    ).exists()
    client.force_login(f.user(f.organization(), role=Role.ADMIN))
    assert client.get(url).status_code == 404  # another organization


# --- exports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["\uff1dHYPERLINK(1)", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", "\t=1+1", "\r=1+1", " =1+1", "\ufe66cmd", "\u22121"],
)
def test_look_alike_formula_characters_are_neutralised(text):
    assert safe_cell(text).startswith("'")
    rows = list(csv.reader(io.StringIO(write_csv(["name"], [[text]]).decode("utf-8-sig"), newline="")))
    assert rows[1][0] == "'" + text
    assert unescape_cell("'" + text) == text.strip()


def test_ordinary_text_is_left_alone():
    assert safe_cell("Sectra PACS") == "Sectra PACS"
    assert safe_cell("Ｓｅｃｔｒａ") == "Ｓｅｃｔｒａ"
