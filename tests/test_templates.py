"""What every template does the same way (issue #18 item 7): breadcrumbs, times with their zone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from compliance.services import run_compliance
from organizations.models import Role
from tests import factories as f

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
#: Emails and the PDF state their time zone in their own words.
NOT_ON_SCREEN = ("alerts/email/", "reports/pdf/")


def screen_templates():
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if not name.startswith(NOT_ON_SCREEN):
            yield name, path.read_text()


def test_every_breadcrumb_has_the_same_name_and_look():
    found = 0
    for name, text in screen_templates():
        for nav in re.findall(r"<nav[^>]*>\s*<ol[^>]*breadcrumb[^>]*>", text):
            found += 1
            assert nav == '<nav aria-label="Breadcrumb"><ol class="breadcrumb small">', name
    assert found > 10


def test_every_time_shown_on_screen_says_its_time_zone():
    for name, text in screen_templates():
        for shown in re.findall(r'date:"[^"]*H:i[^"]*"', text):
            assert shown.endswith(' T"'), f"{name}: {shown}"


@pytest.mark.django_db
def test_the_dashboard_says_1_open_finding_in_the_singular(client):
    org = f.organization()
    client.force_login(f.user(org, role=Role.COMPLIANCE_OFFICER))
    f.engagement(f.vendor(org), f.facility(org, name="Single Site"))  # no BAA: one missing-BAA finding
    run_compliance(organization_id=org.pk)

    html = client.get(reverse("compliance:dashboard")).content.decode()

    assert '1<span class="visually-hidden"> open finding at Single Site</span>' in html
    assert "open findings at Single Site" not in html


@pytest.mark.django_db
def test_a_time_on_screen_carries_its_zone(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    org = f.organization()
    client.force_login(f.user(org, role=Role.COMPLIANCE_OFFICER))
    agreement = f.agreement(f.vendor(org))  # with its signed PDF, uploaded now

    html = client.get(reverse("agreements:detail", args=[agreement.pk])).content.decode()

    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", html), "no time with its zone (America/New_York)"
