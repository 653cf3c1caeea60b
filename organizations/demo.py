"""The demo dataset of ``manage.py seed_demo``: one imaging network, its vendors and their BAAs.

Mostly compliant, with at least one case of every rule in compliance/rules.py, so that a first
look at the product shows each kind of finding. Every date is relative to the day the command runs
(except the 2011 pre-Omnibus agreement, which the rule needs to be dated before 2013-09-23), so the
demo tells the same story whenever it is seeded. Names of people, of the network and of the billing
firm are fictional; contact addresses are on example.com / example.org.

Writes go through the services (vendor_save, engagement_save, subcontractor_link_save, the agreement
lifecycle, document_store, checklist_item_update) so the demo data obeys the same rules as real data.
"""

from __future__ import annotations

import datetime
import io
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from agreements.models import AgreementStatus, BusinessAssociateAgreement, DocumentKind
from agreements.services import (
    agreement_execute,
    agreement_renew,
    agreement_terminate,
    agreement_transition,
    document_store,
)
from checklists.models import COMPUTED_ITEM_NUMBERS, ItemStatus
from checklists.services import checklist_item_update
from facilities.models import Facility, FacilityKind
from organizations.models import Membership, Organization, Role
from readers.models import (
    DistantSiteKind,
    ImlcLetter,
    Privilege,
    PrivilegeBasis,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
    VerificationSource,
)
from readers.npi import with_check_digit
from readers.services import (
    imlc_letter_save,
    privilege_save,
    proxy_agreement_save,
    radiologist_save,
    reading_assignment_save,
    state_license_save,
)
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor, VendorCategory
from vendors.services import engagement_save, subcontractor_link_save, vendor_save

ORGANIZATION_NAME = "Lakeside Imaging Network"
DEFAULT_PASSWORD = "tracker-demo-2026"
PASSWORD_ENV = "DEMO_PASSWORD"
#: An auditor's access ends this many days after seeding (an auditor always has an end date).
AUDITOR_ACCESS_DAYS = 30
CE_SIGNATORY = "Dana Whitfield, Director of Imaging Services"


# --- The dataset ------------------------------------------------------------------------------

# key: (name, kind, state, city)
FACILITIES: dict[str, tuple[str, str, str, str]] = {
    "hospital": ("Lakeside Regional Medical Center - Radiology", FacilityKind.HOSPITAL, "WI", "Milwaukee"),
    "naperville": ("Lakeside Imaging Center - Naperville", FacilityKind.IMAGING_CENTER, "IL", "Naperville"),
    "ann_arbor": ("Lakeside Imaging Center - Ann Arbor", FacilityKind.IMAGING_CENTER, "MI", "Ann Arbor"),
    "cah": ("Northwoods Community Hospital", FacilityKind.CRITICAL_ACCESS_HOSPITAL, "MN", "Ely"),
    "reading": ("Lakeside Radiology Associates", FacilityKind.READING_GROUP, "IN", "Indianapolis"),
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    title: str
    facilities: tuple[str, ...] = ()
    superuser: bool = False

    @property
    def email(self) -> str:
        local = unicodedata.normalize("NFKD", f"{self.first_name}.{self.last_name}").encode("ascii", "ignore").decode()
        return f"{local.lower()}@lakeside-imaging.example.org"


USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Dana", "Whitfield", Role.ADMIN, "Director of Imaging Services", superuser=True),
    DemoUser("officer", "Marcus", "Oyelaran", Role.COMPLIANCE_OFFICER, "Privacy and Compliance Officer"),
    DemoUser(
        "officer2",
        "Priya",
        "Venkataraman",
        Role.COMPLIANCE_OFFICER,
        "Outpatient compliance lead (Naperville and Ann Arbor only)",
        facilities=("naperville", "ann_arbor"),
    ),
    DemoUser("viewer", "Tomás", "Lindqvist", Role.VIEWER, "PACS administrator"),
    DemoUser("auditor", "Eleanor", "Brandt", Role.AUDITOR, "External HIPAA auditor"),
)


@dataclass(frozen=True)
class DemoVendor:
    legal_name: str
    category: str
    contact_name: str = ""
    domain: str = ""
    notes: str = ""
    is_conduit: bool = False

    @property
    def contact_email(self) -> str:
        if not self.contact_name:
            return ""
        first, last = self.contact_name.lower().split()[0], self.contact_name.lower().split()[-1]
        return f"{first}.{last}@{self.domain}.example.com"


VENDORS: dict[str, DemoVendor] = {
    # PACS
    "sectra": DemoVendor("Sectra Inc.", VendorCategory.PACS, "Jordan Ellsworth", "sectra"),
    "intelerad": DemoVendor("Intelerad Medical Systems", VendorCategory.PACS, "Camille Arseneault", "intelerad"),
    "ambra": DemoVendor("Ambra Health", VendorCategory.PACS, "Noah Pritchard", "ambra"),
    "merge": DemoVendor(
        "Merge Healthcare",
        VendorCategory.PACS,
        "Linda Okafor",
        "merge",
        notes="Legacy archive kept read-only for studies before the 2019 Sectra migration.",
    ),
    # Teleradiology
    "nighthawk": DemoVendor("NightHawk Radiology", VendorCategory.TELERADIOLOGY, "Grant Sorensen", "nighthawk"),
    "vrad": DemoVendor("vRad (Virtual Radiologic)", VendorCategory.TELERADIOLOGY, "Maya Castellanos", "vrad"),
    "statrad": DemoVendor("StatRad", VendorCategory.TELERADIOLOGY, "Owen Fairbanks", "statrad"),
    # AI diagnostic software
    "aidoc": DemoVendor("Aidoc", VendorCategory.AI_DIAGNOSTIC, "Talia Brenner", "aidoc"),
    "nuance": DemoVendor("Nuance AI", VendorCategory.AI_DIAGNOSTIC, "Russell Haney", "nuance"),
    "enlitic": DemoVendor(
        "Enlitic",
        VendorCategory.AI_DIAGNOSTIC,
        "Sofia Marchetti",
        "enlitic",
        notes="Pilot started by the reading group; procurement never sent the BAA.",
    ),
    "viz": DemoVendor("Viz.ai", VendorCategory.AI_DIAGNOSTIC, "Derek Lam", "viz"),
    # Cloud
    "aws": DemoVendor(
        "Amazon Web Services, Inc.",
        VendorCategory.CLOUD_HOSTING,
        notes="Enterprise account; BAA accepted through AWS Artifact.",
    ),
    "azure": DemoVendor("Microsoft Azure", VendorCategory.CLOUD_HOSTING, notes="Hosts the Sectra cloud archive."),
    "gcp": DemoVendor("Google Cloud Platform", VendorCategory.CLOUD_HOSTING, notes="Hosts the Ambra cloud archive."),
    "lifeimage": DemoVendor("Lifeimage", VendorCategory.CLOUD_DICOM_STORAGE, "Hannah Kowalczyk", "lifeimage"),
    # RIS
    "cerner": DemoVendor("Cerner RadNet", VendorCategory.RIS, "Victor Almeida", "cerner"),
    "fujifilm": DemoVendor("Fujifilm Synapse RIS", VendorCategory.RIS, "Keiko Brandon", "fujifilm"),
    "philips": DemoVendor(
        "Philips Radiology Information System",
        VendorCategory.RIS,
        "Pieter Van Dijk",
        "philips",
        notes="Holds the Northwoods radiology records since 2019; the BAA was only signed in the 2022 contract review.",
    ),
    # Billing, portal, conduit
    "meridian": DemoVendor(
        "Meridian Radiology Billing LLC",
        VendorCategory.BILLING,
        "Carla Jennings",
        "meridian-billing",
        notes="Their paper allows 90 days to report a breach; renegotiation requested.",
    ),
    "portal": DemoVendor(
        "ReferLink Physician Portal, Inc.", VendorCategory.REFERRING_PORTAL, "Ben Abernathy", "referlink"
    ),
    "isp": DemoVendor(
        "Great Lakes Fiber Networks",
        VendorCategory.NETWORK_CARRIER,
        "Ida Rasmussen",
        "greatlakesfiber",
        notes="Carries encrypted traffic between sites without access to it: a mere conduit, no BAA needed.",
        is_conduit=True,
    ),
}

ALL_VERBS = ("creates", "receives", "maintains", "transmits")


@dataclass(frozen=True)
class DemoEngagement:
    vendor: str
    facility: str
    service: str
    verbs: tuple[str, ...]
    phi_since: int | datetime.date | None  # days from today, or a fixed date
    status: str = EngagementStatus.ACTIVE
    data_location: str = ""


ENGAGEMENTS: tuple[DemoEngagement, ...] = (
    DemoEngagement(
        "sectra", "hospital", "Enterprise PACS and cloud archive", ALL_VERBS, -7 * 365, data_location="Azure East US 2"
    ),
    DemoEngagement("sectra", "reading", "Diagnostic reading workstations", ("receives", "transmits"), -7 * 365),
    DemoEngagement("intelerad", "naperville", "Outpatient PACS", ALL_VERBS, -4 * 365, data_location="AWS us-east-2"),
    DemoEngagement("intelerad", "ann_arbor", "Outpatient PACS", ALL_VERBS, -4 * 365, data_location="AWS us-east-2"),
    DemoEngagement(
        "ambra", "cah", "Cloud PACS archive and image sharing", ("receives", "maintains", "transmits"), -3 * 365
    ),
    DemoEngagement(
        "merge", "hospital", "Legacy PACS archive (studies before 2019)", ("maintains",), datetime.date(2011, 8, 1)
    ),
    DemoEngagement("nighthawk", "hospital", "Overnight preliminary reads", ALL_VERBS, -2 * 365),
    DemoEngagement("vrad", "cah", "Overnight and weekend preliminary reads", ALL_VERBS, -200),
    DemoEngagement("statrad", "naperville", "Subspecialty overflow reads (MSK, neuro)", ALL_VERBS, -550),
    DemoEngagement("aidoc", "hospital", "Intracranial hemorrhage and PE triage", ("receives", "creates"), -3 * 365),
    DemoEngagement("aidoc", "reading", "Worklist prioritization", ("receives", "creates"), -3 * 365),
    DemoEngagement("viz", "hospital", "Stroke triage (LVO)", ("receives", "transmits"), -2 * 365),
    DemoEngagement("viz", "cah", "Stroke triage (LVO) with transfer-center alerts", ("receives", "transmits"), -400),
    DemoEngagement("nuance", "reading", "AI findings in PowerScribe reports", ("receives", "creates"), -3 * 365),
    DemoEngagement("enlitic", "reading", "Pilot: DICOM header standardization", ("receives", "maintains"), -75),
    DemoEngagement(
        "aws",
        "hospital",
        "Offsite disaster-recovery copy of the DICOM archive",
        ("maintains",),
        -5 * 365,
        data_location="AWS us-east-2 (S3 Glacier)",
    ),
    DemoEngagement("lifeimage", "naperville", "Cloud DICOM exchange for outside studies", ALL_VERBS, -600),
    DemoEngagement("lifeimage", "ann_arbor", "Cloud DICOM exchange for outside studies", ALL_VERBS, -600),
    DemoEngagement("cerner", "hospital", "Hospital RIS: orders, scheduling and reports", ALL_VERBS, -8 * 365),
    DemoEngagement("fujifilm", "naperville", "Outpatient RIS: scheduling and reporting", ALL_VERBS, -4 * 365),
    DemoEngagement("fujifilm", "ann_arbor", "Outpatient RIS: scheduling and reporting", ALL_VERBS, -4 * 365),
    DemoEngagement("philips", "cah", "RIS and radiology records", ALL_VERBS, -7 * 365),
    DemoEngagement("meridian", "naperville", "Professional and technical billing", ("receives", "transmits"), -3 * 365),
    DemoEngagement("meridian", "ann_arbor", "Professional and technical billing", ("receives", "transmits"), -3 * 365),
    DemoEngagement("meridian", "cah", "Professional and technical billing", ("receives", "transmits"), -3 * 365),
    DemoEngagement("portal", "naperville", "Referring-physician results portal", ("maintains", "transmits"), -900),
    DemoEngagement("portal", "ann_arbor", "Referring-physician results portal", ("maintains", "transmits"), -900),
    DemoEngagement("isp", "hospital", "Site-to-site fiber WAN (encrypted)", (), None),
    DemoEngagement("isp", "naperville", "Site-to-site fiber WAN (encrypted)", (), None),
    DemoEngagement("isp", "ann_arbor", "Site-to-site fiber WAN (encrypted)", (), None),
)


@dataclass(frozen=True)
class DemoLink:
    vendor: str
    subcontractor: str
    service: str
    attested_days_ago: int | None
    evidence: str = ""


SUBCONTRACTORS: tuple[DemoLink, ...] = (
    DemoLink(
        "sectra",
        "azure",
        "Hosting of the cloud archive",
        400,
        "Written assurance from Sectra that a BAA binds Microsoft for the archive tenant.",
    ),
    DemoLink(
        "intelerad",
        "aws",
        "Hosting of the outpatient PACS cloud components",
        300,
        "Intelerad's subcontractor list with the AWS BAA reference, attached to the 2024 security review.",
    ),
    # The gap: asked for at contracting, never received (45 CFR 164.502(e)(1)(ii)).
    DemoLink("ambra", "gcp", "Object storage for the cloud archive", None),
)


@dataclass(frozen=True)
class DemoAgreement:
    """``executed`` and ``expires`` are days from today (or a fixed date); None leaves it empty."""

    key: str
    vendor: str
    title: str
    executed: int | datetime.date
    expires: int | None = None
    effective: int | datetime.date | None = None
    breach_days: int | None = 30
    covers: tuple[str, ...] = ()  # empty: every facility of the organization
    auto_renews: bool = False
    renewal_term_months: int | None = None
    renewal_notice_days: int | None = None
    amended: int | datetime.date | None = None
    signed_document: bool = True
    notes: str = ""


AGREEMENTS: tuple[DemoAgreement, ...] = (
    # Compliant: executed before PHI access, in force, signed PDF on file.
    DemoAgreement("sectra", "sectra", "Sectra PACS BAA", -7 * 365 - 30, expires=40, breach_days=10),
    DemoAgreement("intelerad", "intelerad", "Intelerad BAA", -4 * 365 - 20, breach_days=15),
    DemoAgreement("ambra", "ambra", "Ambra Health BAA", -3 * 365 - 10, breach_days=30, covers=("cah",)),
    DemoAgreement(
        "nighthawk",
        "nighthawk",
        "NightHawk teleradiology BAA",
        -2 * 365 - 21,
        expires=400,
        auto_renews=True,
        renewal_term_months=24,
        renewal_notice_days=90,
        breach_days=5,
    ),
    DemoAgreement("vrad", "vrad", "vRad teleradiology BAA", -230, breach_days=10, covers=("cah",)),
    DemoAgreement("statrad", "statrad", "StatRad teleradiology BAA", -580, breach_days=10, covers=("naperville",)),
    # Rule 4b, PHI without a BAA in the past: Aidoc's first BAA expired 400 days ago and its renewal
    # was signed only 70 days later, while the triage tools kept reading studies (below).
    DemoAgreement("aidoc", "aidoc", "Aidoc BAA 2023", -3 * 365 - 45, expires=-400, breach_days=30),
    # Rule 3c, a gap ahead: Viz.ai's renewal is signed but takes effect a week after this one expires.
    DemoAgreement("viz", "viz", "Viz.ai BAA", -2 * 365 - 30, expires=60, breach_days=30),
    DemoAgreement("aws", "aws", "AWS Business Associate Addendum", -5 * 365 - 15, breach_days=60),
    DemoAgreement(
        "cerner",
        "cerner",
        "Cerner RadNet BAA",
        datetime.date(2012, 5, 14),
        amended=datetime.date(2014, 3, 3),
        breach_days=30,
        notes="Signed before the Omnibus rule; amended in 2014 to add the 2013 provisions.",
    ),
    # Rule 3b, terminating: the portal is being replaced; its BAA ends on a date ahead (below).
    DemoAgreement("portal", "portal", "ReferLink portal BAA", -920, breach_days=20, covers=("naperville", "ann_arbor")),
    # Rule 3, expiring: no successor.
    DemoAgreement("nuance", "nuance", "Nuance AI BAA", -3 * 365 - 60, expires=45, breach_days=30),
    # Rule 2, lapsed: expired 40 days ago, PHI still flows (a renewal is stuck in negotiation).
    DemoAgreement(
        "fujifilm",
        "fujifilm",
        "Fujifilm RIS BAA",
        -4 * 365 - 30,
        expires=-40,
        breach_days=30,
        covers=("naperville", "ann_arbor"),
    ),
    # Rule 4, PHI before the BAA: the records system was used for years before signing.
    DemoAgreement("philips", "philips", "Philips RIS BAA", -4 * 365, breach_days=30, covers=("cah",)),
    # Rule 5, executed but no signed document on file.
    DemoAgreement(
        "lifeimage",
        "lifeimage",
        "Lifeimage BAA",
        -620,
        breach_days=30,
        covers=("naperville", "ann_arbor"),
        signed_document=False,
        notes="Signed through the vendor's click-through portal; the countersigned PDF was never filed.",
    ),
    # Rule 6, breach-notification window of 90 days.
    DemoAgreement("meridian", "meridian", "Meridian billing services BAA", -3 * 365 - 30, breach_days=90),
    # Rule 7, pre-Omnibus BAA from 2011, never amended.
    DemoAgreement(
        "merge",
        "merge",
        "Merge PACS BAA 2011",
        datetime.date(2011, 6, 15),
        breach_days=None,
        notes="The original 2011 agreement; no amendment for the 2013 Omnibus rule is on file.",
    ),
)


@dataclass(frozen=True)
class DemoChecklist:
    """Items 4-7 of a teleradiology engagement's checklist: number -> (status, note, verified, next review).
    Items 1 to 3 are computed (from the BAAs, and from READERS)."""

    vendor: str
    facility: str
    items: dict[int, tuple[str, str, int | None, int | None]] = field(default_factory=dict)


_COMPLETE = ItemStatus.COMPLETE
CHECKLISTS: tuple[DemoChecklist, ...] = (
    # Fully complete, with evidence.
    DemoChecklist(
        "nighthawk",
        "hospital",
        {
            4: (_COMPLETE, "TLS 1.2+ VPN to the PACS; named accounts with MFA, no shared logins.", -45, 320),
            5: (
                _COMPLETE,
                "PACS audit log covers study access; critical results relayed by phone and logged.",
                -45,
                320,
            ),
            6: (_COMPLETE, "Incident-response plan reviewed; vendor reports within 5 days per the BAA.", -45, 320),
            7: (_COMPLETE, "Reads happen in our Sectra PACS under the 'Teleradiologist' role IT controls.", -45, 320),
        },
    ),
    # Incomplete: the vendor was onboarded before the safeguards were verified.
    DemoChecklist(
        "vrad",
        "cah",
        {
            4: (ItemStatus.IN_PROGRESS, "Waiting for the vendor's VPN and MFA configuration summary.", None, None),
        },
    ),
    # Complete, but the access-control review is overdue.
    DemoChecklist(
        "statrad",
        "naperville",
        {
            4: (_COMPLETE, "Site-to-site VPN; unique accounts per radiologist.", -377, -12),
            5: (
                _COMPLETE,
                "Study access audited in the PACS; critical results called to the ordering office.",
                -377,
                353,
            ),
            6: (_COMPLETE, "Incident-response contacts exchanged; BAA requires notice within 10 days.", -377, 353),
            7: (_COMPLETE, "Reads in our Intelerad PACS with IT-assigned roles.", -377, 353),
        },
    ),
)


@dataclass(frozen=True)
class DemoReader:
    """A reading radiologist: (vendor, facility) they read for, their licenses (state, expires in days,
    verified days ago), privileges there (basis, expires in days) and an IMLC letter's principal state."""

    vendor: str
    facility: str
    first_name: str
    last_name: str
    npi_prefix: str
    licenses: tuple[tuple[str, int, int], ...]
    privilege: tuple[str, int] | None
    imlc_state: str = ""
    board_expires: int = 3 * 365


#: Items 2 and 3 in context: NightHawk's readers are licensed in Wisconsin and privileged by proxy
#: under an agreement in force (met); vRad's proxy agreement with the critical access hospital has
#: expired and one reader holds only a North Dakota license with an IMLC letter (rules R4 and R1);
#: StatRad's reader has an Illinois license expiring soon, not re-verified for over a year (R2a, R5),
#: and its second reader has no privileges at the imaging center yet (R3).
READERS: tuple[DemoReader, ...] = (
    DemoReader(
        "nighthawk", "hospital", "Priya", "Raman", "164820001", (("WI", 400, 30), ("IL", 500, 30)), ("proxy", 500)
    ),
    # Board certification and privileges up for renewal within the horizon (R2b, R2c).
    DemoReader(
        "nighthawk", "hospital", "Tomas", "Lindqvist", "164820002", (("WI", 300, 60),), ("proxy", 50), board_expires=60
    ),
    DemoReader("vrad", "cah", "Helen", "Okafor", "164820003", (("MN", 600, 90),), ("proxy", 400)),
    DemoReader("vrad", "cah", "Daniel", "Brook", "164820004", (("ND", 700, 20),), ("proxy", 400), imlc_state="ND"),
    DemoReader("statrad", "naperville", "Elena", "Marsh", "164820005", (("IL", 45, 400),), ("direct", 300)),
    # Reads for the imaging center before the medical director granted privileges (R3).
    DemoReader("statrad", "naperville", "Samuel", "Ortiz", "164820006", (("IL", 500, 30),), None),
)
#: Proxy credentialing agreements: (vendor, facility, distant site, effective days ago, expires in days).
PROXY_AGREEMENTS: tuple[tuple[str, str, str, int, int], ...] = (
    ("nighthawk", "hospital", "NightHawk Radiology (telemedicine entity)", -400, 330),
    ("vrad", "cah", "vRad (telemedicine entity)", -800, -15),
)


def _seed_readers(vendors, facilities, engagements, officer, day) -> int:
    for vendor_key, facility_key, site, effective, expires in PROXY_AGREEMENTS:
        agreement = ProxyCredentialingAgreement(
            facility=facilities[facility_key],
            vendor=vendors[vendor_key],
            distant_site_name=site,
            distant_site_kind=DistantSiteKind.TELEMEDICINE_ENTITY,
            effective_on=day(effective),
            expires_on=day(expires),
            last_feedback_on=day(-60),
        )
        agreement.document.save(
            f"proxy-{vendor_key}-{facility_key}.pdf",
            ContentFile(demo_pdf([f"Proxy credentialing agreement - {site}", "42 CFR 482.22(a)(3)-(4)."])),
            save=False,
        )
        proxy_agreement_save(agreement=agreement)
    for spec in READERS:
        radiologist = radiologist_save(
            radiologist=Radiologist(
                vendor=vendors[spec.vendor],
                first_name=spec.first_name,
                last_name=spec.last_name,
                npi=with_check_digit(spec.npi_prefix),
                board_certified_on=day(-12 * 365),
                board_certification_expires_on=day(spec.board_expires),
                roster_starts_on=day(-2 * 365),
            )
        )
        letter = None
        if spec.imlc_state:
            letter = imlc_letter_save(
                letter=ImlcLetter(
                    radiologist=radiologist, state_of_principal_license=spec.imlc_state, issued_on=day(-300)
                )
            )
        for state, expires, verified in spec.licenses:
            state_license_save(
                license=StateLicense(
                    radiologist=radiologist,
                    state=state,
                    number=f"{state}-{spec.npi_prefix[-4:]}",
                    issued_on=day(-5 * 365),
                    expires_on=day(expires),
                    imlc_letter=letter if state == spec.imlc_state else None,
                    verification_source=VerificationSource.STATE_BOARD,
                    verified_by=officer,
                    verified_on=day(-verified),
                )
            )
        facility = facilities[spec.facility]
        reading_assignment_save(
            assignment=ReadingAssignment(
                radiologist=radiologist, engagement=engagements[(spec.vendor, spec.facility)], starts_on=day(-365)
            )
        )
        if spec.privilege:
            basis, expires = spec.privilege
            privilege_save(
                privilege=Privilege(
                    radiologist=radiologist,
                    facility=facility,
                    basis=PrivilegeBasis(basis),
                    granted_on=day(-2 * 365 + expires),
                    expires_on=day(expires),
                    next_reappointment_on=day(expires - 60),
                )
            )
    return len(READERS)


# --- The build --------------------------------------------------------------------------------


class DemoAlreadySeeded(Exception):
    pass


class DemoUserConflict(Exception):
    pass


@dataclass
class SeedResult:
    organization: Organization
    counts: dict[str, int]
    password: str


#: Lines per page of a demo document (12 pt Helvetica, 16 pt leading, from y=720).
_LINES_PER_PAGE = 42


def demo_pdf(lines: list[str]) -> bytes:
    """A small valid PDF with the given lines of text (ASCII), 42 lines a page, built by hand: fast
    and dependency-free, so that seeding writes a real signed-agreement stand-in for every BAA."""

    def escape(text: str) -> str:
        text = text.encode("ascii", "replace").decode("ascii")
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, len(lines), _LINES_PER_PAGE)] or [[]]
    # Objects: 1 catalog, 2 pages, 3 font, then a page and its content stream per page.
    kids = " ".join(f"{4 + 2 * n} 0 R" for n in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode("ascii"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n, page_lines in enumerate(pages):
        text_ops = ["BT", "/F1 12 Tf", "16 TL", "72 720 Td"]
        text_ops += [f"({escape(line)}) Tj T*" for line in page_lines]
        text_ops.append("ET")
        stream = "\n".join(text_ops).encode("ascii")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * n} 0 R >>".encode("ascii")
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at))
    return out.getvalue()


#: The demo BAA whose signed document lacks the subcontractor flow-down (P5): the case of the
#: "BAA lacks a required provision" rule.
DEMO_MISSING_PROVISION = ("Intelerad BAA", "P5")


def _provision_lines(agreement_title: str, *, vendor: str = "", organization: str = "") -> list[str]:
    """The body of a demo BAA: the tests' commercial drafting style (documents/corpus.py), wrapped."""
    import textwrap

    from documents import corpus

    clauses = corpus.commercial_clauses()
    title, provision = DEMO_MISSING_PROVISION
    if agreement_title == title:
        clauses = corpus.without(clauses, provision)
    lines: list[str] = []
    for clause in clauses:
        text = clause.text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
        text = text.replace("Cloudline Imaging Systems LLC", vendor or "Cloudline Imaging Systems LLC")
        text = text.replace("Riverbend Radiology Group, P.A.", organization or "Riverbend Radiology Group, P.A.")
        lines += [*textwrap.wrap(text, 88), ""] if not clause.heading else ["", text.upper()]
    return lines


def demo_password() -> str:
    return os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD


def seed_demo(*, today: datetime.date | None = None, password: str | None = None) -> SeedResult:
    """Create the demo organization and everything in it, in one transaction.

    Idempotent by refusal: raises DemoAlreadySeeded when the organization exists, and
    DemoUserConflict (before writing anything) when a demo username is taken by someone else.
    """
    today = today or timezone.localdate()
    password = password or demo_password()
    if Organization.objects.filter(name=ORGANIZATION_NAME).exists():
        raise DemoAlreadySeeded(ORGANIZATION_NAME)
    taken = sorted(
        get_user_model().objects.filter(username__in=[u.username for u in USERS]).values_list("username", flat=True)
    )
    if taken:
        raise DemoUserConflict(taken)
    # Fails loudly (ValidationError) on a DEMO_PASSWORD the validators refuse.
    validate_password(password)
    with transaction.atomic():
        return _build(today, password)


def _build(today: datetime.date, password: str) -> SeedResult:
    def day(value: int | datetime.date | None) -> datetime.date | None:
        if value is None or isinstance(value, datetime.date):
            return value
        return today + datetime.timedelta(days=value)

    organization = Organization(name=ORGANIZATION_NAME)
    organization.full_clean()
    organization.save()

    facilities: dict[str, Facility] = {}
    for key, (name, kind, state, city) in FACILITIES.items():
        facility = Facility(organization=organization, name=name, kind=kind, state=state, city=city)
        facility.full_clean()
        facility.save()
        facilities[key] = facility

    users = _create_users(organization, facilities, today, password)
    officer = users["officer"]

    vendors: dict[str, Vendor] = {}
    for key, spec in VENDORS.items():
        vendors[key] = vendor_save(
            vendor=Vendor(
                organization=organization,
                legal_name=spec.legal_name,
                category=spec.category,
                contact_name=spec.contact_name,
                contact_email=spec.contact_email,
                notes=spec.notes,
                is_conduit=spec.is_conduit,
            )
        )

    engagements: dict[tuple[str, str], Engagement] = {}
    for spec in ENGAGEMENTS:
        engagement = Engagement(
            vendor=vendors[spec.vendor],
            facility=facilities[spec.facility],
            service_description=spec.service,
            status=spec.status,
            phi_access_starts_on=day(spec.phi_since),
            data_location=spec.data_location,
            **{f"phi_{verb}": True for verb in spec.verbs},
        )
        engagements[(spec.vendor, spec.facility)] = engagement_save(engagement=engagement)

    for spec in SUBCONTRACTORS:
        subcontractor_link_save(
            link=SubcontractorLink(
                vendor=vendors[spec.vendor],
                subcontractor=vendors[spec.subcontractor],
                service_description=spec.service,
                touches_phi=True,
                downstream_baa_attested_on=day(-spec.attested_days_ago) if spec.attested_days_ago else None,
                attestation_evidence=spec.evidence,
            )
        )

    agreements: dict[str, BusinessAssociateAgreement] = {}
    for spec in AGREEMENTS:
        agreements[spec.key] = _create_agreement(spec, organization, vendors, facilities, officer, day)

    # Rule 2 in context: the Fujifilm renewal is stuck in negotiation, so the lapse is a finding.
    fujifilm_renewal = agreement_renew(previous=agreements["fujifilm"], title="Fujifilm RIS BAA (renewal)")
    agreement_transition(agreement=fujifilm_renewal, to_status=AgreementStatus.SENT)
    agreement_transition(agreement=fujifilm_renewal, to_status=AgreementStatus.IN_NEGOTIATION)
    # Rule 3 in context: a renewal sent for signature is not a successor until it is executed.
    nuance_renewal = agreement_renew(previous=agreements["nuance"], title="Nuance AI BAA (renewal)")
    agreement_transition(agreement=nuance_renewal, to_status=AgreementStatus.SENT)
    # The counter-example: Sectra's expiring 2021 BAA is already superseded by an executed renewal.
    _renew_executed(agreements["sectra"], "Sectra PACS BAA (renewal)", officer, day, executed=-14)
    # Rule 4b in context: the renewal signed late leaves a past period of PHI with no BAA in force.
    _renew_executed(agreements["aidoc"], "Aidoc BAA", officer, day, executed=-330)
    # Rule 3c in context: the successor is executed, so this is no expiry without a successor (rule 3).
    _renew_executed(agreements["viz"], "Viz.ai BAA (renewal)", officer, day, executed=-10, effective=67)
    agreement_terminate(
        agreement=agreements["portal"],
        terminated_on=day(60),
        reason="Replaced by the referring-physician access of the new EHR; the vendor returns the PHI.",
        actor=officer,
    )

    for spec in CHECKLISTS:
        checklist = engagements[(spec.vendor, spec.facility)].teleradiology_checklist
        for item in checklist.items.exclude(number__in=COMPUTED_ITEM_NUMBERS):
            if item.number not in spec.items:
                continue
            status, note, verified, review = spec.items[item.number]
            evidence_file = None
            if spec.vendor == "nighthawk" and item.number == 4:
                evidence_file = ContentFile(
                    demo_pdf(["Access controls - NightHawk Radiology", "VPN and MFA configuration summary."]),
                    name="nighthawk-access-controls.pdf",
                )
            checklist_item_update(
                item=item,
                status=status,
                evidence_note=note,
                verified_by=officer if verified is not None else None,
                verified_on=day(verified),
                next_review_on=day(review),
                evidence_file=evidence_file,
            )

    readers = _seed_readers(vendors, facilities, engagements, officer, day)

    counts = {
        "facilities": len(facilities),
        "radiologists": readers,
        "users": len(users),
        "vendors": len(vendors),
        "engagements": len(engagements),
        "subcontractor links": len(SUBCONTRACTORS),
        "agreements": BusinessAssociateAgreement.objects.filter(organization=organization).count(),
    }
    return SeedResult(organization=organization, counts=counts, password=password)


def _create_users(organization: Organization, facilities: dict[str, Facility], today: datetime.date, password: str):
    users = {}
    for spec in USERS:
        account = get_user_model()(
            username=spec.username,
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=spec.email,
            is_staff=spec.superuser,
            is_superuser=spec.superuser,
        )
        account.set_password(password)
        account.full_clean()
        account.save()
        membership = Membership(
            user=account,
            organization=organization,
            role=spec.role,
            access_expires_on=today + datetime.timedelta(days=AUDITOR_ACCESS_DAYS)
            if spec.role == Role.AUDITOR
            else None,
        )
        membership.full_clean()
        membership.save()
        if spec.facilities:
            membership.facilities.set([facilities[key] for key in spec.facilities])
        users[spec.username] = account
    return users


def _create_agreement(
    spec: DemoAgreement,
    organization: Organization,
    vendors: dict[str, Vendor],
    facilities: dict[str, Facility],
    officer,
    day: Callable[[int | datetime.date | None], datetime.date | None],
) -> BusinessAssociateAgreement:
    vendor = vendors[spec.vendor]
    executed_on = day(spec.executed)
    agreement = BusinessAssociateAgreement(
        organization=organization,
        vendor=vendor,
        title=spec.title,
        covers_all_facilities=not spec.covers,
        expires_on=day(spec.expires),
        auto_renews=spec.auto_renews,
        renewal_term_months=spec.renewal_term_months,
        renewal_notice_days=spec.renewal_notice_days,
        breach_notification_days=spec.breach_days,
        ce_signatory=CE_SIGNATORY,
        ba_signatory=f"{VENDORS[spec.vendor].contact_name or 'Authorized signatory'}, {vendor.legal_name}",
        amended_on=day(spec.amended),
        notes=spec.notes,
    )
    agreement.full_clean()
    agreement.save()
    if spec.covers:
        agreement.covered_facilities.set([facilities[key] for key in spec.covers])
    agreement_execute(agreement=agreement, executed_on=executed_on, effective_on=day(spec.effective) or executed_on)
    if agreement.expires_on is not None and agreement.expires_on < day(0) and not agreement.auto_renews:
        # What the nightly roll (agreements_apply_lapse) would have done on the day after expiry.
        agreement_transition(agreement=agreement, to_status=AgreementStatus.EXPIRED)
    if spec.signed_document:
        _sign(agreement, officer, day)
    return agreement


def _renew_executed(
    previous: BusinessAssociateAgreement, title: str, officer, day, *, executed: int, effective: int | None = None
) -> BusinessAssociateAgreement:
    """A renewal of ``previous``, signed on day ``executed`` and in force from ``effective`` (default the
    same day), with its signed copy on file."""
    renewal = agreement_renew(previous=previous, title=title)
    renewal.ce_signatory = previous.ce_signatory
    renewal.ba_signatory = previous.ba_signatory
    agreement_execute(agreement=renewal, executed_on=day(executed), effective_on=day(effective or executed))
    _sign(renewal, officer, day)
    return renewal


def _sign(agreement: BusinessAssociateAgreement, officer, day) -> None:
    lines = [
        "BUSINESS ASSOCIATE AGREEMENT",
        "",
        agreement.title,
        f"Covered entity: {agreement.organization.name}",
        f"Business associate: {agreement.vendor.legal_name}",
        f"Executed on: {agreement.executed_on:%Y-%m-%d}    Effective on: {agreement.effective_on:%Y-%m-%d}",
        f"Expires on: {agreement.expires_on:%Y-%m-%d}" if agreement.expires_on else "Expires on: evergreen",
        f"Breach notification: {agreement.breach_notification_days or 'not stated'} days after discovery",
        "",
        f"Signed: {agreement.ce_signatory}",
        f"Signed: {agreement.ba_signatory}",
        "",
        "DEMO DOCUMENT generated by manage.py seed_demo - not a real contract.",
        "",
        *_provision_lines(
            agreement.title, vendor=agreement.vendor.legal_name, organization=agreement.organization.name
        ),
    ]
    slug = "".join(ch if ch.isalnum() else "-" for ch in agreement.title.lower()).strip("-")
    document = document_store(
        agreement=agreement,
        upload=io.BytesIO(demo_pdf(lines)),
        original_name=f"{slug}-signed.pdf",
        uploaded_by=officer,
        kind=DocumentKind.SIGNED_AGREEMENT,
    )
    # Read now, as the worker would after the commit (the task then finds it read and does nothing),
    # so that the demo shows each BAA's provision review without a running worker.
    from documents.services import document_read

    document_read(document_id=document.pk)
