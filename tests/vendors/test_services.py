"""Writes of vendors, engagements and subcontractor links (vendors.services)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from checklists.models import ChecklistItem, ItemStatus, TeleradiologyChecklist
from tests import factories as f
from tests.factories import days
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor, VendorCategory
from vendors.services import engagement_save, subcontractor_link_save, vendor_save

pytestmark = pytest.mark.django_db


def new_engagement(vendor: Vendor, facility=None, **kwargs) -> Engagement:
    kwargs.setdefault("service_description", "Cloud PACS archive")
    kwargs.setdefault("status", EngagementStatus.ACTIVE)
    kwargs.setdefault("phi_receives", True)
    kwargs.setdefault("phi_access_starts_on", days(-30))
    return Engagement(vendor=vendor, facility=facility or f.facility(vendor.organization), **kwargs)


@pytest.mark.parametrize("verb", ["phi_creates", "phi_receives", "phi_maintains", "phi_transmits"])
def test_it_refuses_phi_access_on_a_conduit_vendor_and_says_what_to_fix(verb):
    conduit = f.vendor(category=VendorCategory.OTHER, legal_name="Lakeside Fiber ISP", is_conduit=True)

    with pytest.raises(ValidationError) as refused:
        engagement_save(engagement=new_engagement(conduit, **{"phi_receives": False, verb: True}))

    message = " ".join(refused.value.message_dict["phi_receives"])
    assert "Lakeside Fiber ISP is marked as a mere conduit" in message
    assert "Clear the PHI access or un-mark the vendor as a conduit" in message
    assert not Engagement.objects.exists()


def test_it_saves_a_conduit_engagement_without_phi_access():
    conduit = f.vendor(category=VendorCategory.OTHER, is_conduit=True)

    engagement = engagement_save(
        engagement=new_engagement(conduit, phi_receives=False, phi_access_starts_on=None, service_description="WAN")
    )

    assert Engagement.objects.get() == engagement


def test_it_refuses_a_facility_of_another_organization():
    vendor = f.vendor()
    elsewhere = f.facility(f.organization())

    with pytest.raises(ValidationError) as refused:
        engagement_save(engagement=new_engagement(vendor, elsewhere))

    assert refused.value.message_dict["facility"] == ["The facility belongs to another organization than the vendor."]
    assert not Engagement.objects.exists()


def test_it_refuses_an_active_phi_engagement_without_its_start_date():
    with pytest.raises(ValidationError) as refused:
        engagement_save(engagement=new_engagement(f.vendor(), phi_access_starts_on=None))

    assert "phi_access_starts_on" in refused.value.message_dict


def test_it_refuses_an_engagement_that_ends_before_phi_access_starts():
    with pytest.raises(ValidationError, match="cannot end before PHI access starts"):
        engagement_save(engagement=new_engagement(f.vendor(), ends_on=days(-31)))


def test_it_creates_the_checklist_for_a_teleradiology_vendor_once():
    vendor = f.vendor(category=VendorCategory.TELERADIOLOGY)

    engagement = engagement_save(engagement=new_engagement(vendor, service_description="Overnight reads"))
    engagement.service_description = "Overnight and weekend reads"
    engagement_save(engagement=engagement)

    checklist = TeleradiologyChecklist.objects.get(engagement=engagement)
    assert checklist.items.count() == 7
    assert checklist.items.get(number=1).status == ItemStatus.COMPUTED


def test_it_creates_no_checklist_for_another_category():
    engagement = engagement_save(engagement=new_engagement(f.vendor(category=VendorCategory.AI_DIAGNOSTIC)))

    assert not TeleradiologyChecklist.objects.filter(engagement=engagement).exists()


def test_a_vendor_recategorized_as_teleradiology_gets_checklists_on_its_engagements():
    vendor = f.vendor(category=VendorCategory.OTHER)
    first = engagement_save(engagement=new_engagement(vendor))
    second = engagement_save(engagement=new_engagement(vendor))

    vendor.category = VendorCategory.TELERADIOLOGY
    vendor_save(vendor=vendor)
    vendor_save(vendor=vendor)

    for engagement in (first, second):
        assert ChecklistItem.objects.filter(checklist__engagement=engagement).count() == 7


def test_a_vendor_with_phi_access_cannot_become_a_conduit():
    vendor = f.vendor(legal_name="Ambra Health")
    engagement_save(engagement=new_engagement(vendor))

    vendor.is_conduit = True
    with pytest.raises(ValidationError) as refused:
        vendor_save(vendor=vendor)

    assert "business associate, not a conduit" in refused.value.message_dict["is_conduit"][0]
    vendor.refresh_from_db()
    assert vendor.is_conduit is False


def test_a_subcontractor_must_be_a_vendor_of_the_same_organization():
    vendor = f.vendor()
    stranger = f.vendor(f.organization(), category=VendorCategory.CLOUD_HOSTING)

    with pytest.raises(ValidationError) as refused:
        subcontractor_link_save(link=SubcontractorLink(vendor=vendor, subcontractor=stranger))

    assert "same organization" in refused.value.message_dict["subcontractor"][0]
    with pytest.raises(ValidationError, match="cannot be its own subcontractor"):
        subcontractor_link_save(link=SubcontractorLink(vendor=vendor, subcontractor=vendor))
    assert not SubcontractorLink.objects.exists()
