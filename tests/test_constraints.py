"""Invariants enforced by the DATABASE itself: every write here bypasses full_clean() and the services
(``objects.create``, ``save`` or ``queryset.update``), so only a constraint can refuse it."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from checklists.models import ChecklistItem, ItemStatus, TeleradiologyChecklist
from organizations.models import Membership, Role
from tests import factories as f
from tests.factories import TODAY, days
from vendors.models import SubcontractorLink, VendorCategory

pytestmark = pytest.mark.django_db
_usernames = itertools.count(1)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def draft(**kwargs) -> BusinessAssociateAgreement:
    vendor = f.vendor()
    return BusinessAssociateAgreement.objects.create(
        organization=vendor.organization, vendor=vendor, title="BAA", **kwargs
    )


def executed(**kwargs) -> BusinessAssociateAgreement:
    return f.agreement(f.vendor(), signed_document=False, **kwargs)


def updated(make: Callable, **changes) -> Callable[[], None]:
    """Make a valid row, then UPDATE it straight in the database."""

    def write() -> None:
        row = make()
        type(row).objects.filter(pk=row.pk).update(**changes)

    return write


def checklist() -> TeleradiologyChecklist:
    return TeleradiologyChecklist.objects.create(
        engagement=f.engagement(f.vendor(category=VendorCategory.TELERADIOLOGY))
    )


def auditor(**kwargs) -> Membership:
    account = f.account(f"auditor{next(_usernames)}")
    return Membership.objects.create(user=account, organization=f.organization(), role=Role.AUDITOR, **kwargs)


def _baa(**kwargs):
    return lambda: draft(**kwargs)


def _engagement(**kwargs):
    return lambda: f.engagement(**kwargs)


def _item(**kwargs):
    return lambda: ChecklistItem.objects.create(checklist=checklist(), **kwargs)


# Each row: a write that violates one constraint (it must raise IntegrityError), and the same write
# on the legal side of the boundary (it must succeed), so a constraint that refuses too much fails too.
def _radiologist(**kwargs):
    return f.radiologist(f.vendor(category="teleradiology"), **kwargs)


@pytest.fixture
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


VIOLATIONS = [
    pytest.param(
        _baa(effective_on=TODAY, expires_on=TODAY),
        _baa(effective_on=TODAY, expires_on=days(1)),
        id="baa: expires on the effective date",
    ),
    pytest.param(
        _baa(effective_on=TODAY, expires_on=days(-1)),
        _baa(effective_on=TODAY, expires_on=None),
        id="baa: expires before the effective date",
    ),
    pytest.param(
        _baa(status=AgreementStatus.EXECUTED, effective_on=TODAY),
        _baa(status=AgreementStatus.EXECUTED, executed_on=TODAY, effective_on=TODAY),
        id="baa: executed without its execution date",
    ),
    pytest.param(
        _baa(status=AgreementStatus.EXECUTED, executed_on=TODAY),
        _baa(status=AgreementStatus.DRAFT, executed_on=TODAY),
        id="baa: executed without its effective date",
    ),
    pytest.param(
        updated(executed, executed_on=None),
        updated(executed, executed_on=days(-1)),
        id="baa: update clears the execution date of an executed agreement",
    ),
    pytest.param(
        updated(executed, status=AgreementStatus.EXPIRED, effective_on=None),
        updated(executed, status=AgreementStatus.EXPIRED),
        id="baa: expired without its effective date",
    ),
    pytest.param(
        _baa(status=AgreementStatus.TERMINATED, executed_on=days(-9), effective_on=days(-9)),
        _baa(status=AgreementStatus.TERMINATED, executed_on=days(-9), effective_on=days(-9), terminated_on=TODAY),
        id="baa: terminated without its termination date",
    ),
    pytest.param(
        _baa(auto_renews=True, expires_on=days(30)),
        _baa(auto_renews=True, expires_on=days(30), renewal_term_months=12),
        id="baa: auto-renewing without a term",
    ),
    pytest.param(
        _baa(auto_renews=True, expires_on=days(30), renewal_term_months=0),
        _baa(auto_renews=True, expires_on=days(30), renewal_term_months=1),
        id="baa: auto-renewing with a zero-month term",
    ),
    pytest.param(
        _baa(auto_renews=True, renewal_term_months=12),
        _baa(auto_renews=False, renewal_term_months=12),
        id="baa: auto-renewing without an expiry date",
    ),
    pytest.param(
        updated(executed, archived_at=timezone.now()),
        updated(lambda: executed(status=AgreementStatus.TERMINATED), archived_at=timezone.now()),
        id="baa: executed agreement archived",
    ),
    pytest.param(
        updated(draft, supersedes_id=F("pk")),
        lambda: draft(supersedes=executed()),
        id="baa: supersedes itself",
    ),
    pytest.param(
        _engagement(phi_access_starts_on=TODAY, ends_on=days(-1)),
        _engagement(phi_access_starts_on=TODAY, ends_on=TODAY),
        id="engagement: ends before PHI access starts",
    ),
    pytest.param(
        updated(f.engagement, ends_on=days(-366)),
        updated(f.engagement, ends_on=days(-365)),
        id="engagement: update ends it before PHI access started",
    ),
    pytest.param(
        lambda: (lambda v: SubcontractorLink.objects.create(vendor=v, subcontractor=v))(f.vendor()),
        lambda: f.subcontractor_link(f.vendor()),
        id="subcontractor: is its own vendor",
    ),
    pytest.param(
        lambda: (lambda link: SubcontractorLink.objects.create(vendor=link.vendor, subcontractor=link.subcontractor))(
            f.subcontractor_link(f.vendor())
        ),
        lambda: (lambda link: f.subcontractor_link(link.vendor))(f.subcontractor_link(f.vendor())),
        id="subcontractor: linked twice to the same vendor",
    ),
    pytest.param(
        _item(number=1, status=ItemStatus.NOT_STARTED),
        _item(number=1, status=ItemStatus.COMPUTED),
        id="checklist: item 1 not computed",
    ),
    pytest.param(
        _item(number=1, status=ItemStatus.COMPLETE),
        _item(number=1, status=ItemStatus.COMPUTED),
        id="checklist: item 1 ticked complete by hand",
    ),
    pytest.param(
        _item(number=4, status=ItemStatus.COMPUTED),
        _item(number=4, status=ItemStatus.COMPLETE, next_review_on=days(300)),
        id="checklist: another item computed",
    ),
    pytest.param(
        _item(number=2, status=ItemStatus.COMPLETE, next_review_on=days(300)),
        _item(number=2, status=ItemStatus.COMPUTED),
        id="checklist: item 2 (licensure) ticked by hand",
    ),
    pytest.param(
        _item(number=4, status=ItemStatus.COMPLETE),
        _item(number=4, status=ItemStatus.COMPLETE, next_review_on=days(300)),
        id="checklist: complete item without its next review date",
    ),
    pytest.param(
        _item(number=5, status=ItemStatus.NOT_APPLICABLE),
        _item(number=5, status=ItemStatus.NOT_APPLICABLE, not_applicable_reason="Reads inside our PACS"),
        id="checklist: not applicable without a reason",
    ),
    pytest.param(
        _item(number=8, status=ItemStatus.NOT_STARTED),
        _item(number=7, status=ItemStatus.NOT_STARTED),
        id="checklist: item number out of range",
    ),
    pytest.param(
        lambda: (lambda c: [ChecklistItem.objects.create(checklist=c, number=4) for _ in range(2)])(checklist()),
        lambda: (lambda c: [ChecklistItem.objects.create(checklist=c, number=n) for n in (4, 5)])(checklist()),
        id="checklist: the same item twice",
    ),
    pytest.param(
        lambda: auditor(),
        lambda: auditor(access_expires_on=days(30)),
        id="membership: auditor without an end date",
    ),
    pytest.param(
        lambda: f.state_license(_radiologist(), issued_on=days(10), expires_on=days(10)),
        lambda: f.state_license(_radiologist(), issued_on=days(10), expires_on=days(11)),
        id="license: expires on its issue date",
    ),
    pytest.param(
        lambda: (lambda r: f.radiologist(r.vendor, npi=r.npi))(_radiologist()),
        lambda: (lambda r: f.radiologist(f.vendor(r.vendor.organization, category="teleradiology"), npi=r.npi))(
            _radiologist()
        ),
        id="radiologist: the same NPI twice on one roster",
    ),
    pytest.param(
        lambda: _radiologist(roster_starts_on=days(0), roster_ends_on=days(-1)),
        lambda: _radiologist(roster_starts_on=days(0), roster_ends_on=days(0)),
        id="radiologist: leaves the roster before joining",
    ),
    pytest.param(
        lambda: (lambda r: f.privilege(r, f.facility(r.vendor.organization), granted_on=days(5), expires_on=days(1)))(
            _radiologist()
        ),
        lambda: (lambda r: f.privilege(r, f.facility(r.vendor.organization), granted_on=days(5), expires_on=days(6)))(
            _radiologist()
        ),
        id="privilege: ends before it is granted",
    ),
    pytest.param(
        lambda: (lambda r: f.proxy_agreement(f.facility(r.vendor.organization), r.vendor, terminated_on=days(-400)))(
            _radiologist()
        ),
        lambda: (lambda r: f.proxy_agreement(f.facility(r.vendor.organization), r.vendor, terminated_on=days(-300)))(
            _radiologist()
        ),
        id="proxy agreement: terminated before it takes effect",
    ),
    pytest.param(
        lambda: (
            lambda r: f.assignment(r, f.engagement(r.vendor, f.facility(r.vendor.organization)), ends_on=days(-400))
        )(_radiologist()),
        lambda: (
            lambda r: f.assignment(r, f.engagement(r.vendor, f.facility(r.vendor.organization)), ends_on=days(-1))
        )(_radiologist()),
        id="reading assignment: ends before it starts",
    ),
    pytest.param(
        updated(lambda: auditor(access_expires_on=days(30)), access_expires_on=None),
        updated(lambda: auditor(access_expires_on=days(30)), role=Role.VIEWER, access_expires_on=None),
        id="membership: update removes an auditor's end date",
    ),
]


@pytest.mark.parametrize(("violation", "legal"), VIOLATIONS)
@pytest.mark.usefixtures("_media_in_tmp")
def test_the_database_refuses_the_violation_and_accepts_the_legal_write(violation, legal):
    with pytest.raises(IntegrityError), transaction.atomic():
        violation()

    with transaction.atomic():
        legal()
