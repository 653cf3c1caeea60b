"""manage.py seed_scale: the scale dataset, deterministic, with every rule firing in every organization."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from agreements.models import AgreementDocument, BusinessAssociateAgreement
from checklists.models import ChecklistItem, TeleradiologyChecklist
from compliance.models import Finding, FindingKind
from compliance.rules import RuleContext, detect_all
from compliance.services import run_compliance
from facilities.models import Facility
from organizations.models import Membership, Organization, Role
from readers.models import Privilege, Radiologist, StateLicense
from scale import seeding
from tests import factories
from vendors.models import Engagement, SubcontractorLink, Vendor

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 3, 2)
TINY = seeding.SIZES["tiny"]


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security


def scale_counts() -> dict[str, int]:
    orgs = seeding.scale_organizations()
    return {
        "organizations": orgs.count(),
        "facilities": Facility.objects.filter(organization__in=orgs).count(),
        "vendors": Vendor.objects.filter(organization__in=orgs).count(),
        "engagements": Engagement.objects.filter(facility__organization__in=orgs).count(),
        "agreements": BusinessAssociateAgreement.objects.filter(organization__in=orgs).count(),
        "checklists": TeleradiologyChecklist.objects.filter(engagement__facility__organization__in=orgs).count(),
        "users": Membership.objects.filter(organization__in=orgs).count(),
        "radiologists": Radiologist.objects.filter(vendor__organization__in=orgs).count(),
    }


def reader_counts() -> dict[str, int]:
    orgs = seeding.scale_organizations()
    return {
        "licenses": StateLicense.objects.filter(radiologist__vendor__organization__in=orgs).count(),
        "privileges": Privilege.objects.filter(facility__organization__in=orgs).count(),
    }


def fingerprint() -> str:
    """Names, dates and flags of every seeded row (not the ids or creation times)."""
    orgs = seeding.scale_organizations()
    querysets = [
        orgs.values_list("name"),
        Facility.objects.filter(organization__in=orgs).values_list(
            "organization__name", "name", "kind", "state", "city", "active"
        ),
        Vendor.objects.filter(organization__in=orgs).values_list(
            "organization__name", "legal_name", "category", "is_conduit", "contact_email"
        ),
        Engagement.objects.filter(facility__organization__in=orgs).values_list(
            "vendor__legal_name",
            "facility__name",
            "status",
            "phi_creates",
            "phi_receives",
            "phi_maintains",
            "phi_transmits",
            "phi_access_starts_on",
            "ends_on",
        ),
        BusinessAssociateAgreement.objects.filter(organization__in=orgs).values_list(
            "vendor__legal_name",
            "title",
            "status",
            "covers_all_facilities",
            "executed_on",
            "effective_on",
            "expires_on",
            "auto_renews",
            "renewal_term_months",
            "breach_notification_days",
            "amended_on",
            "terminated_on",
            "supersedes__title",
            "supersedes__effective_on",
        ),
        AgreementDocument.objects.filter(agreement__organization__in=orgs).values_list(
            "file", "sha256", "size_bytes", "uploaded_by__username"
        ),
        ChecklistItem.objects.filter(checklist__engagement__facility__organization__in=orgs).values_list(
            "checklist__engagement__vendor__legal_name",
            "checklist__engagement__facility__name",
            "number",
            "status",
            "verified_on",
            "next_review_on",
        ),
        SubcontractorLink.objects.filter(vendor__organization__in=orgs).values_list(
            "vendor__legal_name", "subcontractor__legal_name", "touches_phi", "downstream_baa_attested_on"
        ),
        Membership.objects.filter(organization__in=orgs).values_list(
            "user__username", "user__first_name", "role", "access_expires_on", "facilities__name"
        ),
        StateLicense.objects.filter(radiologist__vendor__organization__in=orgs).values_list(
            "radiologist__npi", "state", "number", "status", "issued_on", "expires_on", "verified_on"
        ),
        Privilege.objects.filter(facility__organization__in=orgs).values_list(
            "radiologist__npi", "facility__name", "basis", "granted_on", "expires_on"
        ),
    ]
    rows = [sorted(repr(row) for row in queryset) for queryset in querysets]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def seeded_fingerprint(**kwargs) -> str:
    with transaction.atomic():
        seeding.seed("tiny", **kwargs)
        result = fingerprint()
        transaction.set_rollback(True)
    return result


def test_it_creates_the_numbers_of_the_size():
    counts = seeding.seed("tiny", as_of=AS_OF)

    expected = {name: getattr(TINY, name) for name in scale_counts()}
    assert scale_counts() == expected
    assert {name: counts[name] for name in expected} == expected
    # Licenses and privileges: at least the size's numbers (each reader needs one per state and facility).
    readers = reader_counts()
    assert readers == {name: counts[name] for name in readers}
    assert TINY.licenses <= readers["licenses"] <= TINY.licenses * 1.2
    assert TINY.privileges <= readers["privileges"] <= TINY.privileges * 1.2
    assert [org.name for org in seeding.scale_organizations()] == ["Scale Health 01", "Scale Health 02"]


def test_the_sizes_keep_small_a_tenth_of_large():
    large, small = seeding.SIZES["large"], seeding.SIZES["small"]

    assert dataclasses.astuple(large) == (
        20,
        1_000,
        20_000,
        200_000,
        120_000,
        30_000,
        200,
        1_000,
        2_000,
        30_000,
        60_000,
    )
    for field in dataclasses.fields(seeding.ScaleSize):
        assert getattr(small, field.name) * 10 <= getattr(large, field.name)
    assert small.flagship_engagements > 0


def test_it_is_deterministic():
    first = seeded_fingerprint(as_of=AS_OF)

    assert seeded_fingerprint(as_of=AS_OF) == first
    assert seeded_fingerprint(as_of=AS_OF + datetime.timedelta(days=1)) != first


def test_it_refuses_a_second_dataset():
    seeding.seed("tiny", as_of=AS_OF)

    with pytest.raises(seeding.ScaleDatasetExists, match="replace"):
        seeding.seed("tiny", as_of=AS_OF)


def test_replace_archives_the_previous_dataset_and_starts_a_new_one():
    other = factories.organization(name="Lakeside Imaging Network")
    factories.engagement(factories.vendor(other), factories.facility(other))
    seeding.seed("tiny", as_of=AS_OF)
    run_compliance(as_of=AS_OF)
    before = fingerprint()

    seeding.seed("tiny", as_of=AS_OF, replace=True)

    assert fingerprint() == before
    assert scale_counts()["engagements"] == TINY.engagements
    assert not Finding.objects.filter(organization__in=seeding.scale_organizations()).exists()
    assert Finding.objects.filter(organization=other).count() == 1  # the other organization is untouched
    assert get_user_model().objects.filter(username__startswith="scale-").count() == TINY.users


def test_every_rule_fires_in_every_organization():
    seeding.seed("tiny", as_of=AS_OF)

    run_compliance(as_of=AS_OF)

    for organization in seeding.scale_organizations():
        counts = seeding.open_findings_per_kind(organization)
        assert {kind: n for kind, n in counts.items() if n == 0} == {}, organization.name
        assert set(counts) == set(FindingKind.values)


def test_most_engagements_with_phi_are_covered():
    seeding.seed("tiny", as_of=AS_OF)

    with_phi, covered = seeding.phi_coverage(AS_OF)

    assert 0.7 <= covered / with_phi <= 0.95


def test_the_flagship_facility_engages_distinct_vendors():
    seeding.seed("tiny", as_of=AS_OF)

    facility = seeding.flagship_facility()

    assert facility.organization.name == "Scale Health 01"
    engagements = Engagement.objects.filter(facility=facility)
    assert engagements.count() == TINY.flagship_engagements
    assert engagements.values("vendor").distinct().count() == TINY.flagship_engagements


def test_the_users_sign_in_with_the_scale_password():
    seeding.seed("tiny", as_of=AS_OF)
    organization = seeding.scale_organizations().first()

    admin = seeding.scale_admin(organization)
    officer = seeding.scale_officer(organization)

    assert admin.username == "scale-admin-01"
    assert admin.check_password(seeding.SCALE_PASSWORD)
    assert officer.membership.role == Role.COMPLIANCE_OFFICER
    assert officer.membership.limited_facility_ids is None
    roles = set(seeding.scale_users(organization).values_list("membership__role", flat=True))
    assert roles == set(Role.values)
    assert not Membership.objects.filter(role=Role.AUDITOR, access_expires_on__lt=AS_OF).exists()


def test_the_rules_run_the_same_queries_whatever_the_size(monkeypatch):
    ctx = RuleContext(as_of=AS_OF, horizon_days=90)
    monkeypatch.setitem(
        seeding.SIZES,
        "double",
        dataclasses.replace(TINY, vendors=200, engagements=800, radiologists=40, licenses=600, privileges=1200),
    )
    seeding.seed("tiny", as_of=AS_OF)
    with CaptureQueriesContext(connection) as tiny:
        tiny_detections = detect_all(ctx)
    seeding.seed("double", as_of=AS_OF, replace=True)

    with CaptureQueriesContext(connection) as double:
        double_detections = detect_all(ctx)

    assert len(double) == len(tiny)
    assert len(double_detections) > len(tiny_detections) > 50


def test_the_command_seeds_and_checks(monkeypatch):
    monkeypatch.setitem(seeding.SIZES, "small", TINY)  # the command's sizes, at test speed
    out = io.StringIO()

    call_command("seed_scale", "--force", "--size", "small", "--as-of", AS_OF.isoformat(), "--check", stdout=out)

    output = out.getvalue()
    assert Organization.objects.filter(name="Scale Health 02").exists()
    assert f"{TINY.engagements:>9,} engagements" in output
    assert "Missing BAA" in output
    assert "Seeded in" in output
    assert Finding.objects.open().exists()


def test_the_command_refuses_a_second_dataset_without_replace(monkeypatch):
    monkeypatch.setitem(seeding.SIZES, "small", TINY)
    call_command("seed_scale", "--force", "--size", "small", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())

    with pytest.raises(CommandError, match="already holds a scale dataset"):
        call_command("seed_scale", "--force", "--size", "small", stdout=io.StringIO())
    call_command("seed_scale", "--force", "--size", "small", "--replace", stdout=io.StringIO())

    assert scale_counts()["organizations"] == TINY.organizations


def test_the_command_refuses_production_settings_without_force(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=false"):
        call_command("seed_scale", "--size", "small", stdout=io.StringIO())

    assert not seeding.scale_organizations().exists()
