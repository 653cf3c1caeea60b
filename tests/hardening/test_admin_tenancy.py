"""#15 item 1: the admin is for superusers only, and its saves go through the services.

A staff user of one organization with every model permission must see nothing of another
organization and change nothing; a superuser's agreement saved in the admin cannot cross the tenant
boundary (agreements.services.agreement_save refuses it, as a form error)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from agreements.models import BusinessAssociateAgreement
from organizations.models import Role
from tests import factories
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def two_organizations():
    org_a, org_b = factories.organization(), factories.organization()
    vendor_b = factories.vendor(org_b, legal_name="Other Org PACS Inc.")
    return org_a, org_b, vendor_b


def test_it_refuses_a_staff_viewer_with_model_permissions(client, two_organizations):
    org_a, _, vendor_b = two_organizations
    staff = factories.user(org_a, role=Role.VIEWER, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["vendors", "agreements"]))
    client.force_login(staff)

    index = client.get(reverse("admin:index"))
    changelist = client.get(admin_url(Vendor, "changelist"))
    change = client.post(
        admin_url(Vendor, "change", vendor_b.pk),
        {"legal_name": "Renamed by another tenant", "organization": vendor_b.organization_id, "category": "pacs"},
    )

    assert index.status_code == 302 and "/admin/login/" in index["Location"]
    assert changelist.status_code == 302
    assert b"Other Org PACS" not in changelist.content
    assert change.status_code == 302
    vendor_b.refresh_from_db()
    assert vendor_b.legal_name == "Other Org PACS Inc."


def test_it_says_on_its_pages_that_it_is_for_superusers_only(client, two_organizations):
    client.force_login(factories.user(two_organizations[0], role=Role.ADMIN, is_staff=True, is_superuser=True))

    page = client.get(reverse("admin:index")).content.decode()

    assert "superusers only" in page


def test_an_admin_save_cannot_attach_another_organizations_vendor(client, two_organizations):
    org_a, _, vendor_b = two_organizations
    client.force_login(factories.user(org_a, role=Role.ADMIN, is_staff=True, is_superuser=True))

    response = client.post(
        admin_url(BusinessAssociateAgreement, "add"),
        {
            "organization": org_a.pk,
            "vendor": vendor_b.pk,
            "title": "Cross-tenant BAA",
            "status": "draft",
            "covers_all_facilities": "on",
            "documents-TOTAL_FORMS": "0",
            "documents-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "The vendor belongs to another organization." in response.content.decode()
    assert not BusinessAssociateAgreement.objects.filter(title="Cross-tenant BAA").exists()


def test_an_admin_save_cannot_cover_another_organizations_facility(client, two_organizations):
    org_a, org_b, _ = two_organizations
    vendor_a = factories.vendor(org_a)
    client.force_login(factories.user(org_a, role=Role.ADMIN, is_staff=True, is_superuser=True))

    response = client.post(
        admin_url(BusinessAssociateAgreement, "add"),
        {
            "organization": org_a.pk,
            "vendor": vendor_a.pk,
            "title": "Cross-tenant coverage",
            "status": "draft",
            "covered_facilities": [factories.facility(org_b).pk],
            "documents-TOTAL_FORMS": "0",
            "documents-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "A covered facility belongs to another organization." in response.content.decode()
    assert not BusinessAssociateAgreement.objects.filter(title="Cross-tenant coverage").exists()
