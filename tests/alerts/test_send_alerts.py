"""The send_alerts command: sends what is due now, in this process, and says how many were sent,
failed and skipped."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from alerts.models import DispatchRun
from tests import factories as f
from tests.alerts.conftest import make_world, run_rules

pytestmark = pytest.mark.django_db


def send_alerts(*args: str) -> str:
    out = io.StringIO()
    call_command("send_alerts", *args, stdout=out)
    return out.getvalue().strip()


def test_it_sends_what_is_due_and_says_how_many():
    world = make_world(expires_in=30, missing=1)
    run_rules(world, f.TODAY)

    assert send_alerts("--as-of", "2026-11-22") == (
        "Alerts: 6 inserted, 6 sent, 0 refused, 0 uncertain, 0 deferred, 0 failed, 0 skipped (0 digests opened)."
    )
    assert len(mail.outbox) == 6
    assert send_alerts("--as-of", "2026-11-22") == (
        "Alerts: 0 inserted, 0 sent, 0 refused, 0 uncertain, 0 deferred, 0 failed, 0 skipped (0 digests opened)."
    )
    assert DispatchRun.objects.filter(finished_at__isnull=False).count() == 2


def test_it_sends_only_first_alerts_and_retries_without_digests():
    world = make_world(expires_in=30, missing=1)
    run_rules(world, f.TODAY)
    assert send_alerts("--as-of", "2026-11-22", "--no-digests", "--organization", str(world.org.pk)).startswith(
        "Alerts: 3 inserted, 3 sent, 0 refused"
    )
    assert not DispatchRun.objects.get().daily


def test_it_refuses_a_bad_date_or_organization():
    with pytest.raises(CommandError, match="is not a date"):
        send_alerts("--as-of", "22/11/2026")
    with pytest.raises(CommandError, match="No organization with id 999999"):
        send_alerts("--organization", "999999")
