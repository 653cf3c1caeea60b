"""#15 item 9: terminating asks for the date and a reason, shows the consequences (which facilities
and engagements lose coverage, from when) before anything happens, and a mistaken termination can be
corrected, in the history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreements.models import AgreementStatus
from organizations.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world(client):
    org = f.organization()
    mri, ct = f.facility(org, name="North MRI"), f.facility(org, name="South CT")
    vendor = f.vendor(org, legal_name="Acme PACS")
    baa = f.agreement(vendor, title="Acme BAA")
    uncovered = f.engagement(vendor, mri, service_description="Image archive")
    # Another agreement in force covers the CT engagement: it keeps its coverage.
    f.agreement(vendor, title="Acme CT BAA", facilities=[ct])
    f.engagement(vendor, ct, service_description="CT reading")
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER)
    client.force_login(officer)
    return {"baa": baa, "uncovered": uncovered, "officer": officer}


def terminate(client, baa, **data):
    return client.post(reverse("agreements:terminate", args=[baa.pk]), data)


def test_the_detail_page_has_no_one_click_termination(client, world):
    page = client.get(reverse("agreements:detail", args=[world["baa"].pk])).content.decode()

    assert 'value="terminate"' not in page
    assert reverse("agreements:terminate", args=[world["baa"].pk]) in page


def test_it_asks_for_the_date_and_a_reason(client, world):
    page = client.get(reverse("agreements:terminate", args=[world["baa"].pk]))
    missing = terminate(client, world["baa"], confirm="yes")

    assert page.status_code == 200
    assert 'name="terminated_on"' in page.content.decode() and 'name="reason"' in page.content.decode()
    assert missing.status_code == 400
    assert set(missing.context["form"].errors) == {"terminated_on", "reason"}
    world["baa"].refresh_from_db()
    assert world["baa"].status == AgreementStatus.EXECUTED


def test_it_shows_the_consequences_before_terminating(client, world):
    review = terminate(client, world["baa"], terminated_on=f.days(10).isoformat(), reason="Vendor replaced")

    assert review.status_code == 200
    html = review.content.decode()
    assert f"{f.days(10):%Y-%m-%d}" in html
    assert "Image archive" in html and "North MRI" in html
    assert "CT reading" not in html  # still covered by the CT agreement
    assert [e.pk for e in review.context["consequences"].engagements] == [world["uncovered"].pk]
    assert 'name="confirm"' in html
    world["baa"].refresh_from_db()
    assert world["baa"].status == AgreementStatus.EXECUTED  # nothing happened yet


def test_it_terminates_once_confirmed_with_the_reason_in_the_history(client, world):
    response = terminate(
        client, world["baa"], terminated_on=f.days(0).isoformat(), reason="Vendor replaced", confirm="yes"
    )

    assert response.status_code == 302
    baa = world["baa"]
    baa.refresh_from_db()
    assert (baa.status, baa.terminated_on, baa.termination_reason) == (
        AgreementStatus.TERMINATED,
        f.days(0),
        "Vendor replaced",
    )
    latest = baa.history.latest()
    assert latest.history_user == world["officer"]
    assert "Vendor replaced" in latest.history_change_reason


def test_a_mistaken_termination_can_be_corrected_and_the_correction_is_in_the_history(client, world):
    baa = world["baa"]
    terminate(client, baa, terminated_on=f.days(0).isoformat(), reason="Wrong vendor clicked", confirm="yes")

    page = client.get(reverse("agreements:correct_termination", args=[baa.pk]))
    response = client.post(
        reverse("agreements:correct_termination", args=[baa.pk]),
        {"correction": "reinstate", "reason": "Terminated the wrong agreement"},
    )

    assert page.status_code == 200
    assert response.status_code == 302
    baa.refresh_from_db()
    assert (baa.status, baa.terminated_on, baa.termination_reason) == (AgreementStatus.EXECUTED, None, "")
    reasons = [h.history_change_reason or "" for h in baa.history.all()]
    assert any("Terminated the wrong agreement" in r for r in reasons)
    assert any("Wrong vendor clicked" in r for r in reasons)
    detail = client.get(reverse("agreements:detail", args=[baa.pk])).content.decode()
    assert "Terminated the wrong agreement" in detail


def test_a_termination_date_can_be_corrected(client, world):
    baa = world["baa"]
    terminate(client, baa, terminated_on=f.days(0).isoformat(), reason="Notice given", confirm="yes")

    response = client.post(
        reverse("agreements:correct_termination", args=[baa.pk]),
        {"correction": "date", "terminated_on": f.days(30).isoformat(), "reason": "Notice period is 30 days"},
    )

    assert response.status_code == 302
    baa.refresh_from_db()
    assert (baa.status, baa.terminated_on) == (AgreementStatus.TERMINATED, f.days(30))
