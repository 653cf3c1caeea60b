"""#15 item 2: an officer limited to some facilities cannot change the coverage of facilities they
cannot see: not by narrowing an organization-wide BAA, not by terminating or renewing it. The
services refuse it (agreements.services), and the pages show their message."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from agreements.services import agreement_renew, agreement_save, agreement_terminate
from organizations.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world():
    org = f.organization()
    own, hidden = f.facility(org, name="Own Imaging"), f.facility(org, name="Hidden Hospital")
    vendor = f.vendor(org)
    org_wide = f.agreement(vendor, title="Organization-wide BAA")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER, facilities=[own])
    return {"org": org, "own": own, "hidden": hidden, "vendor": vendor, "baa": org_wide, "officer": officer}


def test_the_service_refuses_narrowing_an_organization_wide_baa(world):
    baa = world["baa"]
    baa.covers_all_facilities = False

    with pytest.raises(ValidationError, match="You manage only some facilities"):
        agreement_save(agreement=baa, covered_facilities=[world["own"]], actor=world["officer"])

    baa.refresh_from_db()
    assert baa.covers_all_facilities is True


def test_the_service_refuses_terminating_or_renewing_an_organization_wide_baa(world):
    with pytest.raises(ValidationError, match="facilities you do not manage"):
        agreement_terminate(
            agreement=world["baa"], terminated_on=f.days(0), reason="Vendor replaced", actor=world["officer"]
        )
    with pytest.raises(ValidationError, match="facilities you do not manage"):
        agreement_renew(previous=world["baa"], title="Renewal", actor=world["officer"])

    world["baa"].refresh_from_db()
    assert world["baa"].status == AgreementStatus.EXECUTED
    assert not BusinessAssociateAgreement.objects.filter(title="Renewal").exists()


def test_the_service_allows_it_for_an_agreement_within_the_officers_facilities(world):
    own_only = f.agreement(world["vendor"], title="Own only", facilities=[world["own"]])

    agreement_terminate(agreement=own_only, terminated_on=f.days(0), reason="Vendor replaced", actor=world["officer"])

    assert own_only.status == AgreementStatus.TERMINATED


def test_the_pages_show_the_refusal(client, world):
    baa = world["baa"]
    client.force_login(world["officer"])

    edit = client.post(
        reverse("agreements:update", args=[baa.pk]),
        {
            "title": baa.title,
            "covered_facilities": [world["own"].pk],
            "executed_on": baa.executed_on,
            "effective_on": baa.effective_on,
            "breach_notification_days": "30",
        },
    )
    terminate = client.post(
        reverse("agreements:terminate", args=[baa.pk]),
        {"terminated_on": f.days(0), "reason": "Vendor replaced", "confirm": "yes"},
    )
    renew = client.post(reverse("agreements:renew", args=[baa.pk]), {"renew-title": "Renewal"})

    assert edit.status_code == 400
    assert "You manage only some facilities" in edit.content.decode()
    assert terminate.status_code == 403
    assert "facilities you do not manage" in terminate.content.decode()
    assert renew.status_code == 400
    assert "facilities you do not manage" in renew.content.decode()
    baa.refresh_from_db()
    assert (baa.covers_all_facilities, baa.status) == (True, AgreementStatus.EXECUTED)
    assert "Hidden Hospital" not in edit.content.decode() + terminate.content.decode()


def test_an_officer_of_some_facilities_may_still_edit_the_terms_of_an_organization_wide_baa(client, world):
    baa = world["baa"]
    client.force_login(world["officer"])

    response = client.post(
        reverse("agreements:update", args=[baa.pk]),
        {
            "title": "Renamed",
            "covers_all_facilities": "on",
            "executed_on": baa.executed_on,
            "effective_on": baa.effective_on,
            "breach_notification_days": "30",
        },
    )

    assert response.status_code == 302
    baa.refresh_from_db()
    assert (baa.title, baa.covers_all_facilities) == ("Renamed", True)


def test_the_agreement_page_offers_no_termination_or_renewal_to_such_an_officer(client, world):
    client.force_login(world["officer"])

    page = client.get(reverse("agreements:detail", args=[world["baa"].pk])).content.decode()

    assert reverse("agreements:terminate", args=[world["baa"].pk]) not in page
    assert reverse("agreements:renew", args=[world["baa"].pk]) not in page
    assert "facilities you do not manage" in page
