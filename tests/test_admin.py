"""The Django admin on the demo data: every page answers, BAAs are never deleted, engine-owned and
integrity-protected records are read-only, and saves go through the services."""

from __future__ import annotations

import datetime
import io

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from agreements.models import AgreementDocument, BusinessAssociateAgreement
from agreements.services import agreement_save
from checklists.models import ChecklistItem, ItemStatus, TeleradiologyChecklist
from compliance.models import AssessmentOutcome, Finding
from compliance.services import breach_risk_assessment_record
from organizations.admin import HistoryAdmin
from organizations.models import AccessAction, AccessLogEntry
from vendors.models import Engagement, Vendor

pytestmark = pytest.mark.django_db

#: The models of the apps whose admin this file covers: each must have seeded rows to show.
OWN_APPS = {"organizations", "facilities", "vendors", "agreements", "checklists", "readers", "compliance"}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(client):
    call_command("seed_demo", "--force", stdout=io.StringIO())
    user = get_user_model().objects.get(username="admin")
    # The demo's agreements cover all facilities (no dated facility coverage) and it records no breach
    # risk assessment (its PHI-before-BAA finding stays open to be seen): one of each is recorded here,
    # through the services, for the admin to list.
    organization = user.membership.organization
    agreement_save(
        agreement=BusinessAssociateAgreement(
            organization=organization,
            vendor=Vendor.objects.filter(organization=organization).order_by("pk").first(),
            title="Draft BAA for one facility",
            covers_all_facilities=False,
        ),
        covered_facilities=[organization.facilities.order_by("pk").first()],
        actor=user,
    )
    engagement = Engagement.objects.filter(phi_access_starts_on__isnull=False).order_by("pk").first()
    breach_risk_assessment_record(
        engagement=engagement,
        period_starts_on=engagement.phi_access_starts_on,
        period_ends_on=engagement.phi_access_starts_on + datetime.timedelta(days=30),
        nature_and_extent="Worklists with names and accession numbers.",
        unauthorized_person="The vendor's support staff, bound by confidentiality.",
        acquired_or_viewed="Viewed only; no copies retained.",
        mitigation="BAA executed; the vendor attested to the return of the data.",
        outcome=AssessmentOutcome.LOW_PROBABILITY,
        assessed_on=timezone.localdate(),
        assessed_by=user,
        document=ContentFile(b"%PDF-1.4 assessment", name="assessment.pdf"),
    )
    AccessLogEntry.objects.create(
        organization=user.membership.organization,
        user=user,
        action=AccessAction.DOWNLOAD,
        object_type="agreements.agreementdocument",
        object_id=str(AgreementDocument.objects.first().pk),
        description="Sectra PACS BAA signed PDF",
        ip_address="127.0.0.1",
    )
    client.force_login(user)
    return user


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_it_registers_every_model_of_its_apps():
    from django.apps import apps

    own = {m for m in apps.get_models() if m._meta.app_label in OWN_APPS and not m.__name__.startswith("Historical")}

    assert own - set(admin.site._registry) == set()


def test_it_shows_every_changelist(client, superuser, django_assert_max_num_queries):
    for model, _ in registered():
        with django_assert_max_num_queries(15, info=model._meta.label):
            response = client.get(url(model, "changelist"))
        assert response.status_code == 200, model._meta.label
        if model._meta.app_label in OWN_APPS:
            assert response.context["cl"].result_count > 0, model._meta.label


def test_it_shows_every_change_page(client, superuser):
    shown = set()
    for model, _ in registered():
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            assert model._meta.app_label not in OWN_APPS, f"no seeded {model._meta.label} to show"
            continue
        response = client.get(url(model, "change", obj.pk))
        assert response.status_code == 200, model._meta.label
        shown.add(model._meta.app_label)
    assert shown >= OWN_APPS


def test_it_shows_the_history_of_every_model_that_has_one(client, superuser):
    with_history = [model for model, model_admin in registered() if isinstance(model_admin, HistoryAdmin)]

    assert len(with_history) >= 10
    for model in with_history:
        obj = model._default_manager.order_by("pk").first()
        response = client.get(url(model, "history", obj.pk))
        assert response.status_code == 200, model._meta.label


def test_it_never_deletes_a_baa(client, superuser):
    baa = BusinessAssociateAgreement.objects.get(title="Merge PACS BAA 2011")

    page = client.get(url(BusinessAssociateAgreement, "delete", baa.pk))
    action = client.post(
        url(BusinessAssociateAgreement, "changelist"),
        {"action": "delete_selected", "_selected_action": [baa.pk], "post": "yes"},
    )
    changelist = client.get(url(BusinessAssociateAgreement, "changelist"))

    assert page.status_code == 403
    assert BusinessAssociateAgreement.objects.filter(pk=baa.pk).exists()
    assert action.status_code in (200, 302)
    actions = [name for name, _ in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "archive_selected" in actions
    change_page = client.get(url(BusinessAssociateAgreement, "change", baa.pk)).content.decode()
    assert url(BusinessAssociateAgreement, "delete", baa.pk) not in change_page


def test_it_archives_a_superseded_baa_instead(client, superuser):
    old = BusinessAssociateAgreement.objects.get(title="Sectra PACS BAA")
    in_force = BusinessAssociateAgreement.objects.get(title="Intelerad BAA")

    client.post(
        url(BusinessAssociateAgreement, "changelist"),
        {"action": "archive_selected", "_selected_action": [old.pk, in_force.pk]},
    )

    old.refresh_from_db()
    in_force.refresh_from_db()
    assert old.archived_at is not None
    assert in_force.archived_at is None  # executed: terminate or supersede it first


def test_it_shows_documents_in_their_agreement_with_a_read_only_sha256(client, superuser):
    baa = BusinessAssociateAgreement.objects.get(title="Aidoc BAA")
    document = baa.documents.get()

    content = client.get(url(BusinessAssociateAgreement, "change", baa.pk)).content.decode()

    assert document.sha256 in content
    assert 'name="documents-0-sha256"' not in content
    assert client.get(url(AgreementDocument, "add")).status_code == 403
    assert client.post(url(AgreementDocument, "delete", document.pk), {"post": "yes"}).status_code == 403


def test_it_keeps_findings_read_only(client, superuser):
    finding = Finding.objects.open().first()

    page = client.get(url(Finding, "change", finding.pk))
    post = client.post(url(Finding, "change", finding.pk), {"explanation": "edited", "severity": "low"})

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert post.status_code == 403
    assert client.get(url(Finding, "add")).status_code == 403
    finding.refresh_from_db()
    assert finding.explanation != "edited"


def test_it_refuses_to_revert_a_baa_to_an_old_version(client, superuser):
    baa = BusinessAssociateAgreement.objects.get(title="Sectra PACS BAA")
    first_version = baa.history.earliest()

    response = client.post(url(BusinessAssociateAgreement, "simple_history", baa.pk, first_version.history_id), {})

    assert response.status_code == 403
    baa.refresh_from_db()
    assert baa.status == "superseded"


def test_it_refuses_a_complete_checklist_item_without_its_verifier(client, superuser):
    item = ChecklistItem.objects.get(checklist__engagement__vendor__legal_name__startswith="vRad", number=5)

    response = client.post(url(ChecklistItem, "change", item.pk), {"status": ItemStatus.COMPLETE})

    assert response.status_code == 200
    assert "A complete item needs who verified it and when." in response.content.decode()
    item.refresh_from_db()
    assert item.status == ItemStatus.NOT_STARTED


def test_it_records_a_checklist_item_through_the_service(client, superuser):
    item = ChecklistItem.objects.get(checklist__engagement__vendor__legal_name__startswith="vRad", number=5)
    today = timezone.localdate()

    response = client.post(
        url(ChecklistItem, "change", item.pk),
        {
            "status": ItemStatus.COMPLETE,
            "evidence_note": "Audit log export reviewed",
            "verified_by": superuser.pk,
            "verified_on": today.isoformat(),
            "next_review_on": (today + datetime.timedelta(days=365)).isoformat(),
            "not_applicable_reason": "",
        },
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.verified_by, item.verified_on) == (ItemStatus.COMPLETE, superuser, today)
    assert item.history.latest().history_user == superuser


def test_it_creates_the_checklist_of_a_teleradiology_engagement_saved_in_the_admin(client, superuser):
    vrad = Vendor.objects.get(legal_name__startswith="vRad")
    hospital = superuser.membership.organization.facilities.get(kind="hospital")

    response = client.post(
        url(Engagement, "add"),
        {
            "vendor": vrad.pk,
            "facility": hospital.pk,
            "service_description": "Weekend coverage",
            "status": "planned",
            "phi_receives": "on",
            "phi_access_starts_on": "",
            "ends_on": "",
            "data_location": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    engagement = Engagement.objects.get(vendor=vrad, facility=hospital)
    assert TeleradiologyChecklist.objects.get(engagement=engagement).items.count() == 7


def test_it_refuses_phi_access_for_a_conduit_as_a_form_error(client, superuser):
    isp = Vendor.objects.get(is_conduit=True)
    hospital = superuser.membership.organization.facilities.get(kind="hospital")

    response = client.post(
        url(Engagement, "add"),
        {
            "vendor": isp.pk,
            "facility": hospital.pk,
            "service_description": "Managed firewall with packet inspection",
            "status": "planned",
            "phi_receives": "on",
        },
    )

    assert response.status_code == 200
    assert "mere conduit" in response.content.decode()
    assert not Engagement.objects.filter(service_description__startswith="Managed firewall").exists()
