"""The write services schedule the compliance run themselves, once per organization and transaction, on commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from agreements.models import AgreementStatus
from agreements.services import agreement_execute, agreement_renew
from checklists.models import ItemStatus
from checklists.services import checklist_ensure, checklist_item_update
from compliance.scheduling import schedule_compliance_run
from readers.services import radiologist_save
from tests import factories as f
from tests.factories import days
from vendors.models import Engagement, Vendor, VendorCategory
from vendors.services import engagement_save, vendor_save

pytestmark = pytest.mark.django_db


def _runs(callbacks) -> list[int]:
    return [callback.organization_id for callback in callbacks]


def test_it_schedules_one_run_for_a_service_write_and_only_on_commit(django_capture_on_commit_callbacks):
    org = f.organization()

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        vendor_save(vendor=Vendor(organization=org, legal_name="Night Reads LLC", category=VendorCategory.PACS))
        assert callbacks == [], "nothing is enqueued before the commit"

    assert _runs(callbacks) == [org.pk]


def test_services_that_call_services_schedule_one_run(django_capture_on_commit_callbacks):
    """engagement_save saves the engagement and (teleradiology) its checklist: one run, not two."""
    org = f.organization()
    vendor = f.vendor(org, category=VendorCategory.TELERADIOLOGY)
    engagement = Engagement(
        vendor=vendor, facility=f.facility(org), service_description="Night reads", phi_receives=True
    )
    engagement.phi_access_starts_on = days(-1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        engagement_save(engagement=engagement)

    assert _runs(callbacks) == [org.pk]
    assert engagement.teleradiology_checklist.items.count() == 7


def test_one_transaction_of_many_writes_schedules_one_run(django_capture_on_commit_callbacks):
    """A renewal executed in the same transaction: three agreements saved (the renewal, it executed, the
    previous one superseded), one run."""
    org = f.organization()
    previous = f.agreement(f.vendor(org))

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        renewal = agreement_renew(previous=previous, title="Renewal", effective_on=days(0))
        agreement_execute(agreement=renewal, executed_on=days(0))

    previous.refresh_from_db()
    assert previous.status == AgreementStatus.SUPERSEDED
    assert _runs(callbacks) == [org.pk]


def test_each_organization_and_each_transaction_gets_its_run(django_capture_on_commit_callbacks):
    first, second = f.organization(), f.organization()
    engagement = f.engagement(f.vendor(first, category=VendorCategory.TELERADIOLOGY), f.facility(first))
    item = checklist_ensure(engagement=engagement).items.get(number=5)
    radiologist = f.radiologist(f.vendor(second, category=VendorCategory.TELERADIOLOGY))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            checklist_item_update(item=item, status=ItemStatus.IN_PROGRESS, evidence_note="Asked for the policy")
            radiologist_save(radiologist=radiologist)
            radiologist_save(radiologist=radiologist)
        with transaction.atomic():  # the next request: its own commit, its own run
            radiologist_save(radiologist=radiologist)

    assert _runs(callbacks) == [first.pk, second.pk, second.pk]


def test_a_run_scheduled_in_a_rolled_back_savepoint_is_scheduled_again(django_capture_on_commit_callbacks):
    org = f.organization()

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            schedule_compliance_run(organization_id=org.pk)
            raise RuntimeError("this part failed")
        schedule_compliance_run(organization_id=org.pk)

    assert _runs(callbacks) == [org.pk]
