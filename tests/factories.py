"""Shared test factories: plain functions with sensible defaults; keyword arguments override."""

from __future__ import annotations

import datetime
import functools
import io
import itertools

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

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


def password_hash() -> str:
    """PASSWORD hashed once per test session by the hasher in use (settings.PASSWORD_HASHERS).

    Hashing takes about half a second by design (PBKDF2's iterations); the suite creates thousands of
    users, so each gets this same hash instead of a fresh one. Signing in still verifies it for real.
    Some tests switch to a faster hasher: a hash is kept per list of hashers, since a hash made by
    one hasher does not verify under a list without it.
    """
    return _password_hash_by(tuple(settings.PASSWORD_HASHERS))


@functools.cache
def _password_hash_by(hashers: tuple[str, ...]) -> str:
    return make_password(PASSWORD)


def account(username: str | None = None, **kwargs):
    """A user account with no membership, whose password is PASSWORD."""
    model = get_user_model()
    username = username or f"user{next(_seq)}"
    kwargs["email"] = model.objects.normalize_email(kwargs.get("email", f"{username}@example.org"))
    return model.objects.create(username=username, password=password_hash(), **kwargs)


def user(org: Organization | None = None, role: str = Role.COMPLIANCE_OFFICER, facilities=(), **kwargs):
    """A user with a membership; ``facilities`` limits it to those facilities. Its password is PASSWORD."""
    account_ = account(kwargs.pop("username", None), **kwargs)
    if role == Role.AUDITOR:
        kwargs_membership = {"access_expires_on": days(30)}
    else:
        kwargs_membership = {}
    membership = Membership.objects.create(
        user=account_, organization=org or organization(), role=role, **kwargs_membership
    )
    if facilities:
        membership.facilities.set(facilities)
    return account_


# --- Teleradiology readers (readers app) ---------------------------------------------------------


def npi() -> str:
    """A fresh valid NPI (check digit over the 80840 prefix)."""
    from readers.npi import with_check_digit

    return with_check_digit(f"1{next(_seq):08d}")


def radiologist(vendor_obj: Vendor, **kwargs):
    """A radiologist on the vendor's roster since two years ago, board certified until in five years."""
    from readers.models import Radiologist

    kwargs.setdefault("first_name", "Ada")
    kwargs.setdefault("last_name", f"Reader{next(_seq)}")
    kwargs.setdefault("npi", npi())
    kwargs.setdefault("roster_starts_on", days(-730))
    kwargs.setdefault("board_certified_on", days(-3650))
    kwargs.setdefault("board_certification_expires_on", days(5 * 365))
    return Radiologist.objects.create(vendor=vendor_obj, **kwargs)


def state_license(radiologist_obj, state: str = "TX", **kwargs):
    """An active license of ``state``, issued three years ago, expiring in a year, verified last month."""
    from readers.models import LicenseStatus, StateLicense

    kwargs.setdefault("number", f"L{next(_seq)}")
    kwargs.setdefault("status", LicenseStatus.ACTIVE)
    kwargs.setdefault("issued_on", days(-3 * 365))
    kwargs.setdefault("expires_on", days(365))
    kwargs.setdefault("verified_on", days(-30))
    return StateLicense.objects.create(radiologist=radiologist_obj, state=state, **kwargs)


def privilege(radiologist_obj, facility_obj: Facility, **kwargs):
    """Privileges granted directly a year ago, for two years."""
    from readers.models import Privilege, PrivilegeBasis

    kwargs.setdefault("basis", PrivilegeBasis.DIRECT)
    kwargs.setdefault("granted_on", days(-365))
    kwargs.setdefault("expires_on", days(365))
    return Privilege.objects.create(radiologist=radiologist_obj, facility=facility_obj, **kwargs)


def proxy_agreement(facility_obj: Facility, vendor_obj: Vendor, *, document: bool = True, **kwargs):
    """A proxy-credentialing agreement in force for two years, with a telemedicine entity, signed copy on file."""
    from django.core.files.base import ContentFile

    from readers.models import DistantSiteKind, ProxyCredentialingAgreement

    kwargs.setdefault("distant_site_name", f"{vendor_obj.legal_name} (distant site)")
    kwargs.setdefault("distant_site_kind", DistantSiteKind.TELEMEDICINE_ENTITY)
    kwargs.setdefault("effective_on", days(-365))
    kwargs.setdefault("expires_on", days(365))
    agreement_obj = ProxyCredentialingAgreement(facility=facility_obj, vendor=vendor_obj, **kwargs)
    if document:
        agreement_obj.document.save("proxy.pdf", ContentFile(MINIMAL_PDF), save=False)
    agreement_obj.save()
    return agreement_obj


def assignment(radiologist_obj, engagement_obj: Engagement, **kwargs):
    from readers.models import ReadingAssignment

    kwargs.setdefault("starts_on", days(-365))
    return ReadingAssignment.objects.create(radiologist=radiologist_obj, engagement=engagement_obj, **kwargs)


def reader(engagement_obj: Engagement, **kwargs):
    """A radiologist of the engagement's vendor reading for it, licensed in the facility's state and
    privileged there directly: items 2 and 3 met, no reader finding."""
    person = radiologist(engagement_obj.vendor, **kwargs)
    state_license(person, engagement_obj.facility.state)
    privilege(person, engagement_obj.facility)
    assignment(person, engagement_obj)
    return person


def module_transaction():
    """The atomic block of a module's shared data (rolled back at the module's end), marked as the test
    case's own blocks are: it is not a transaction of the app, so the runs the services schedule in one
    test are not taken as already pending from the module's setup (compliance/scheduling.py)."""
    block = transaction.atomic()
    block._from_testcase = True
    return block
