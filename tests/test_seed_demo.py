"""manage.py seed_demo: a demo network with a case of every compliance rule, created once."""

from __future__ import annotations

import datetime
import hashlib
import io
import json

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pypdf import PdfReader

from agreements.models import AgreementDocument, AgreementStatus, BusinessAssociateAgreement
from compliance.models import Finding, FindingKind
from organizations import demo
from organizations.models import Membership, Organization, Role
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security
    return settings.MEDIA_ROOT


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--force", *args, stdout=out)
    return out.getvalue()


def check_json() -> dict:
    out = io.StringIO()
    call_command("check_compliance", "--json", stdout=out)
    return json.loads(out.getvalue())


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_it_opens_a_finding_of_every_kind():
    output = seed()

    result = check_json()

    assert set(result["open_by_kind"]) == set(FindingKind.values)
    assert {kind: n for kind, n in result["open_by_kind"].items() if n < 1} == {}
    assert "Lakeside Imaging Network" in output
    assert "Missing BAA" in output


def test_it_triggers_each_rule_with_the_intended_case():
    seed()

    found = {(f.kind, f.vendor.legal_name) for f in Finding.objects.open().select_related("vendor")}

    assert found == {
        (FindingKind.MISSING_BAA, "Enlitic"),
        (FindingKind.BAA_LAPSED, "Fujifilm Synapse RIS"),
        (FindingKind.BAA_EXPIRING, "Nuance AI"),
        (FindingKind.BAA_TERMINATING, "ReferLink Physician Portal, Inc."),
        (FindingKind.COVERAGE_GAP_AHEAD, "Viz.ai"),
        (FindingKind.PHI_WITHOUT_BAA, "Aidoc"),
        (FindingKind.PHI_BEFORE_BAA, "Philips Radiology Information System"),
        (FindingKind.NO_SIGNED_DOCUMENT, "Lifeimage"),
        (FindingKind.BREACH_WINDOW_TOO_LONG, "Meridian Radiology Billing LLC"),
        (FindingKind.PRE_OMNIBUS_BAA, "Merge Healthcare"),
        (FindingKind.CHECKLIST_INCOMPLETE, "vRad (Virtual Radiologic)"),
        (FindingKind.CHECKLIST_REVIEW_OVERDUE, "StatRad"),
        (FindingKind.SUBCONTRACTOR_GAP, "Ambra Health"),
        # Its signed document lacks the subcontractor flow-down (organizations.demo.DEMO_MISSING_PROVISION).
        (FindingKind.BAA_LACKS_PROVISION, "Intelerad Medical Systems"),
        (FindingKind.READER_UNLICENSED, "vRad (Virtual Radiologic)"),
        (FindingKind.READER_PROXY_WITHOUT_AGREEMENT, "vRad (Virtual Radiologic)"),
        (FindingKind.READER_LICENSE_EXPIRING, "StatRad"),
        (FindingKind.READER_LICENSE_NOT_REVERIFIED, "StatRad"),
        (FindingKind.READER_NOT_PRIVILEGED, "StatRad"),
        (FindingKind.READER_BOARD_EXPIRING, "NightHawk Radiology"),
        (FindingKind.READER_PRIVILEGE_EXPIRING, "NightHawk Radiology"),
    }


def test_it_dates_the_story_relative_to_today():
    seed()
    today = timezone.localdate()

    nuance = BusinessAssociateAgreement.objects.get(title="Nuance AI BAA")
    sectra_old = BusinessAssociateAgreement.objects.get(title="Sectra PACS BAA")
    sectra_new = BusinessAssociateAgreement.objects.get(title="Sectra PACS BAA (renewal)")
    fujifilm = BusinessAssociateAgreement.objects.get(title="Fujifilm RIS BAA")

    assert nuance.expires_on == today + datetime.timedelta(days=45)
    assert fujifilm.status == AgreementStatus.EXPIRED
    assert fujifilm.expires_on == today - datetime.timedelta(days=40)
    # The expiring Sectra agreement is already superseded by its executed renewal: no finding.
    assert sectra_old.status == AgreementStatus.SUPERSEDED
    assert sectra_old.expires_on == today + datetime.timedelta(days=40)
    assert sectra_new.supersedes == sectra_old
    assert sectra_new.status == AgreementStatus.EXECUTED
    assert not Finding.objects.filter(vendor__legal_name="Sectra Inc.").exists()
    assert Vendor.objects.get(legal_name="Great Lakes Fiber Networks").is_conduit


def test_it_creates_nothing_when_run_twice():
    seed()
    before = row_counts()

    output = seed()

    assert "already exists: nothing created" in output
    assert row_counts() == before
    assert Organization.objects.filter(name=demo.ORGANIZATION_NAME).count() == 1


def test_it_gives_every_user_an_email_a_role_and_the_demo_password():
    seed()
    users = {u.username: u for u in get_user_model().objects.select_related("membership")}
    today = timezone.localdate()

    assert set(users) == {"admin", "officer", "officer2", "viewer", "auditor"}
    assert all(u.email.endswith("@lakeside-imaging.example.org") for u in users.values())
    assert all(u.check_password(demo.DEFAULT_PASSWORD) for u in users.values())
    assert {name: u.membership.role for name, u in users.items()} == {
        "admin": Role.ADMIN,
        "officer": Role.COMPLIANCE_OFFICER,
        "officer2": Role.COMPLIANCE_OFFICER,
        "viewer": Role.VIEWER,
        "auditor": Role.AUDITOR,
    }
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not any(u.is_staff for name, u in users.items() if name != "admin")
    assert users["auditor"].membership.access_expires_on == today + datetime.timedelta(days=30)
    limited = Membership.objects.get(user__username="officer2").facilities.values_list("city", flat=True)
    assert sorted(limited) == ["Ann Arbor", "Naperville"]


def test_it_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "another-long-demo-passphrase")

    output = seed()

    assert get_user_model().objects.get(username="officer").check_password("another-long-demo-passphrase")
    assert "another-long-demo-passphrase" not in output


def test_it_refuses_a_password_the_validators_refuse(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "short")

    with pytest.raises(CommandError, match="too short"):
        seed()

    assert not Organization.objects.exists()


def test_it_refuses_to_run_in_production_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=false"):
        call_command("seed_demo", stdout=io.StringIO())

    assert not Organization.objects.exists()


def test_it_refuses_when_a_demo_username_is_taken():
    get_user_model().objects.create_user(username="officer", password="x")

    with pytest.raises(CommandError, match="officer"):
        seed()

    assert not Organization.objects.exists()


def test_it_stores_a_signed_pdf_with_its_sha256_for_every_executed_agreement_but_one():
    seed()

    executed = BusinessAssociateAgreement.objects.exclude(
        status__in=[AgreementStatus.SENT, AgreementStatus.IN_NEGOTIATION]
    )
    without = [a.title for a in executed if not a.documents.exists()]
    assert without == ["Lifeimage BAA"]
    for document in AgreementDocument.objects.select_related("agreement"):
        with document.file.open("rb") as handle:
            content = handle.read()
        assert hashlib.sha256(content).hexdigest() == document.sha256
        assert document.size_bytes == len(content)
        text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
        assert document.agreement.title in text
        assert document.agreement.vendor.legal_name in text
