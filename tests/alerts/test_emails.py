"""The alert emails: three templates per kind behind make_message, escaped HTML, links back into the app,
why the recipient gets it, a stable Message-ID, an unsubscribe token that names one user."""

from __future__ import annotations

import pytest
from django.core import mail, signing
from django.template.loader import get_template

from alerts.emails import make_message, message_id, unsubscribe_token, user_id_from_unsubscribe_token
from alerts.models import Alert, AlertKind, SendStatus
from alerts.services import alerts_dispatch
from tests import factories as f
from tests.alerts.conftest import make_world, run_rules

pytestmark = pytest.mark.django_db

EMAIL_NAMES = [*AlertKind.values, "digest"]


@pytest.mark.parametrize("name", EMAIL_NAMES)
def test_it_has_three_templates_per_kind(name):
    for part in ("subject.txt", "body.txt", "body.html"):
        assert get_template(f"alerts/email/{name}_{part}")


def test_it_renders_subject_text_and_html_into_one_message():
    message = make_message(
        "digest",
        to="ada@example.org",
        context={"organization_name": "Lakeside\nImaging", "day": f.TODAY, "groups": [], "count": 0},
        headers={"Message-ID": "<x@example.org>"},
    )
    assert message.subject == "[Lakeside Imaging] BAA Tracker digest for 2026-11-22: 0 items"  # one line
    assert message.to == ["ada@example.org"]
    assert message.alternatives[0][1] == "text/html"
    assert message.extra_headers["Message-ID"] == "<x@example.org>"


def test_it_escapes_a_vendor_name_containing_html_in_the_html_part_only(settings):
    settings.SITE_URL = "https://baa.example.org"
    world = make_world(expires_in=14, pacs_name='<img src=x onerror="alert(1)"> & Partners')
    run_rules(world, f.TODAY)

    alerts_dispatch(as_of=f.TODAY, daily=True)

    message = next(m for m in mail.outbox if m.to == [world.admin.email])
    html = message.alternatives[0][0]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Partners" in html
    assert "<img" not in html and 'onerror="' not in html
    assert '<img src=x onerror="alert(1)"> & Partners' in message.body  # plain text shows it as it is
    assert "\n" not in message.subject


def test_it_names_the_organization_and_says_why_and_links_back(settings):
    settings.SITE_URL = "https://baa.example.org"
    world = make_world(expires_in=7)
    run_rules(world, f.TODAY)

    alerts_dispatch(as_of=f.TODAY, daily=True)

    message = next(m for m in mail.outbox if m.to == [world.center_officer.email])
    alert = Alert.objects.get(recipient=world.center_officer)
    html = message.alternatives[0][0]
    for text in (message.body, html):
        assert "Lakeside Imaging Network" in text
        assert (
            "You receive this because you are a compliance officer of Lakeside Imaging Network for "
            "Lakeside Imaging Center, and BAA expiry reminders are on in your alert preferences." in text
        )
        assert f"https://baa.example.org/findings/{alert.finding_id}/" in text
        assert "https://baa.example.org/alerts/preferences/" in text
        assert "contains no patient information" in text
    assert message.subject == (
        "[Lakeside Imaging Network] BAA with Sectra PACS Services expires in 7 days (2026-11-29): Sectra BAA 2024"
    )
    assert "Expires on: 2026-11-29 (7 days left)" in message.body


def test_it_keeps_the_message_id_of_an_alert_at_every_attempt():
    world = make_world(missing=1)
    run_rules(world, f.TODAY)
    alerts_dispatch(as_of=f.TODAY)
    alerts = list(Alert.objects.all())
    ids = {message_id(alert) for alert in alerts}
    assert len(ids) == 3
    again = Alert.objects.get(pk=alerts[0].pk)
    assert message_id(again) == message_id(alerts[0])
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == ids
    assert all(alert.status == SendStatus.SENT for alert in alerts)


def test_it_signs_an_unsubscribe_token_for_one_user():
    token = unsubscribe_token(42)
    assert user_id_from_unsubscribe_token(token) == 42
    assert user_id_from_unsubscribe_token(token[:-2] + "xx") is None
    assert user_id_from_unsubscribe_token(signing.dumps({"u": 42}, salt="another purpose")) is None
    assert user_id_from_unsubscribe_token("not-a-token") is None


def test_it_lists_the_missing_provisions_of_a_baa_in_its_alert(settings):
    """A "BAA lacks a required provision" finding (rule 10) is alerted with its provision review: each
    provision not found or confirmed missing, with its paragraph of 45 CFR 164.504(e)(2)."""
    from documents.models import OfficerVerdict, ProvisionReview
    from documents.provisions import PROVISIONS

    settings.SITE_URL = "https://baa.example.org"
    world = make_world()
    for pid in PROVISIONS:
        ProvisionReview.objects.create(agreement=world.agreement, provision=pid, detected=pid != "P10", page_number=1)
    ProvisionReview.objects.filter(agreement=world.agreement, provision="P4").update(
        officer_verdict=OfficerVerdict.MISSING, note="Only security incidents, not breaches, section 3."
    )
    run_rules(world, f.TODAY)

    alerts_dispatch(as_of=f.TODAY, daily=True)

    message = next(m for m in mail.outbox if m.to == [world.admin.email] and "lacks" in m.subject)
    assert Alert.objects.filter(recipient=world.admin, kind=AlertKind.PROVISION_GAP).exists()
    assert message.subject == (
        "[Lakeside Imaging Network] BAA lacks 2 required provisions: Sectra BAA 2024 with Sectra PACS Services"
    )
    html = message.alternatives[0][0]
    p4 = f"P4 {PROVISIONS['P4'][0]} ({PROVISIONS['P4'][1]}), confirmed missing: Only security incidents, not breaches"
    p10 = f"P10 {PROVISIONS['P10'][0]} ({PROVISIONS['P10'][1]}), not found in the signed copy"
    for text in (message.body, html):
        assert "lacks 2 required provisions of 45 CFR 164.504(e)(2)" in text
        assert "BAAs lacking a required provision are on in your alert preferences" in text
    assert f"  - {p4}" in message.body and f"  - {p10}" in message.body
    assert f"<li>{p10}</li>" in html
    assert message.body.index(p4) < message.body.index(p10)
    # Nobody outside the agreement's facilities (the hospital's officer) is alerted.
    assert not any(m.to == [world.hospital_officer.email] and "lacks" in m.subject for m in mail.outbox)
