"""#15 item 5: nothing a BAA, a finding or an audit report refers to is hard-deleted (45 CFR
164.316(b)(2): six years). Not in the admin, not by ``seed_scale --replace``; checklist evidence is
never detached, and a new upload keeps the old file as an earlier version, in the history."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.deletion import ProtectedError
from django.urls import reverse

from agreements.models import BusinessAssociateAgreement
from checklists.models import ChecklistItem, ItemStatus
from checklists.services import checklist_ensure, checklist_item_update
from facilities.models import Facility
from organizations.models import Membership, Organization, Role
from scale import seeding
from tests import factories as f
from vendors.models import Engagement, SubcontractorLink, Vendor, VendorCategory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_the_admin_deletes_nothing(client):
    org = f.organization()
    facility = f.facility(org)
    vendor = f.vendor(org)
    f.agreement(vendor, facilities=[facility])
    engagement = f.engagement(vendor, facility)
    link = f.subcontractor_link(vendor)
    superuser = f.user(org, role=Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(superuser)
    records = [org, facility, vendor, engagement, link, superuser.membership, superuser]

    for record in records:
        model = type(record)
        page = client.get(admin_url(model, "delete", record.pk))
        post = client.post(admin_url(model, "delete", record.pk), {"post": "yes"})
        bulk = client.post(
            admin_url(model, "changelist"),
            {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
        )
        changelist = client.get(admin_url(model, "changelist"))
        action_form = changelist.context["action_form"]
        actions = [name for name, _ in action_form.fields["action"].choices] if action_form else []

        assert (page.status_code, post.status_code) == (403, 403), model._meta.label
        assert bulk.status_code in (200, 302)
        assert "delete_selected" not in actions, model._meta.label
        assert model._default_manager.filter(pk=record.pk).exists(), model._meta.label
    assert BusinessAssociateAgreement.objects.get(vendor=vendor).covered_facilities.get() == facility


def test_checklist_items_are_protected_at_the_database_level():
    engagement = f.engagement(f.vendor(category=VendorCategory.TELERADIOLOGY))
    checklist = checklist_ensure(engagement=engagement)

    with pytest.raises(ProtectedError):
        checklist.delete()

    assert ChecklistItem.objects.filter(checklist=checklist).count() == 7


@pytest.fixture
def item_with_evidence(client):
    engagement = f.engagement(f.vendor(category=VendorCategory.TELERADIOLOGY))
    officer = f.user(engagement.facility.organization, role=Role.COMPLIANCE_OFFICER)
    item = checklist_ensure(engagement=engagement).items.get(number=5)
    checklist_item_update(
        item=item,
        status=ItemStatus.IN_PROGRESS,
        evidence_note="First export",
        evidence_file=SimpleUploadedFile("audit-log-v1.pdf", f.MINIMAL_PDF),
    )
    client.force_login(officer)
    return item


def _post_item(client, item, **extra):
    data = {"status": ItemStatus.IN_PROGRESS, "evidence_note": "Second export", **extra}
    return client.post(reverse("checklists:item_update", args=[item.pk]), data)


def test_evidence_cannot_be_detached(client, item_with_evidence):
    item = item_with_evidence
    original = item.evidence_file.name

    form = client.get(reverse("checklists:item_update", args=[item.pk])).content.decode()
    response = _post_item(client, item, **{"evidence_file-clear": "on"})

    assert 'name="evidence_file-clear"' not in form
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.evidence_file.name == original


def test_the_service_refuses_to_detach_evidence(item_with_evidence):
    item = item_with_evidence
    item.evidence_file = ""

    with pytest.raises(Exception, match="Evidence is kept"):
        checklist_item_update(item=item, status=ItemStatus.IN_PROGRESS, evidence_note="x")


def test_a_new_upload_keeps_the_old_file_as_an_earlier_version(client, item_with_evidence):
    item = item_with_evidence
    first = item.evidence_file.name

    response = _post_item(client, item, evidence_file=SimpleUploadedFile("audit-log-v2.pdf", f.MINIMAL_PDF + b"% v2\n"))

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.evidence_file.name != first
    assert item.evidence_file.storage.exists(first)
    assert first in set(item.history.values_list("evidence_file", flat=True))
    page = client.get(reverse("checklists:item_update", args=[item.pk])).content.decode()
    earlier = item.history.filter(evidence_file=first).order_by("history_id").first()
    url = reverse("checklists:evidence_version_download", args=[item.pk, earlier.history_id])
    assert url in page
    download = client.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == f.MINIMAL_PDF


def test_seed_scale_replace_archives_the_previous_dataset_instead_of_deleting_it():
    seeding.seed("tiny", as_of=f.TODAY)
    agreements = BusinessAssociateAgreement.objects.count()
    first_names = set(seeding.scale_organizations().values_list("name", flat=True))

    seeding.seed("tiny", as_of=f.TODAY, replace=True)

    assert BusinessAssociateAgreement.objects.count() == 2 * agreements  # the old ones are kept
    assert set(seeding.scale_organizations().values_list("name", flat=True)) == first_names  # new ones
    archived = Organization.objects.exclude(name__in=first_names)
    assert archived.count() == len(first_names)
    assert all(name.startswith("Archived ") for name in archived.values_list("name", flat=True))
    old_users = get_user_model().objects.filter(membership__organization__in=archived)
    assert old_users.exists() and not old_users.filter(is_active=True).exists()
    for model in (Facility, Vendor, Engagement, SubcontractorLink, Membership):
        assert model.objects.exists()
