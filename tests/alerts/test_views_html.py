"""The Nu HTML checker finds no error on the alerts pages, the finding page with its alerts, and the
unsubscribe pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from alerts.emails import unsubscribe_token
from alerts.models import Alert, SendStatus
from alerts.services import alerts_dispatch
from compliance.models import Finding, FindingKind
from tests import factories as f
from tests.alerts.conftest import make_world, run_rules
from tests.browser.test_html_validity import vnu_errors

pytestmark = pytest.mark.django_db
BACKEND = "django.contrib.auth.backends.ModelBackend"


def test_it_serves_valid_html_on_the_alerts_pages(tmp_path):
    world = make_world(expires_in=30, missing=1, pacs_name="<b>Sectra</b> & Co")
    run_rules(world, f.TODAY)
    alerts_dispatch(as_of=f.TODAY)
    Alert.objects.filter(recipient=world.officer).update(
        status=SendStatus.REFUSED, sent_at=None, last_error="SMTPRecipientsRefused: 550 <unknown>"
    )
    admin = Client()
    admin.force_login(world.admin, backend=BACKEND)
    finding = Finding.objects.get(kind=FindingKind.BAA_EXPIRING)
    token = unsubscribe_token(world.officer.pk)
    documents = {
        "list": admin.get(reverse("alerts:list")),
        "filtered": admin.get(reverse("alerts:list"), {"status": "failed", "kind": "missing_baa"}),
        "preferences": admin.get(reverse("alerts:preferences")),
        "finding": admin.get(reverse("compliance:finding_detail", args=[finding.pk])),
        "unsubscribe_ask": Client().get(reverse("alerts:unsubscribe", args=[token])),
        "unsubscribe_done": Client().post(reverse("alerts:unsubscribe", args=[token])),
        "unsubscribe_invalid": Client().get(reverse("alerts:unsubscribe", args=["forged"])),
    }
    assert "Addresses the mail server refused" in documents["list"].content.decode()
    assert documents["unsubscribe_invalid"].status_code == 404
    errors = vnu_errors({name: response.content.decode() for name, response in documents.items()}, tmp_path)
    assert not errors, json.dumps(errors, indent=2)
