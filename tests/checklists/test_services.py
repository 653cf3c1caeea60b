"""The teleradiology checklist services (checklists.services)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from checklists.models import TELERADIOLOGY_ITEMS, ChecklistItem, ItemStatus, TeleradiologyChecklist
from checklists.services import checklist_ensure, checklist_item_update
from organizations.models import Role
from tests import factories as f
from tests.factories import days
from vendors.models import VendorCategory

pytestmark = pytest.mark.django_db


@pytest.fixture
def engagement():
    return f.engagement(f.vendor(category=VendorCategory.TELERADIOLOGY))


@pytest.fixture
def item(engagement):
    return checklist_ensure(engagement=engagement).items.get(number=4)


def test_checklist_ensure_creates_the_seven_items_with_items_one_to_three_computed(engagement):
    checklist = checklist_ensure(engagement=engagement)

    items = list(checklist.items.order_by("number").values_list("number", "status"))
    assert items == [(n, ItemStatus.COMPUTED) for n in (1, 2, 3)] + [(n, ItemStatus.NOT_STARTED) for n in range(4, 8)]
    assert len(items) == len(TELERADIOLOGY_ITEMS)
    assert [item.text for item in checklist.items.order_by("number")] == list(TELERADIOLOGY_ITEMS)


def test_checklist_ensure_is_idempotent(engagement):
    first = checklist_ensure(engagement=engagement)
    item_ids = set(first.items.values_list("pk", flat=True))

    second = checklist_ensure(engagement=engagement)

    assert second.pk == first.pk
    assert TeleradiologyChecklist.objects.count() == 1
    assert set(second.items.values_list("pk", flat=True)) == item_ids


def test_checklist_ensure_adds_only_the_missing_items_and_keeps_recorded_ones(engagement, item):
    officer = f.user(engagement.facility.organization)
    checklist_item_update(
        item=item, status=ItemStatus.COMPLETE, verified_by=officer, verified_on=days(-1), next_review_on=days(364)
    )
    ChecklistItem.objects.filter(checklist__engagement=engagement, number=5).delete()

    checklist_ensure(engagement=engagement)

    numbers = sorted(ChecklistItem.objects.filter(checklist__engagement=engagement).values_list("number", flat=True))
    assert numbers == list(range(1, 8))
    item.refresh_from_db()
    assert (item.status, item.verified_by) == (ItemStatus.COMPLETE, officer)


@pytest.mark.parametrize(
    ("number", "refusal"),
    [(1, "Item 1 is computed from the agreements"), (2, "state licenses"), (3, "privileges")],
)
def test_computed_items_cannot_be_set_by_hand(engagement, number, refusal):
    officer = f.user(engagement.facility.organization)
    computed = checklist_ensure(engagement=engagement).items.get(number=number)

    for status in (ItemStatus.COMPLETE, ItemStatus.NOT_APPLICABLE, ItemStatus.NOT_STARTED):
        with pytest.raises(ValidationError, match=refusal):
            checklist_item_update(
                item=computed,
                status=status,
                verified_by=officer,
                verified_on=days(-1),
                next_review_on=days(300),
                not_applicable_reason="x",
            )

    computed.refresh_from_db()
    assert (computed.status, computed.verified_by) == (ItemStatus.COMPUTED, None)


def test_another_item_cannot_be_marked_computed(item):
    with pytest.raises(ValidationError) as refused:
        checklist_item_update(item=item, status=ItemStatus.COMPUTED)

    assert refused.value.message_dict == {"status": ["Only items 1 to 3 are computed."]}
    item.refresh_from_db()
    assert item.status == ItemStatus.NOT_STARTED


def test_a_complete_item_needs_who_verified_it_and_when(item):
    with pytest.raises(ValidationError, match="who verified it and when"):
        checklist_item_update(item=item, status=ItemStatus.COMPLETE, verified_on=days(-1))

    item.refresh_from_db()
    assert item.status == ItemStatus.NOT_STARTED


def test_a_complete_item_needs_its_next_review_date(item):
    """An item verified years ago with no review date would never be overdue."""
    officer = f.user(item.checklist.engagement.facility.organization)

    with pytest.raises(ValidationError) as refused:
        checklist_item_update(item=item, status=ItemStatus.COMPLETE, verified_by=officer, verified_on=days(-1))

    assert refused.value.message_dict == {"next_review_on": ["A complete item needs the date of its next review."]}
    item.refresh_from_db()
    assert item.status == ItemStatus.NOT_STARTED


def test_not_applicable_needs_a_reason(item):
    with pytest.raises(ValidationError, match="Say why the item does not apply"):
        checklist_item_update(item=item, status=ItemStatus.NOT_APPLICABLE)

    checklist_item_update(
        item=item, status=ItemStatus.NOT_APPLICABLE, not_applicable_reason="Credentialing by proxy (482.22(a)(3))"
    )
    item.refresh_from_db()
    assert (item.status, item.not_applicable_reason) == (
        ItemStatus.NOT_APPLICABLE,
        "Credentialing by proxy (482.22(a)(3))",
    )


def test_it_records_the_verification_with_history(item):
    officer = f.user(item.checklist.engagement.facility.organization)
    versions = item.history.count()

    checklist_item_update(
        item=item,
        status=ItemStatus.COMPLETE,
        evidence_note="License verified on the Texas Medical Board site",
        verified_by=officer,
        verified_on=days(-2),
        next_review_on=days(363),
    )

    item.refresh_from_db()
    assert (item.status, item.verified_by, item.verified_on, item.next_review_on) == (
        ItemStatus.COMPLETE,
        officer,
        days(-2),
        days(363),
    )
    assert item.evidence_note == "License verified on the Texas Medical Board site"
    assert item.history.count() == versions + 1


def test_a_viewer_or_an_auditor_does_not_verify_an_item(item):
    org = item.checklist.engagement.facility.organization
    for role in (Role.VIEWER, Role.AUDITOR):
        with pytest.raises(ValidationError) as error:
            checklist_item_update(
                item=item,
                status=ItemStatus.COMPLETE,
                verified_by=f.user(org, role=role),
                verified_on=days(-1),
                next_review_on=days(364),
            )
        assert "verified_by" in error.value.message_dict
