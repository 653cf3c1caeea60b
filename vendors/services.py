"""Writes of the vendors app: vendors, engagements and subcontractor links."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from checklists.models import checklist_applies
from checklists.services import checklist_ensure
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor


def engagement_validate(engagement: Engagement) -> None:
    """Cross-record checks a database constraint cannot express, with messages that say what to fix."""
    errors: dict[str, str] = {}
    if engagement.vendor_id and engagement.facility_id:
        if engagement.vendor.organization_id != engagement.facility.organization_id:
            errors["facility"] = "The facility belongs to another organization than the vendor."
    if engagement.has_phi_access and engagement.vendor_id and engagement.vendor.is_conduit:
        errors["phi_receives"] = (
            f"{engagement.vendor} is marked as a mere conduit, which by definition has no access to PHI. "
            "Clear the PHI access or un-mark the vendor as a conduit: it is then a business associate."
        )
    if (
        engagement.status == EngagementStatus.ACTIVE
        and engagement.has_phi_access
        and engagement.phi_access_starts_on is None
    ):
        errors["phi_access_starts_on"] = "An active engagement with PHI access needs the date PHI access started."
    if errors:
        raise ValidationError(errors)


def engagement_default_status(*, phi_access_starts_on: datetime.date | None, today: datetime.date) -> str:
    """The status of a new engagement whose status was not chosen: active once PHI access has started
    (today or earlier), planned before. A vendor touching PHI is a business associate from that day
    (45 CFR 160.103), so the engagement is not left "planned" while it runs."""
    if phi_access_starts_on is not None and phi_access_starts_on <= today:
        return EngagementStatus.ACTIVE
    return EngagementStatus.PLANNED


@transaction.atomic
def engagement_save(*, engagement: Engagement) -> Engagement:
    """Create or update an engagement; a teleradiology engagement gets its 7-item checklist."""
    engagement_validate(engagement)
    engagement.full_clean()
    engagement.save()
    if checklist_applies(engagement.vendor.category):
        checklist_ensure(engagement=engagement)
    return engagement


@transaction.atomic
def vendor_save(*, vendor: Vendor) -> Vendor:
    """Create or update a vendor. A vendor with PHI access cannot be a conduit (45 CFR 160.103); a
    vendor (re)categorized as teleradiology gets the checklist on each of its engagements."""
    if vendor.pk and vendor.is_conduit:
        with_phi = [e for e in vendor.engagements.all() if e.has_phi_access]
        if with_phi:
            raise ValidationError(
                {
                    "is_conduit": f"{vendor} has PHI access in {len(with_phi)} engagement(s): a vendor with PHI access "
                    "is a business associate, not a conduit."
                }
            )
    vendor.full_clean()
    vendor.save()
    if checklist_applies(vendor.category):
        # Engagements recorded before the vendor became teleradiology have no checklist: rule 8 would
        # report open items that nobody could record.
        for engagement in vendor.engagements.filter(teleradiology_checklist__isnull=True):
            checklist_ensure(engagement=engagement)
    return vendor


def subcontractor_link_save(*, link: SubcontractorLink) -> SubcontractorLink:
    if link.vendor_id and link.subcontractor_id and link.vendor.organization_id != link.subcontractor.organization_id:
        raise ValidationError({"subcontractor": "The subcontractor must be a vendor of the same organization."})
    link.full_clean()
    link.save()
    return link
