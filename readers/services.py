"""Writes of the readers app. Each service validates (``full_clean``) before saving; history is
recorded by django-simple-history; each schedules the compliance run for after the commit."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from checklists.models import checklist_applies
from compliance.scheduling import schedule_compliance_run
from facilities.models import Facility
from readers.models import (
    ImlcLetter,
    Privilege,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
)
from vendors.models import Engagement, Vendor


def _require_teleradiology(vendor: Vendor) -> None:
    # Items 2 and 3 of the teleradiology checklist are computed from the readers: the vendors whose
    # engagements have that checklist (settings.CHECKLIST_VENDOR_CATEGORIES) are the ones with readers.
    if not checklist_applies(vendor.category):
        raise ValidationError(
            f"{vendor.legal_name} is not a teleradiology vendor: only teleradiology groups have reading radiologists."
        )


def radiologist_save(*, radiologist: Radiologist) -> Radiologist:
    """Create or change a radiologist of a teleradiology vendor's roster (NPI check digit validated)."""
    _require_teleradiology(radiologist.vendor)
    radiologist.full_clean()
    radiologist.save()
    schedule_compliance_run(organization_id=radiologist.vendor.organization_id)
    return radiologist


def radiologist_remove_from_roster(*, radiologist: Radiologist, on: datetime.date) -> Radiologist:
    """The radiologist leaves the roster on ``on``: kept (the findings and history refer to them),
    their reading assignments end that day, and nothing about them is due any more."""
    if on < radiologist.roster_starts_on:
        raise ValidationError({"roster_ends_on": "A radiologist cannot leave the roster before joining it."})
    with transaction.atomic():
        radiologist.roster_ends_on = on
        radiologist.full_clean()
        radiologist.save()
        for assignment in radiologist.assignments.filter(ends_on__isnull=True).filter(starts_on__lte=on):
            assignment.ends_on = on
            assignment.save()
        schedule_compliance_run(organization_id=radiologist.vendor.organization_id)
    return radiologist


def state_license_save(*, license: StateLicense) -> StateLicense:
    """Record or change a state license. A license issued through an IMLC letter must belong to the
    same radiologist."""
    if license.imlc_letter_id and license.imlc_letter.radiologist_id != license.radiologist_id:
        raise ValidationError({"imlc_letter": "The IMLC letter belongs to another radiologist."})
    license.full_clean()
    license.save()
    schedule_compliance_run(organization_id=license.radiologist.vendor.organization_id)
    return license


def imlc_letter_save(*, letter: ImlcLetter) -> ImlcLetter:
    letter.full_clean()
    letter.save()
    schedule_compliance_run(organization_id=letter.radiologist.vendor.organization_id)
    return letter


def reading_assignment_save(*, assignment: ReadingAssignment) -> ReadingAssignment:
    """A radiologist reads for an engagement of their own vendor."""
    engagement: Engagement = assignment.engagement
    if engagement.vendor_id != assignment.radiologist.vendor_id:
        raise ValidationError(
            {"engagement": f"{assignment.radiologist.name} is on the roster of another vendor than this engagement's."}
        )
    assignment.full_clean()
    assignment.save()
    schedule_compliance_run(organization_id=engagement.vendor.organization_id)
    return assignment


def privilege_save(*, privilege: Privilege) -> Privilege:
    """Record privileges at a facility of the radiologist's organization. By proxy, the facility also
    needs a written agreement with the distant site (ProxyCredentialingAgreement); without one in
    force the rules report it (42 CFR 482.22(a)(3))."""
    facility: Facility = privilege.facility
    if facility.organization_id != privilege.radiologist.vendor.organization_id:
        raise ValidationError({"facility": "The facility belongs to another organization."})
    privilege.full_clean()
    privilege.save()
    schedule_compliance_run(organization_id=facility.organization_id)
    return privilege


def proxy_agreement_save(*, agreement: ProxyCredentialingAgreement) -> ProxyCredentialingAgreement:
    """Record the written agreement for credentialing by proxy (42 CFR 482.22(a)(3)-(4), 482.12(a)(8))."""
    _require_teleradiology(agreement.vendor)
    if agreement.facility.organization_id != agreement.vendor.organization_id:
        raise ValidationError({"facility": "The facility belongs to another organization."})
    agreement.full_clean()
    agreement.save()
    schedule_compliance_run(organization_id=agreement.vendor.organization_id)
    return agreement
