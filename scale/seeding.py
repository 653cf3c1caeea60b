"""The scale dataset of ``manage.py seed_scale``: health systems the size of a large customer.

``large`` is 20 organizations, 1,000 facilities, 20,000 vendors, 200,000 engagements, 120,000 BAAs,
30,000 teleradiology checklists and 200 users; ``small`` is a tenth of it, for CI. Mostly compliant
(about 80 % of the engagements with PHI access are covered by a BAA in force), with cases of every rule of
compliance/rules.py in every organization, so that the rules, pages and reports are measured on a
realistic mix.

Deterministic: one ``random.Random`` per organization with a fixed seed, and every date relative to
``as_of``, so the same size seeded on the same day gives the same rows, and the mix of compliance
states stays the same whenever it is seeded.

Fast: rows are built in memory one organization at a time and written with ``bulk_create`` in one
transaction. That skips ``save()``, the signals and therefore django-simple-history: seeded rows have
no history records, which nothing needs (the history pages and the report's "changes of the last
12 months" show an empty history for them). It also skips the services' validation, so every row
here is built to obey the model constraints and the rules the services enforce (a conduit has no
PHI access, an active engagement with PHI has a start date, a complete checklist item has who
verified it and when, item 1 is computed, a BAA never crosses the tenant boundary).

Signed documents are rows only: their files (``agreements/scale/<n>.pdf``) do not exist and their
SHA-256 is made up. The download view answers 404 for a missing file, and the PDF report lists such
a document as "not appended (file not found)" instead of failing.
"""

from __future__ import annotations

import datetime
import hashlib
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Model, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from agreements.models import AgreementDocument, AgreementStatus, BusinessAssociateAgreement, DocumentKind
from checklists.models import (
    COMPUTED_ITEM_NUMBERS,
    TELERADIOLOGY_ITEMS,
    ChecklistItem,
    ItemStatus,
    TeleradiologyChecklist,
)
from compliance.models import Finding, FindingKind
from compliance.rules import agreements_in_force, covering, engagements_with_phi_access
from facilities.models import Facility, FacilityKind, USState
from organizations.models import Membership, Organization, Role
from readers.models import (
    DistantSiteKind,
    LicenseStatus,
    Privilege,
    PrivilegeBasis,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
    VerificationSource,
)
from readers.npi import with_check_digit
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor, VendorCategory

SCALE_ORGANIZATION_PREFIX = "Scale Health "
#: In the first organization: the facility with ``flagship_engagements`` engagements (the big report).
FLAGSHIP_FACILITY_NAME = "Scale Flagship Medical Center"
SCALE_USERNAME_PREFIX = "scale-"
#: The password of every seeded user (the benchmarks sign in with it). Never seed a production database.
SCALE_PASSWORD = "scale-bench-2026"
#: The seed of every random choice: change it and every row changes.
RANDOM_SEED = 20260601
BATCH_SIZE = 5000


@dataclass(frozen=True)
class ScaleSize:
    organizations: int
    facilities: int
    vendors: int
    engagements: int
    agreements: int
    checklists: int
    users: int
    flagship_engagements: int
    #: Teleradiology readers: radiologists across the teleradiology vendors, their state licenses and
    #: their privileges at facilities (current grants and earlier ones).
    radiologists: int = 0
    licenses: int = 0
    privileges: int = 0

    def split(self, total: int) -> list[int]:
        """``total`` shared out over the organizations, the first ones taking the remainder."""
        base, extra = divmod(total, self.organizations)
        return [base + (1 if i < extra else 0) for i in range(self.organizations)]


SIZES: dict[str, ScaleSize] = {
    "large": ScaleSize(
        organizations=20,
        facilities=1_000,
        vendors=20_000,
        engagements=200_000,
        agreements=120_000,
        checklists=30_000,
        users=200,
        flagship_engagements=1_000,
        radiologists=2_000,
        licenses=30_000,
        privileges=60_000,
    ),
    # A fifth of large with the same organizations (10,000 engagements each) and the same flagship of
    # 1,000 engagements: the pages and the facility report cost what they cost at large, on a machine
    # where seeding large takes too long.
    "medium": ScaleSize(
        organizations=4,
        facilities=200,
        vendors=4_000,
        engagements=40_000,
        agreements=24_000,
        checklists=6_000,
        users=40,
        flagship_engagements=1_000,
    ),
    "small": ScaleSize(
        organizations=2,
        facilities=100,
        vendors=2_000,
        engagements=20_000,
        agreements=12_000,
        checklists=3_000,
        users=20,
        flagship_engagements=100,
        radiologists=200,
        licenses=3_000,
        privileges=6_000,
    ),
    # For the tests of the seeding itself: every rule still fires in every organization.
    "tiny": ScaleSize(
        organizations=2,
        facilities=20,
        vendors=100,
        engagements=400,
        agreements=240,
        checklists=60,
        users=8,
        flagship_engagements=10,
        radiologists=20,
        licenses=300,
        privileges=600,
    ),
}


class ScaleDatasetExists(ValueError):
    """The database already holds a scale dataset (or users with its names)."""


# --- Looking the dataset up (for the benchmarks) ------------------------------------------------


def organization_name(number: int) -> str:
    return f"{SCALE_ORGANIZATION_PREFIX}{number:02d}"


def scale_organizations() -> QuerySet[Organization]:
    """The seeded organizations, "Scale Health 01" first."""
    return Organization.objects.filter(name__startswith=SCALE_ORGANIZATION_PREFIX).order_by("name")


def admin_username(number: int) -> str:
    """``scale-admin-01`` administers organization 01."""
    return f"{SCALE_USERNAME_PREFIX}admin-{number:02d}"


def member_username(number: int, role: str, index: int) -> str:
    """``scale-officer-01-02``: the second compliance officer of organization 01 (admins: admin_username)."""
    return f"{SCALE_USERNAME_PREFIX}{_ROLE_SLUG[role]}-{number:02d}-{index:02d}"


def scale_users(organization: Organization, role: str | None = None) -> QuerySet:
    """The seeded users of one organization (of one role), by username. Their password is SCALE_PASSWORD."""
    users = get_user_model().objects.filter(
        membership__organization=organization, username__startswith=SCALE_USERNAME_PREFIX
    )
    if role is not None:
        users = users.filter(membership__role=role)
    return users.order_by("username")


def scale_admin(organization: Organization):
    """The administrator of a seeded organization (sees every facility)."""
    return scale_users(organization, Role.ADMIN).get()


def scale_officer(organization: Organization):
    """A compliance officer of a seeded organization who is not limited to some facilities."""
    return scale_users(organization, Role.COMPLIANCE_OFFICER).filter(membership__facilities__isnull=True).first()


def flagship_facility() -> Facility:
    """The facility with ``flagship_engagements`` engagements, in the first seeded organization."""
    return Facility.objects.get(organization=scale_organizations().first(), name=FLAGSHIP_FACILITY_NAME)


# --- Seeding -----------------------------------------------------------------------------------


def seed(
    size: str,
    *,
    as_of: datetime.date | None = None,
    stdout: TextIO | None = None,
    replace: bool = False,
) -> dict[str, int]:
    """Create the scale dataset of ``size`` (a key of SIZES) and return the rows created per model.

    Refused (ScaleDatasetExists) when a scale dataset is there already, unless ``replace``, which
    first archives it (archive_scale_dataset: kept, renamed, users deactivated; never deleted). All or
    nothing: one transaction.
    """
    if size not in SIZES:
        raise ValueError(f"Unknown size {size!r}: choose one of {', '.join(SIZES)}.")
    scale = SIZES[size]
    _check_size(scale)
    as_of = as_of or timezone.localdate()
    log = _Log(stdout)
    with transaction.atomic():
        if replace:
            archived = archive_scale_dataset()
            log(
                f"Archived the previous scale dataset ({archived['organizations']} organizations, "
                f"{archived['users']} users deactivated); its records are kept."
            )
        _refuse_if_seeded()
        counts: dict[str, int] = defaultdict(int)
        password = make_password(SCALE_PASSWORD)  # hashed once: hashing per user takes minutes
        organizations = Organization.objects.bulk_create(
            [Organization(name=organization_name(n)) for n in range(1, scale.organizations + 1)]
        )
        counts["organizations"] = len(organizations)
        shares = {
            name: scale.split(getattr(scale, name))
            for name in (
                "facilities",
                "vendors",
                "engagements",
                "agreements",
                "checklists",
                "users",
                "radiologists",
                "licenses",
                "privileges",
            )
        }
        for i, organization in enumerate(organizations):
            started = time.monotonic()
            seeder = _OrganizationSeeder(
                organization=organization,
                number=i + 1,
                as_of=as_of,
                password=password,
                rng=random.Random(f"{RANDOM_SEED}:{size}:{i + 1}"),
                readers_rng=random.Random(f"{RANDOM_SEED}:{size}:{i + 1}:readers"),
                **{name: share[i] for name, share in shares.items()},
                flagship_engagements=scale.flagship_engagements if i == 0 else 0,
            )
            for model, n in seeder.run().items():
                counts[model] += n
            log(f"  {organization.name}: {time.monotonic() - started:.1f} s")
    if connection.vendor == "postgresql":
        # Planner statistics for the new rows: without them (autovacuum may be off or late) PostgreSQL
        # picks poor plans for the pages and the benchmark measures those.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return dict(counts)


def _check_size(scale: ScaleSize) -> None:
    per_org = {name: min(scale.split(getattr(scale, name))) for name in ("facilities", "vendors", "users")}
    if per_org["users"] < 2:
        raise ValueError("Each organization needs at least two users (an administrator and a compliance officer).")
    if per_org["facilities"] < 2 or per_org["vendors"] < 20:
        raise ValueError("Each organization needs at least 2 facilities and 20 vendors.")
    if scale.flagship_engagements > max(scale.split(scale.vendors)):
        raise ValueError("The flagship facility engages each vendor once: flagship_engagements <= vendors per org.")
    if max(scale.split(scale.engagements)) > per_org["facilities"] * per_org["vendors"] // 2:
        raise ValueError("Too many engagements for the facilities and vendors: at most one per vendor and facility.")


def _refuse_if_seeded() -> None:
    existing = scale_organizations().count()
    if existing:
        raise ScaleDatasetExists(
            f"This database already holds a scale dataset ({existing} organizations named "
            f"{SCALE_ORGANIZATION_PREFIX!r}...). Seed a fresh database, or pass replace=True (--replace) to archive "
            "it first."
        )
    users = get_user_model().objects.filter(username__startswith=SCALE_USERNAME_PREFIX)
    if users.exists():
        raise ScaleDatasetExists(
            f"Users named {SCALE_USERNAME_PREFIX}* exist ({users.count()}), e.g. {users.first().username!r}: "
            "rename them, or pass replace=True (--replace) to archive them with the scale dataset."
        )


class _Log:
    def __init__(self, stdout: TextIO | None):
        self.stdout = stdout

    def __call__(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message + "\n")


def _bulk(model: type[Model], objects: list, counts: dict[str, int], key: str) -> list:
    created = model.objects.bulk_create(objects, batch_size=BATCH_SIZE)
    counts[key] += len(created)
    return created


# Vocabulary: enough variety for the pages to look real; all names are made up.
_CITIES = {
    "WI": ("Milwaukee", "Madison", "Green Bay", "Eau Claire"),
    "IL": ("Naperville", "Peoria", "Rockford", "Springfield"),
    "MI": ("Ann Arbor", "Lansing", "Grand Rapids", "Kalamazoo"),
    "MN": ("Duluth", "Rochester", "Ely", "St. Cloud"),
    "IN": ("Indianapolis", "Fort Wayne", "Evansville", "Bloomington"),
    "OH": ("Columbus", "Dayton", "Toledo", "Akron"),
    "TX": ("Austin", "El Paso", "Lubbock", "Tyler"),
    "FL": ("Tampa", "Orlando", "Gainesville", "Pensacola"),
    "CA": ("Fresno", "Sacramento", "Redding", "San Diego"),
    "NY": ("Albany", "Buffalo", "Syracuse", "Ithaca"),
    "PA": ("Erie", "Scranton", "Allentown", "Harrisburg"),
    "GA": ("Athens", "Macon", "Savannah", "Augusta"),
}
_FACILITY_KINDS = (
    (FacilityKind.IMAGING_CENTER, "Imaging Center", 50),
    (FacilityKind.HOSPITAL, "Medical Center - Radiology", 20),
    (FacilityKind.CLINIC, "Clinic", 15),
    (FacilityKind.CRITICAL_ACCESS_HOSPITAL, "Community Hospital", 8),
    (FacilityKind.READING_GROUP, "Radiology Associates", 5),
    (FacilityKind.OTHER, "Breast Health Center", 2),
)
# category: (weight, name suffixes, services)
_VENDOR_CATEGORIES: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {
    VendorCategory.PACS: (14, ("PACS", "Imaging Systems", "Enterprise Imaging"), ("PACS and image archive",)),
    VendorCategory.TELERADIOLOGY: (
        8,
        ("Teleradiology", "Radiology Partners", "Nighthawk Reads"),
        ("Overnight and weekend reads", "Subspecialty reads"),
    ),
    VendorCategory.AI_DIAGNOSTIC: (
        14,
        ("AI", "Vision", "Diagnostics"),
        ("AI triage of CT studies", "Nodule detection"),
    ),
    VendorCategory.CLOUD_DICOM_STORAGE: (10, ("Cloud Archive", "Image Exchange"), ("Cloud DICOM archive",)),
    VendorCategory.CLOUD_HOSTING: (10, ("Cloud", "Hosting", "Data Centers"), ("Hosting of the imaging systems",)),
    VendorCategory.RIS: (10, ("RIS", "Radiology Information Systems"), ("Scheduling and reporting (RIS)",)),
    VendorCategory.BILLING: (14, ("Billing", "Revenue Cycle"), ("Radiology billing and coding",)),
    VendorCategory.REFERRING_PORTAL: (10, ("Portal", "Connect"), ("Referring-physician image portal",)),
    VendorCategory.OTHER: (10, ("Transcription", "Shredding", "Dosimetry"), ("Dictation transcription",)),
}
_NAME_WORDS = (
    "Acadia", "Beacon", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Iris", "Juniper",
    "Keystone", "Lumen", "Meridian", "Northstar", "Orion", "Pinnacle", "Quantum", "Redwood", "Summit", "Tidewater",
    "Union", "Vantage", "Willow", "Xenon", "Yarrow", "Zenith",
)  # fmt: skip
_LEGAL_FORMS = ("Inc.", "LLC", "Corp.", "Ltd.", "LP")
_FIRST_NAMES = (
    "Avery", "Blake", "Casey", "Dana", "Emerson", "Finley", "Harper", "Jordan", "Kendall", "Logan",
    "Morgan", "Parker", "Quinn", "Reese", "Rowan", "Sawyer", "Taylor", "Emery",
)  # fmt: skip
_LAST_NAMES = (
    "Abbott", "Brennan", "Castillo", "Dawson", "Ellison", "Fischer", "Garrison", "Holloway", "Iverson",
    "Jansen", "Keller", "Lindgren", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintana", "Sorensen",
)  # fmt: skip
_DATA_LOCATIONS = ("AWS us-east-1", "AWS us-west-2", "Azure East US", "Google Cloud us-central1", "On premises", "")
_BREACH_DAYS = ((30, 40), (60, 28), (45, 10), (15, 6), (10, 6), (None, 7), (90, 3))

_ROLE_SLUG = {
    Role.ADMIN: "admin",
    Role.COMPLIANCE_OFFICER: "officer",
    Role.VIEWER: "viewer",
    Role.AUDITOR: "auditor",
}
#: Roles of an organization's users in order (then viewers and officers alternately); the second
#: officer is limited to some facilities.
_ROLE_PATTERN = (
    Role.ADMIN,
    Role.COMPLIANCE_OFFICER,
    Role.VIEWER,
    Role.AUDITOR,
    Role.COMPLIANCE_OFFICER,
    Role.VIEWER,
    Role.COMPLIANCE_OFFICER,
    Role.VIEWER,
    Role.AUDITOR,
    Role.VIEWER,
)

# Vendor scenarios: how the vendor's BAAs stand. Weights for the vendors that are not forced.
COVERED = "covered"  # an executed BAA covers all facilities, signed before any PHI access
COVERED_SELECTED = "covered_selected"  # BAA for listed facilities (sometimes not all of the vendor's)
RENEWED_IN_ADVANCE = "renewed_in_advance"  # expiring soon, successor already executed
MISSING = "missing"  # no signed BAA (sometimes a draft)
LAPSED_EXPIRED = "lapsed_expired"
LAPSED_TERMINATED = "lapsed_terminated"
PHI_BEFORE = "phi_before"  # BAA executed after PHI access started
EXPIRING = "expiring"  # expires within the horizon, no executed successor
IDLE = "idle"  # no engagement yet, no BAA yet
CONDUIT = "conduit"
_SCENARIO_WEIGHTS = (
    (COVERED, 725),
    (COVERED_SELECTED, 60),
    (RENEWED_IN_ADVANCE, 15),
    (MISSING, 80),
    (LAPSED_EXPIRED, 50),
    (LAPSED_TERMINATED, 20),
    (PHI_BEFORE, 25),
    (EXPIRING, 25),
)
#: One vendor of each in every organization, whatever the dice say (rules 1 to 4 fire everywhere).
_FORCED_SCENARIOS = (MISSING, LAPSED_EXPIRED, LAPSED_TERMINATED, PHI_BEFORE, EXPIRING)
# Agreement-level flavours of a covered vendor's current BAA (rules 5 to 7).
NO_DOCUMENT, LONG_BREACH_WINDOW, PRE_OMNIBUS, AMENDED_AFTER_OMNIBUS = "no_doc", "breach_90", "pre_omnibus", "amended"
# The extra agreements that bring each organization to its number of BAAs.
PREDECESSOR, PARALLEL, OLD_EXPIRED, OLD_TERMINATED, DRAFT = "predecessor", "parallel", "expired", "terminated", "draft"
_EXTRA_WEIGHTS = ((PREDECESSOR, 40), (PARALLEL, 45), (OLD_EXPIRED, 7), (OLD_TERMINATED, 3), (DRAFT, 5))
_UNSIGNED = (AgreementStatus.DRAFT, AgreementStatus.SENT, AgreementStatus.IN_NEGOTIATION)
_OMNIBUS = datetime.date(2013, 9, 23)


def _weighted(rng: random.Random, table: Sequence[tuple[object, int]]):
    return rng.choices([value for value, _ in table], weights=[weight for _, weight in table])[0]


@dataclass
class _VendorPlan:
    vendor: Vendor
    scenario: str = COVERED
    flavour: str = ""
    engagements: list[Engagement] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)

    @property
    def earliest_start(self) -> datetime.date | None:
        starts = [e.phi_access_starts_on for e in self.engagements if e.phi_access_starts_on is not None]
        return min(starts) if starts else None


@dataclass
class _PlannedAgreement:
    agreement: BusinessAssociateAgreement
    predecessor: _PlannedAgreement | None = None
    facilities: list[int] = field(default_factory=list)
    document: bool = True

    @property
    def depth(self) -> int:
        return 0 if self.predecessor is None else self.predecessor.depth + 1


class _OrganizationSeeder:
    """Builds and writes one organization's rows. Every random choice comes from ``rng``, in a fixed order."""

    def __init__(
        self,
        *,
        organization: Organization,
        number: int,
        as_of: datetime.date,
        password: str,
        rng: random.Random,
        facilities: int,
        vendors: int,
        engagements: int,
        agreements: int,
        checklists: int,
        users: int,
        flagship_engagements: int,
        readers_rng: random.Random,
        radiologists: int,
        licenses: int,
        privileges: int,
    ):
        self.organization = organization
        self.readers_rng = readers_rng
        self.n_radiologists = radiologists
        self.n_licenses = licenses
        self.n_privileges = privileges
        self.number = number
        self.as_of = as_of
        self.password = password
        self.rng = rng
        self.n_facilities = facilities
        self.n_vendors = vendors
        self.n_engagements = engagements
        self.n_agreements = agreements
        self.n_checklists = checklists
        self.n_users = users
        self.n_flagship = flagship_engagements
        self.counts: dict[str, int] = defaultdict(int)

    def days_ago(self, n: int) -> datetime.date:
        return self.as_of - datetime.timedelta(days=n)

    def days_ahead(self, n: int) -> datetime.date:
        return self.as_of + datetime.timedelta(days=n)

    def between(self, start: datetime.date, end: datetime.date) -> datetime.date:
        return start + datetime.timedelta(days=self.rng.randint(0, max(0, (end - start).days)))

    def run(self) -> dict[str, int]:
        self.users, self.memberships = self.create_users()
        # Who verifies checklist items and uploads documents.
        self.officers = [
            u
            for u, m in zip(self.users, self.memberships, strict=True)
            if m.role in (Role.ADMIN, Role.COMPLIANCE_OFFICER)
        ]
        self.facilities = self.create_facilities()
        self.limit_officer()
        plans = self.create_vendors()
        self.create_engagements(plans)
        self.create_checklists(plans)
        self.create_subcontractor_links(plans)
        self.create_agreements(plans)
        self.create_readers(plans)
        return self.counts

    # Users ---------------------------------------------------------------------------------

    def create_users(self) -> tuple[list, list[Membership]]:
        user_model = get_user_model()
        users, roles, per_role = [], [], defaultdict(int)
        for i in range(self.n_users):
            role = _ROLE_PATTERN[i] if i < len(_ROLE_PATTERN) else (Role.VIEWER, Role.COMPLIANCE_OFFICER)[i % 2]
            per_role[role] += 1
            if role == Role.ADMIN and per_role[role] == 1:
                username = admin_username(self.number)
            else:
                username = member_username(self.number, role, per_role[role])
            users.append(
                user_model(
                    username=username,
                    password=self.password,
                    email=f"{username}@scale-health.example.org",
                    first_name=self.rng.choice(_FIRST_NAMES),
                    last_name=self.rng.choice(_LAST_NAMES),
                )
            )
            roles.append(role)
        users = _bulk(user_model, users, self.counts, "users")
        memberships = [
            Membership(
                user=user,
                organization=self.organization,
                role=role,
                access_expires_on=self.days_ahead(self.rng.randint(14, 180)) if role == Role.AUDITOR else None,
            )
            for user, role in zip(users, roles, strict=True)
        ]
        return users, _bulk(Membership, memberships, self.counts, "memberships")

    def limit_officer(self) -> None:
        """The second compliance officer (if any) sees a third of the facilities."""
        officers = [m for m in self.memberships if m.role == Role.COMPLIANCE_OFFICER]
        if len(officers) < 2:
            return
        chosen = self.rng.sample(self.facilities[1:], max(1, len(self.facilities) // 3))
        through = Membership.facilities.through
        rows = [through(membership_id=officers[1].pk, facility_id=f.pk) for f in chosen]
        _bulk(through, rows, self.counts, "membership_facilities")

    # Facilities and vendors ----------------------------------------------------------------

    def create_facilities(self) -> list[Facility]:
        facilities = []
        states = list(_CITIES)
        for i in range(self.n_facilities):
            state = self.rng.choice(states)
            city = self.rng.choice(_CITIES[state])
            kind, label = _weighted(self.rng, [((k, lbl), w) for k, lbl, w in _FACILITY_KINDS])
            name = f"{city} {label} {i + 1:03d}"
            if i == 0 and self.n_flagship:
                name, kind = FLAGSHIP_FACILITY_NAME, FacilityKind.HOSPITAL
            facilities.append(
                Facility(
                    organization=self.organization,
                    name=name,
                    kind=kind,
                    state=USState(state),
                    city=city,
                    active=self.rng.random() > 0.02,
                )
            )
        return _bulk(Facility, facilities, self.counts, "facilities")

    def create_vendors(self) -> list[_VendorPlan]:
        categories = list(_VENDOR_CATEGORIES)
        weights = [_VENDOR_CATEGORIES[c][0] for c in categories]
        n_conduits = max(1, self.n_vendors // 100)
        # Enough teleradiology vendors for the checklists to fall on distinct (vendor, facility) pairs.
        n_tele = max(round(self.n_vendors * 0.08), -(-self.n_checklists * 2 // self.n_facilities))
        vendors = []
        for i in range(self.n_vendors):
            if i < n_conduits:
                category, is_conduit = VendorCategory.OTHER, True
                name = f"{self.rng.choice(_NAME_WORDS)} Network Services {i + 1:04d} {self.rng.choice(_LEGAL_FORMS)}"
            else:
                category = VendorCategory.TELERADIOLOGY if i < n_conduits + n_tele else None
                while category is None:
                    category = self.rng.choices(categories, weights=weights)[0]
                    category = None if category == VendorCategory.TELERADIOLOGY else category
                is_conduit = False
                suffix = self.rng.choice(_VENDOR_CATEGORIES[category][1])
                name = f"{self.rng.choice(_NAME_WORDS)} {suffix} {i + 1:04d} {self.rng.choice(_LEGAL_FORMS)}"
            contact = f"{self.rng.choice(_FIRST_NAMES)} {self.rng.choice(_LAST_NAMES)}"
            vendors.append(
                Vendor(
                    organization=self.organization,
                    legal_name=name,
                    category=category,
                    contact_name=contact,
                    contact_email=f"{contact.lower().replace(' ', '.')}@vendor{i + 1:04d}.example.com",
                    is_conduit=is_conduit,
                    notes="Carrier only: transports encrypted data, no access (mere conduit)." if is_conduit else "",
                )
            )
        vendors = _bulk(Vendor, vendors, self.counts, "vendors")
        return [_VendorPlan(vendor=v, scenario=CONDUIT if v.is_conduit else COVERED) for v in vendors]

    # Engagements ---------------------------------------------------------------------------

    def create_engagements(self, plans: list[_VendorPlan]) -> None:
        """Exactly n_engagements, at most one per vendor and facility; exactly n_checklists of them with a
        teleradiology vendor; the flagship facility (first organization) engages n_flagship distinct vendors."""
        tele = [p for p in plans if p.vendor.category == VendorCategory.TELERADIOLOGY]
        other = [p for p in plans if p.vendor.category != VendorCategory.TELERADIOLOGY]
        pairs: list[tuple[_VendorPlan, Facility]] = []
        facilities = self.facilities
        tele_needed = self.n_checklists
        if self.n_flagship:
            flagship, facilities = facilities[0], facilities[1:]
            n_tele = min(len(tele), tele_needed, round(self.n_flagship * len(tele) / len(plans)))
            chosen = self.rng.sample(tele, n_tele) + self.rng.sample(other, self.n_flagship - n_tele)
            pairs += [(plan, flagship) for plan in chosen]
            tele_needed -= n_tele
        rest = self.n_engagements - len(pairs) - tele_needed
        for group, n in ((tele, tele_needed), (other, rest)):
            width = len(facilities)
            for index in sorted(self.rng.sample(range(len(group) * width), n)):
                pairs.append((group[index // width], facilities[index % width]))

        engagements = []
        for plan, facility in pairs:
            engagement = self.engagement(plan, facility)
            plan.engagements.append(engagement)
            engagements.append(engagement)
        self.choose_scenarios(plans)
        _bulk(Engagement, engagements, self.counts, "engagements")

    def engagement(self, plan: _VendorPlan, facility: Facility) -> Engagement:
        rng = self.rng
        category = plan.vendor.category
        roll = rng.random()
        status = (
            EngagementStatus.ACTIVE
            if roll < 0.82
            else EngagementStatus.PLANNED
            if roll < 0.9
            else EngagementStatus.OFFBOARDED
        )
        engagement = Engagement(
            vendor=plan.vendor,
            facility=facility,
            service_description=rng.choice(_VENDOR_CATEGORIES[category][2]),
            status=status,
            data_location=rng.choice(_DATA_LOCATIONS),
        )
        if plan.vendor.is_conduit:
            engagement.service_description = "Encrypted network transport (no access to the data)"
            return engagement  # a mere conduit never has PHI access
        if rng.random() < 0.06:
            engagement.service_description += " (de-identified data only)"
            return engagement
        engagement.phi_receives = True
        engagement.phi_maintains = category in (VendorCategory.PACS, VendorCategory.CLOUD_DICOM_STORAGE) or (
            rng.random() < 0.4
        )
        engagement.phi_transmits = rng.random() < 0.5
        engagement.phi_creates = category in (VendorCategory.TELERADIOLOGY, VendorCategory.AI_DIAGNOSTIC)
        if status == EngagementStatus.ACTIVE:
            engagement.phi_access_starts_on = self.days_ago(rng.randint(30, 3000))
            if rng.random() < 0.05:
                engagement.ends_on = self.days_ahead(rng.randint(30, 365))
        elif status == EngagementStatus.PLANNED:
            # Most start later; some have reached their start date (PHI flows, as the rules count it).
            ahead = rng.randint(10, 120) if rng.random() < 0.7 else -rng.randint(1, 60)
            engagement.phi_access_starts_on = self.days_ahead(ahead)
        else:
            engagement.phi_access_starts_on = self.days_ago(rng.randint(700, 3500))
            engagement.ends_on = engagement.phi_access_starts_on + datetime.timedelta(days=rng.randint(180, 650))
        return engagement

    def choose_scenarios(self, plans: list[_VendorPlan]) -> None:
        rng = self.rng
        candidates = [
            p
            for p in plans
            if p.scenario != CONDUIT and p.engagements and p.vendor.category != VendorCategory.TELERADIOLOGY
        ]
        forced = rng.sample(candidates, len(_FORCED_SCENARIOS))
        for plan, scenario in zip(forced, _FORCED_SCENARIOS, strict=True):
            plan.scenario = scenario
            # PHI flows today, so that the rule about it sees the engagement.
            engagement = plan.engagements[0]
            engagement.status, engagement.ends_on = EngagementStatus.ACTIVE, None
            engagement.phi_receives = True
            engagement.phi_access_starts_on = self.days_ago(rng.randint(60, 2000))
        for plan in plans:
            if plan.scenario != COVERED or plan in forced:
                continue
            if not plan.engagements:
                plan.scenario = IDLE if rng.random() < 0.5 else COVERED
            else:
                plan.scenario = _weighted(rng, _SCENARIO_WEIGHTS)
            if plan.scenario == COVERED:
                roll = rng.random()
                plan.flavour = (
                    NO_DOCUMENT
                    if roll < 0.04
                    else LONG_BREACH_WINDOW
                    if roll < 0.06
                    else PRE_OMNIBUS
                    if roll < 0.075
                    else AMENDED_AFTER_OMNIBUS
                    if roll < 0.095
                    else ""
                )
        covered = [p for p in plans if p.scenario == COVERED and not p.flavour]
        for plan, flavour in zip(rng.sample(covered, 3), (NO_DOCUMENT, LONG_BREACH_WINDOW, PRE_OMNIBUS), strict=True):
            plan.flavour = flavour

    # Checklists ------------------------------------------------------------------------------

    def create_checklists(self, plans: list[_VendorPlan]) -> None:
        """Every teleradiology engagement has its 7-item checklist, as checklists.services.checklist_ensure
        makes it. Most are done and reviewed within the year; some have open items, some overdue reviews."""
        rng = self.rng
        engagements = [e for p in plans if p.vendor.category == VendorCategory.TELERADIOLOGY for e in p.engagements]
        checklists = _bulk(
            TeleradiologyChecklist,
            [TeleradiologyChecklist(engagement=e) for e in engagements],
            self.counts,
            "checklists",
        )
        current = [c for c in checklists if c.engagement.status != EngagementStatus.OFFBOARDED]
        forced_incomplete, forced_overdue = current[0], current[1]
        items = []
        for checklist in checklists:
            incomplete = checklist is forced_incomplete or rng.random() < 0.2
            overdue = checklist is forced_overdue or rng.random() < 0.05
            manual = [n for n in range(1, len(TELERADIOLOGY_ITEMS) + 1) if n not in COMPUTED_ITEM_NUMBERS]
            open_numbers = set(rng.sample(manual, rng.randint(1, 3))) if incomplete else set()
            overdue_number = rng.choice([n for n in manual if n not in open_numbers]) if overdue else None
            for number in COMPUTED_ITEM_NUMBERS:  # from the agreements, and from the readers' records
                items.append(ChecklistItem(checklist=checklist, number=number, status=ItemStatus.COMPUTED))
            for number in manual:
                item = ChecklistItem(checklist=checklist, number=number)
                if number in open_numbers:
                    item.status = rng.choice((ItemStatus.IN_PROGRESS, ItemStatus.NOT_STARTED))
                    if item.status == ItemStatus.IN_PROGRESS:
                        item.evidence_note = "Requested from the vendor; waiting for the documents."
                elif number == 7 and rng.random() < 0.15:
                    item.status = ItemStatus.NOT_APPLICABLE
                    item.not_applicable_reason = "The group reads on its own PACS under a separate agreement."
                else:
                    item.status = ItemStatus.COMPLETE
                    item.verified_by = rng.choice(self.officers)
                    if number == overdue_number:
                        item.verified_on = self.days_ago(rng.randint(380, 700))
                    else:
                        item.verified_on = self.days_ago(rng.randint(5, 330))
                    item.next_review_on = item.verified_on + datetime.timedelta(days=365)
                    item.evidence_note = f"Verified: {TELERADIOLOGY_ITEMS[number - 1].lower()}."
                items.append(item)
        _bulk(ChecklistItem, items, self.counts, "checklist_items")

    # Teleradiology readers ---------------------------------------------------------------

    def create_readers(self, plans: list[_VendorPlan]) -> None:
        """n_radiologists shared out over the teleradiology vendors with engagements, each reading for
        every engagement of their vendor; a license of each state they read for (plus licenses of other
        states and expired earlier ones, up to n_licenses) and privileges at each facility (plus
        expired earlier grants, up to n_privileges); proxy agreements where privileges are by proxy.
        Mostly compliant, with every reader rule firing in every organization. Its own random
        generator, so the rest of the dataset is the same with or without readers."""
        if not self.n_radiologists:
            return
        rng = self.readers_rng
        tele = [p for p in plans if p.vendor.category == VendorCategory.TELERADIOLOGY and p.engagements]
        radiologists: list[Radiologist] = []
        reads_for: list[list[Engagement]] = []
        for i in range(self.n_radiologists):
            plan = tele[i % len(tele)]
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            board_expires = self.days_ahead(rng.randint(30, 60)) if i == 1 or rng.random() < 0.02 else None
            radiologists.append(
                Radiologist(
                    vendor=plan.vendor,
                    first_name=first,
                    last_name=last,
                    # Unique per organization and radiologist; valid check digit (readers.npi).
                    npi=with_check_digit(f"1{self.number:02d}{i:06d}"),
                    board_certified_on=self.days_ago(rng.randint(2000, 9000)),
                    board_certification_expires_on=board_expires or self.days_ahead(rng.randint(200, 3000)),
                    roster_starts_on=self.days_ago(rng.randint(400, 2000)),
                )
            )
            reads_for.append([e for e in plan.engagements if e.status != EngagementStatus.OFFBOARDED])
        radiologists = _bulk(Radiologist, radiologists, self.counts, "radiologists")

        assignments, licenses, privileges = [], [], []
        proxy_pairs: set[tuple[int, int]] = set()
        license_quota = self.split_quota(self.n_licenses, len(radiologists))
        privilege_quota = self.split_quota(self.n_privileges, len(radiologists))
        states = [code for code in USState.values]
        for i, (person, engagements) in enumerate(zip(radiologists, reads_for, strict=True)):
            needed = sorted({e.facility.state for e in engagements})
            held: list[StateLicense] = []
            for state in needed:
                if i == 0 and state == needed[0]:
                    continue  # reads there without a license (rule R1)
                if rng.random() < 0.01:
                    continue
                held.append(self.license(person, state, number=len(held), rng=rng, forced=i))
            others = [state for state in states if state not in needed]
            while len(held) < license_quota[i]:
                if others and rng.random() < 0.5:
                    state = others.pop(rng.randrange(len(others)))
                    held.append(self.license(person, state, number=len(held), rng=rng, forced=-1))
                else:  # an earlier license of a state read for, expired (renewed since)
                    state = rng.choice(needed) if needed else rng.choice(states)
                    ended = self.days_ago(rng.randint(400, 3000))
                    held.append(
                        StateLicense(
                            radiologist=person,
                            state=state,
                            number=f"{state}-{person.npi[-6:]}-{len(held)}",
                            status=LicenseStatus.INACTIVE,
                            issued_on=ended - datetime.timedelta(days=730),
                            expires_on=ended,
                            verification_source=VerificationSource.STATE_BOARD,
                            verified_on=ended - datetime.timedelta(days=30),
                        )
                    )
            licenses += held

            grants: list[Privilege] = []
            for j, engagement in enumerate(engagements):
                assignments.append(
                    ReadingAssignment(
                        radiologist=person, engagement=engagement, starts_on=self.days_ago(rng.randint(30, 390))
                    )
                )
                if i == 2 and j == 0 or rng.random() < 0.01:
                    continue  # reads there without privileges (rule R3)
                proxy = i == 3 and j == 0 or rng.random() < 0.3
                if i == 4 and j == 0 or rng.random() < 0.02:
                    expires = self.days_ahead(rng.randint(10, 80))  # reappointment due (rule R2c)
                else:
                    expires = self.days_ahead(rng.randint(100, 700))
                grants.append(
                    Privilege(
                        radiologist=person,
                        facility=engagement.facility,
                        basis=PrivilegeBasis.PROXY if proxy else PrivilegeBasis.DIRECT,
                        granted_on=expires - datetime.timedelta(days=730),
                        expires_on=expires,
                        next_reappointment_on=expires - datetime.timedelta(days=60),
                    )
                )
                if proxy:
                    proxy_pairs.add((engagement.facility_id, person.vendor_id))
            current = list(grants)
            # Earlier appointments at the same facilities, ended (two-year cycles back in time).
            cycle = 1
            while current and len(grants) < privilege_quota[i]:
                for grant in current:
                    if len(grants) >= privilege_quota[i]:
                        break
                    ended = grant.granted_on - datetime.timedelta(days=1 + 731 * (cycle - 1))
                    grants.append(
                        Privilege(
                            radiologist=person,
                            facility=grant.facility,
                            basis=grant.basis,
                            granted_on=ended - datetime.timedelta(days=730),
                            expires_on=ended,
                        )
                    )
                cycle += 1
            privileges += grants
        _bulk(ReadingAssignment, assignments, self.counts, "reading_assignments")
        _bulk(StateLicense, licenses, self.counts, "licenses")
        _bulk(Privilege, privileges, self.counts, "privileges")

        agreements = []
        for n, (facility_id, vendor_id) in enumerate(sorted(proxy_pairs)):
            lapsed = n == 0 or rng.random() < 0.03  # expired: privileges by proxy without an agreement (R4)
            effective = self.days_ago(rng.randint(800, 1500) if lapsed else rng.randint(30, 700))
            agreements.append(
                ProxyCredentialingAgreement(
                    facility_id=facility_id,
                    vendor_id=vendor_id,
                    distant_site_name="Distant-site telemedicine entity",
                    distant_site_kind=DistantSiteKind.TELEMEDICINE_ENTITY,
                    effective_on=effective,
                    expires_on=self.days_ago(rng.randint(1, 60)) if lapsed else self.days_ahead(rng.randint(60, 900)),
                    # A row only, like the BAAs' documents: the file does not exist.
                    document=f"readers/proxy/scale/{facility_id}-{vendor_id}.pdf",
                    last_feedback_on=self.days_ago(rng.randint(10, 300)),
                )
            )
        _bulk(ProxyCredentialingAgreement, agreements, self.counts, "proxy_agreements")

    @staticmethod
    def split_quota(total: int, n: int) -> list[int]:
        base, extra = divmod(total, n)
        return [base + (1 if i < extra else 0) for i in range(n)]

    def license(self, person: Radiologist, state: str, *, number: int, rng: random.Random, forced: int):
        """A practising license of ``state``: mostly far from expiry and verified within the year; the
        second radiologist's first one expiring soon (R2a) and the third's never re-verified (R5)."""
        if forced == 1 and number == 0 or rng.random() < 0.03:
            expires = self.days_ahead(rng.randint(0, 80))
        else:
            expires = self.days_ahead(rng.randint(100, 900))
        stale = forced == 5 and number == 0 or rng.random() < 0.04
        verified = self.days_ago(rng.randint(380, 900) if stale else rng.randint(5, 300))
        return StateLicense(
            radiologist=person,
            state=state,
            number=f"{state}-{person.npi[-6:]}-{number}",
            status=LicenseStatus.ACTIVE,
            issued_on=expires - datetime.timedelta(days=rng.randint(800, 3000)),
            expires_on=expires,
            verification_source=rng.choice((VerificationSource.STATE_BOARD, VerificationSource.FSMB_DOCINFO)),
            verified_by=rng.choice(self.officers),
            verified_on=verified,
        )

    # Subcontractors --------------------------------------------------------------------------

    def create_subcontractor_links(self, plans: list[_VendorPlan]) -> None:
        rng = self.rng
        hosts = [
            p.vendor
            for p in plans
            if p.vendor.category in (VendorCategory.CLOUD_HOSTING, VendorCategory.CLOUD_DICOM_STORAGE)
        ]
        conduits = [p.vendor for p in plans if p.vendor.is_conduit]
        parents = [p.vendor for p in plans if not p.vendor.is_conduit and p.vendor.category != VendorCategory.OTHER]
        # One link touching PHI without an attested downstream BAA in every organization (rule 9).
        first = rng.choice(parents)
        links = [
            SubcontractorLink(
                vendor=first,
                subcontractor=rng.choice([h for h in hosts if h.pk != first.pk]),
                service_description="Hosts the vendor's platform",
                touches_phi=True,
            )
        ]
        seen = {(first.pk, links[0].subcontractor.pk)}
        for vendor in rng.sample(parents, len(parents) // 4):
            subcontractor = rng.choice(conduits) if rng.random() < 0.05 else rng.choice(hosts)
            if subcontractor.pk == vendor.pk or (vendor.pk, subcontractor.pk) in seen:
                continue
            seen.add((vendor.pk, subcontractor.pk))
            link = SubcontractorLink(
                vendor=vendor,
                subcontractor=subcontractor,
                service_description="Network transport" if subcontractor.is_conduit else "Hosts the vendor's platform",
                touches_phi=rng.random() < 0.92,
            )
            if link.touches_phi and rng.random() < 0.88:
                link.downstream_baa_attested_on = self.days_ago(rng.randint(20, 1500))
                link.attestation_evidence = "Vendor's written attestation of a downstream BAA, on file."
            links.append(link)
        _bulk(SubcontractorLink, links, self.counts, "subcontractor_links")

    # Agreements ------------------------------------------------------------------------------

    def create_agreements(self, plans: list[_VendorPlan]) -> None:
        planned: list[_PlannedAgreement] = []
        fillable: list[tuple[_VendorPlan, _PlannedAgreement]] = []
        for plan in plans:
            base = self.base_agreements(plan)
            planned += base
            if plan.scenario == COVERED:
                fillable.append((plan, base[0]))
        missing = self.n_agreements - len(planned)
        if missing < 0:
            raise ValueError(f"Too few agreements for {self.n_vendors} vendors: raise the size's agreements.")
        for _ in range(missing):
            plan, first = self.rng.choice(fillable)
            kind = _weighted(self.rng, _EXTRA_WEIGHTS)
            if kind == PREDECESSOR and (
                plan.flavour in (PRE_OMNIBUS, AMENDED_AFTER_OMNIBUS) or not self.can_precede(first)
            ):
                kind = PARALLEL
            planned.append(self.extra_agreement(plan, first, kind))
        self.write_agreements(planned)

    def agreement(self, plan: _VendorPlan, **kwargs) -> BusinessAssociateAgreement:
        rng = self.rng
        kwargs.setdefault("status", AgreementStatus.EXECUTED)
        if kwargs["status"] not in _UNSIGNED:
            kwargs.setdefault("effective_on", kwargs["executed_on"])
            kwargs.setdefault("ce_signatory", f"{self.users[0].first_name} {self.users[0].last_name}, Privacy Officer")
            kwargs.setdefault("ba_signatory", f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}, General Counsel")
            kwargs.setdefault("breach_notification_days", _weighted(rng, [(d, w) for d, w in _BREACH_DAYS if d != 90]))
        year = (kwargs.get("effective_on") or self.as_of).year
        kwargs.setdefault("title", f"Business Associate Agreement {year}")
        return BusinessAssociateAgreement(organization=self.organization, vendor=plan.vendor, **kwargs)

    def base_agreements(self, plan: _VendorPlan) -> list[_PlannedAgreement]:
        """The agreements that put the vendor in its scenario; the first one is the current one."""
        rng = self.rng
        scenario = plan.scenario
        if scenario in (IDLE, CONDUIT):
            return []
        start = plan.earliest_start or self.days_ago(rng.randint(200, 2500))
        signed = min(start - datetime.timedelta(days=rng.randint(1, 60)), self.days_ago(31))
        if scenario == MISSING:
            if rng.random() < 0.5:
                return []
            status = rng.choice(_UNSIGNED)
            return [
                _PlannedAgreement(self.agreement(plan, status=status, title="Business Associate Agreement (draft)"))
            ]
        if scenario == LAPSED_EXPIRED:
            expires = self.between(max(signed + datetime.timedelta(days=1), self.days_ago(300)), self.days_ago(1))
            return [
                _PlannedAgreement(
                    self.agreement(plan, status=AgreementStatus.EXPIRED, executed_on=signed, expires_on=expires)
                )
            ]
        if scenario == LAPSED_TERMINATED:
            ended = self.between(max(signed + datetime.timedelta(days=1), self.days_ago(300)), self.days_ago(1))
            return [
                _PlannedAgreement(
                    self.agreement(plan, status=AgreementStatus.TERMINATED, executed_on=signed, terminated_on=ended)
                )
            ]
        if scenario == PHI_BEFORE:
            late = start + datetime.timedelta(days=rng.randint(5, max(5, min(200, (self.as_of - start).days - 1))))
            return [_PlannedAgreement(self.agreement(plan, executed_on=min(late, self.days_ago(1))))]
        current = self.current_agreement(plan, signed)
        if scenario == COVERED_SELECTED:
            current.agreement.covers_all_facilities = False
            facility_ids = sorted({e.facility_id for e in plan.engagements})
            if len(facility_ids) > 1 and rng.random() < 0.3:
                facility_ids.remove(rng.choice(facility_ids))  # one facility left out: missing BAA there
            current.facilities = facility_ids
            return [current]
        if scenario == EXPIRING:
            current.agreement.auto_renews, current.agreement.renewal_term_months = False, None
            current.agreement.expires_on = self.days_ahead(rng.randint(5, 60))
            if rng.random() < 0.4:  # a renewal is being negotiated, not yet executed: still due
                draft = self.agreement(
                    plan, status=rng.choice(_UNSIGNED), title="Business Associate Agreement (renewal)"
                )
                return [current, _PlannedAgreement(draft, predecessor=current, document=False)]
            return [current]
        if scenario == RENEWED_IN_ADVANCE:
            current.agreement.status = AgreementStatus.SUPERSEDED
            current.agreement.auto_renews, current.agreement.renewal_term_months = False, None
            current.agreement.expires_on = self.days_ahead(rng.randint(5, 60))
            successor = self.agreement(
                plan,
                executed_on=self.days_ago(rng.randint(1, 30)),
                effective_on=current.agreement.expires_on + datetime.timedelta(days=1),
                title=f"Business Associate Agreement {current.agreement.expires_on.year} (renewal)",
            )
            return [current, _PlannedAgreement(successor, predecessor=current)]
        return [current]

    def current_agreement(self, plan: _VendorPlan, signed: datetime.date) -> _PlannedAgreement:
        """The executed BAA in force, signed before the vendor's first PHI access."""
        rng = self.rng
        agreement = self.agreement(plan, executed_on=signed)
        if plan.flavour in (PRE_OMNIBUS, AMENDED_AFTER_OMNIBUS):
            agreement.executed_on = agreement.effective_on = min(
                signed, datetime.date(2013, 9, 22) - datetime.timedelta(days=rng.randint(0, 1200))
            )
            agreement.title = f"Business Associate Agreement {agreement.executed_on.year}"
            if plan.flavour == AMENDED_AFTER_OMNIBUS:
                agreement.amended_on = _OMNIBUS + datetime.timedelta(days=rng.randint(0, 360))
        if plan.flavour == LONG_BREACH_WINDOW:
            agreement.breach_notification_days = 90
        self.expiry(agreement)
        return _PlannedAgreement(agreement, document=plan.flavour != NO_DOCUMENT)

    def expiry(self, agreement: BusinessAssociateAgreement) -> None:
        """Evergreen, fixed-term beyond the horizon, or auto-renewing (its notice deadline may be near).
        Never already past: the nightly job would have expired or renewed it."""
        roll = self.rng.random()
        if roll < 0.1:
            agreement.auto_renews = True
            agreement.renewal_term_months = self.rng.choice((12, 12, 24, 36))
            agreement.renewal_notice_days = self.rng.choice((30, 60, 90))
            agreement.expires_on = self.days_ahead(self.rng.randint(1, 400))
        elif roll < 0.4:
            agreement.expires_on = self.days_ahead(self.rng.randint(120, 1500))

    @staticmethod
    def can_precede(first: _PlannedAgreement) -> bool:
        """Chains go back to 2005 at most (a predecessor is up to three years older than the oldest)."""
        oldest = first
        while oldest.predecessor is not None:
            oldest = oldest.predecessor
        return oldest.agreement.effective_on - datetime.timedelta(days=1100) > datetime.date(2005, 1, 1)

    def extra_agreement(self, plan: _VendorPlan, first: _PlannedAgreement, kind: str) -> _PlannedAgreement:
        rng = self.rng
        current = first.agreement
        if kind == PREDECESSOR:
            # Insert before the oldest of the chain: that one keeps covering from its signature on, and the
            # new predecessor covered the year before (so PHI access is never before a BAA).
            oldest = first
            while oldest.predecessor is not None:
                oldest = oldest.predecessor
            effective = oldest.agreement.effective_on - datetime.timedelta(days=rng.randint(365, 1100))
            older = self.agreement(
                plan,
                status=AgreementStatus.SUPERSEDED,
                executed_on=effective - datetime.timedelta(days=rng.randint(0, 20)),
                effective_on=effective,
                expires_on=oldest.agreement.effective_on - datetime.timedelta(days=1),
            )
            older.title = f"Business Associate Agreement {effective.year}"
            predecessor = _PlannedAgreement(older, document=rng.random() < 0.9)
            oldest.predecessor = predecessor
            return predecessor
        if kind == PARALLEL:
            product = rng.choice(("Cloud archive", "Analytics", "Disaster recovery", "Mobile viewer", "Support"))
            signed = self.between(current.executed_on, self.days_ago(10))
            agreement = self.agreement(plan, executed_on=signed, title=f"BAA - {product} addendum {signed.year}")
            self.expiry(agreement)
            planned = _PlannedAgreement(agreement, document=rng.random() > 0.02)
            if rng.random() < 0.1 and plan.engagements:
                agreement.covers_all_facilities = False
                planned.facilities = sorted({e.facility_id for e in plan.engagements})
            return planned
        if kind in (OLD_EXPIRED, OLD_TERMINATED):
            signed = current.executed_on - datetime.timedelta(days=rng.randint(400, 2500))
            end = min(signed + datetime.timedelta(days=rng.randint(100, 1095)), self.days_ago(1))
            dates = {"expires_on": end} if kind == OLD_EXPIRED else {"terminated_on": end}
            status = AgreementStatus.EXPIRED if kind == OLD_EXPIRED else AgreementStatus.TERMINATED
            agreement = self.agreement(
                plan, status=status, executed_on=signed, title="Former vendor contract BAA", **dates
            )
            return _PlannedAgreement(agreement, document=rng.random() < 0.9)
        agreement = self.agreement(
            plan,
            status=rng.choice(_UNSIGNED),
            title="BAA - new service (draft)",
            effective_on=self.days_ahead(rng.randint(10, 90)) if rng.random() < 0.5 else None,
        )
        return _PlannedAgreement(agreement, document=False)

    def write_agreements(self, planned: list[_PlannedAgreement]) -> None:
        """Oldest of each chain first, so that ``supersedes`` can point at a row that exists."""
        by_depth: dict[int, list[_PlannedAgreement]] = defaultdict(list)
        for item in planned:
            by_depth[item.depth].append(item)
        for depth in sorted(by_depth):
            for item in by_depth[depth]:
                if item.predecessor is not None:
                    item.agreement.supersedes_id = item.predecessor.agreement.pk
            _bulk(BusinessAssociateAgreement, [i.agreement for i in by_depth[depth]], self.counts, "agreements")

        through = BusinessAssociateAgreement.covered_facilities.through
        _bulk(
            through,
            [
                through(businessassociateagreement_id=item.agreement.pk, facility_id=facility_id)
                for item in planned
                for facility_id in item.facilities
            ],
            self.counts,
            "covered_facilities",
        )
        documents = []
        for number, item in enumerate(planned, start=1):
            agreement = item.agreement
            if not item.document or agreement.status in _UNSIGNED:
                continue
            key = f"{self.number:02d}-{number:06d}"  # not the pk: the same names in every database
            documents.append(
                AgreementDocument(
                    agreement=agreement,
                    kind=DocumentKind.SIGNED_AGREEMENT,
                    # No such file: see the module docstring.
                    file=f"agreements/scale/{key}.pdf",
                    original_name=f"{agreement.title} - {agreement.vendor.legal_name}.pdf"[:255],
                    size_bytes=self.rng.randint(80_000, 2_500_000),
                    sha256=hashlib.sha256(f"scale:{key}".encode()).hexdigest(),
                    uploaded_by=self.rng.choice(self.officers),
                )
            )
        _bulk(AgreementDocument, documents, self.counts, "agreement_documents")
        self._provision_reviews(documents)

    def _provision_reviews(self, documents: list[AgreementDocument]) -> None:
        """The provision review (P1-P12) of each executed BAA's signed document, as the reader would
        store it: all found, except the flow-down (P5) in every 25th one, so that rule 10 fires in every
        organization. Deterministic (no random draw), so the rest of the dataset is unchanged."""
        from documents.models import ProvisionReview

        executed = [d for d in documents if d.agreement.status == AgreementStatus.EXECUTED]
        reviews = [
            ProvisionReview(
                agreement=document.agreement,
                document=document,
                provision=f"P{number}",
                detected=not (number == 5 and index % 25 == 0),
                page_number=1 + number // 4,
                score=1.0,
            )
            for index, document in enumerate(executed)
            for number in range(1, 13)
        ]
        _bulk(ProvisionReview, reviews, self.counts, "provision_reviews")


# --- Archiving ---------------------------------------------------------------------------------


ARCHIVED_PREFIX = "Archived "


def archive_scale_dataset(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Set the scale organizations aside instead of deleting them: nothing a BAA, a finding or a report
    refers to is hard-deleted (45 CFR 164.316(b)(2), six years), fixture or not.

    The organizations are renamed "Archived <timestamp> Scale Health NN" and their users renamed and
    deactivated (so they can no longer sign in, receive alerts or collide with the new dataset's user
    names); every record stays. Two UPDATE statements, whatever the size. To start from an empty
    database, drop it and migrate a new one.
    """
    stamp = (now or timezone.now()).strftime("%Y%m%d%H%M%S")
    orgs = Organization.objects.filter(name__startswith=SCALE_ORGANIZATION_PREFIX)
    user_model = get_user_model()
    users = user_model.objects.filter(username__startswith=SCALE_USERNAME_PREFIX)
    user_count = users.update(username=Concat(Value(f"archived-{stamp}-"), F("username")), is_active=False)
    org_count = orgs.update(name=Concat(Value(f"{ARCHIVED_PREFIX}{stamp} "), F("name")))
    return {"organizations": org_count, "users": user_count}


# --- Checking ----------------------------------------------------------------------------------


def phi_coverage(as_of: datetime.date) -> tuple[int, int]:
    """(engagements of the scale organizations with PHI access on ``as_of``, those of them covered by a
    BAA in force): the same building blocks as rules 1 and 2."""
    with_phi = engagements_with_phi_access(as_of).filter(facility__organization__in=scale_organizations())
    return with_phi.count(), with_phi.filter(Exists(covering(agreements_in_force(as_of), as_of=as_of))).count()


def open_findings_per_kind(organization: Organization | None = None) -> dict[str, int]:
    """Open findings of the scale organizations (or one of them) per kind, every kind present."""
    counts = dict.fromkeys(FindingKind.values, 0)
    findings = Finding.objects.open().filter(organization__in=scale_organizations())
    if organization is not None:
        findings = findings.filter(organization=organization)
    for row in findings.order_by().values("kind").annotate(n=Count("pk")):
        counts[row["kind"]] = row["n"]
    return counts
