"""Shared test factories: plain functions with sensible defaults; keyword arguments override."""

from __future__ import annotations

import datetime
import io
import itertools

from django.contrib.auth import get_user_model

from agreements.models import AgreementDocument, AgreementStatus, BusinessAssociateAgreement, DocumentKind
from agreements.services import document_store
from facilities.models import Facility
from organizations.models import Membership, Organization, Role
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor, VendorCategory

_seq = itertools.count(1)
TODAY = datetime.date(2026, 11, 22)
PASSWORD = "correct-horse-battery-staple-42"
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def organization(**kwargs) -> Organization:
    kwargs.setdefault("name", f"Organization {next(_seq)}")
    return Organization.objects.create(**kwargs)


def facility(org: Organization | None = None, **kwargs) -> Facility:
    kwargs.setdefault("name", f"Facility {next(_seq)}")
    kwargs.setdefault("state", "TX")
    return Facility.objects.create(organization=org or organization(), **kwargs)


def vendor(org: Organization | None = None, **kwargs) -> Vendor:
    kwargs.setdefault("legal_name", f"Vendor {next(_seq)}")
    kwargs.setdefault("category", VendorCategory.PACS)
    return Vendor.objects.create(organization=org or organization(), **kwargs)


def engagement(vendor_obj: Vendor | None = None, facility_obj: Facility | None = None, **kwargs) -> Engagement:
    """An active engagement that receives PHI since a year ago, unless told otherwise."""
    if vendor_obj is None and facility_obj is None:
        org = organization()
        vendor_obj, facility_obj = vendor(org), facility(org)
    vendor_obj = vendor_obj or vendor(facility_obj.organization)
    facility_obj = facility_obj or facility(vendor_obj.organization)
    kwargs.setdefault("service_description", "Image storage")
    kwargs.setdefault("status", EngagementStatus.ACTIVE)
    kwargs.setdefault("phi_receives", True)
    kwargs.setdefault("phi_access_starts_on", days(-365))
    return Engagement.objects.create(vendor=vendor_obj, facility=facility_obj, **kwargs)


def agreement(vendor_obj: Vendor, *, facilities: list[Facility] | None = None, signed_document: bool = True, **kwargs):
    """An executed evergreen BAA covering all facilities, signed two years ago, with its signed PDF."""
    kwargs.setdefault("title", f"BAA {next(_seq)}")
    kwargs.setdefault("status", AgreementStatus.EXECUTED)
    if kwargs["status"] in (
        AgreementStatus.EXECUTED,
        AgreementStatus.EXPIRED,
        AgreementStatus.TERMINATED,
        AgreementStatus.SUPERSEDED,
    ):
        kwargs.setdefault("executed_on", days(-730))
        kwargs.setdefault("effective_on", kwargs["executed_on"])
    if kwargs["status"] == AgreementStatus.TERMINATED:
        kwargs.setdefault("terminated_on", days(-1))
    kwargs.setdefault("breach_notification_days", 30)
    if facilities is not None:
        kwargs["covers_all_facilities"] = False
    baa = BusinessAssociateAgreement.objects.create(organization=vendor_obj.organization, vendor=vendor_obj, **kwargs)
    if facilities:
        baa.covered_facilities.set(facilities)
    if signed_document and baa.executed_on:
        signed_pdf(baa)
    return baa


def signed_pdf(baa: BusinessAssociateAgreement, content: bytes = MINIMAL_PDF) -> AgreementDocument:
    return document_store(
        agreement=baa,
        upload=io.BytesIO(content),
        original_name="signed.pdf",
        uploaded_by=None,
        kind=DocumentKind.SIGNED_AGREEMENT,
    )


def subcontractor_link(vendor_obj: Vendor, **kwargs) -> SubcontractorLink:
    sub = kwargs.pop("subcontractor", None) or vendor(vendor_obj.organization, category=VendorCategory.CLOUD_HOSTING)
    kwargs.setdefault("touches_phi", True)
    return SubcontractorLink.objects.create(vendor=vendor_obj, subcontractor=sub, **kwargs)


def user(org: Organization | None = None, role: str = Role.COMPLIANCE_OFFICER, facilities=(), **kwargs):
    """A user with a membership; ``facilities`` limits it to those facilities."""
    username = kwargs.pop("username", f"user{next(_seq)}")
    kwargs.setdefault("email", f"{username}@example.org")
    account = get_user_model().objects.create_user(username=username, password=PASSWORD, **kwargs)
    if role == Role.AUDITOR:
        kwargs_membership = {"access_expires_on": days(30)}
    else:
        kwargs_membership = {}
    membership = Membership.objects.create(
        user=account, organization=org or organization(), role=role, **kwargs_membership
    )
    if facilities:
        membership.facilities.set(facilities)
    return account
