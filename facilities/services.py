"""Writes of the facilities app."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from facilities.models import Facility


def facility_save(*, facility: Facility) -> Facility:
    """Create or update a facility of an organization; its name is unique in the organization.

    The facility's state matters: a teleradiologist reading its studies needs a license in that
    state (the practice of medicine occurs where the patient is).
    """
    duplicate = (
        Facility.objects.filter(organization_id=facility.organization_id, name__iexact=facility.name.strip())
        .exclude(pk=facility.pk)
        .exists()
    )
    if duplicate:
        raise ValidationError({"name": f"Your organization already has a facility named \u201c{facility.name}\u201d."})
    facility.name = facility.name.strip()
    facility.full_clean()
    facility.save()
    return facility
