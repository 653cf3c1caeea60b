"""Writes of the checklists app."""

from __future__ import annotations

import datetime
from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.db import transaction

from checklists.models import (
    COMPUTED_ITEM_NUMBERS,
    TELERADIOLOGY_ITEMS,
    ChecklistItem,
    ItemStatus,
    TeleradiologyChecklist,
)
from organizations.models import Role
from vendors.models import Engagement

#: Why a computed item cannot be set by hand, and what to record instead.
COMPUTED_REFUSALS: dict[int, str] = {
    1: "Item 1 is computed from the agreements: record the BAA instead.",
    2: "Item 2 is computed from the readers' state licenses: record the radiologists and their licenses instead.",
    3: "Item 3 is computed from the readers' privileges: record the privileges (and any proxy agreement) instead.",
}
#: Who may attest that an item was verified: the members who may change the organization's records.
VERIFYING_ROLES = (Role.ADMIN, Role.COMPLIANCE_OFFICER)
#: A complete item says when to check it again: licenses, credentials and contracts lapse, and the
#: review-overdue finding needs a date to count from (45 CFR 164.308(a)(8), periodic evaluation).
NEXT_REVIEW_REQUIRED = "A complete item needs the date of its next review."


def checklist_items_for(checklist: TeleradiologyChecklist, *, skip: Collection[int] = ()) -> list[ChecklistItem]:
    """The checklist's items, unsaved, but for the numbers in ``skip``: items 1-3 computed, the others not
    started."""
    return [
        ChecklistItem(
            checklist=checklist,
            number=number,
            status=ItemStatus.COMPUTED if number in COMPUTED_ITEM_NUMBERS else ItemStatus.NOT_STARTED,
        )
        for number in range(1, len(TELERADIOLOGY_ITEMS) + 1)
        if number not in skip
    ]


@transaction.atomic
def checklist_ensure(*, engagement: Engagement) -> TeleradiologyChecklist:
    """The engagement's teleradiology checklist with its 7 items, created if missing (idempotent)."""
    checklist, _ = TeleradiologyChecklist.objects.get_or_create(engagement=engagement)
    existing = set(checklist.items.values_list("number", flat=True))
    ChecklistItem.objects.bulk_create(checklist_items_for(checklist, skip=existing))
    return checklist


def checklist_item_update(
    *,
    item: ChecklistItem,
    status: str,
    evidence_note: str = "",
    not_applicable_reason: str = "",
    verified_by=None,
    verified_on: datetime.date | None = None,
    next_review_on: datetime.date | None = None,
    evidence_file=None,
) -> ChecklistItem:
    """Record the verification of one item. Items 1 to 3 are computed (from the agreements, and from the
    readers' licenses and privileges) and refused here. A complete item needs who verified it, when,
    and when to review it next: a verification with no review date would never go stale
    (45 CFR 164.308(a)(8), periodic evaluation)."""
    if item.is_computed:
        raise ValidationError(COMPUTED_REFUSALS[item.number])
    if status == ItemStatus.COMPUTED:
        raise ValidationError({"status": "Only items 1 to 3 are computed."})
    if status == ItemStatus.COMPLETE and (verified_by is None or verified_on is None):
        raise ValidationError("A complete item needs who verified it and when.")
    if status == ItemStatus.COMPLETE and next_review_on is None:
        raise ValidationError({"next_review_on": NEXT_REVIEW_REQUIRED})
    membership = getattr(verified_by, "membership", None)
    if status == ItemStatus.COMPLETE and membership is not None and membership.role not in VERIFYING_ROLES:
        raise ValidationError({"verified_by": "Viewers and auditors do not verify checklist items."})
    item.status = status
    item.evidence_note = evidence_note
    item.not_applicable_reason = not_applicable_reason
    item.verified_by = verified_by
    item.verified_on = verified_on
    item.next_review_on = next_review_on
    if evidence_file is not None:
        item.evidence_file = evidence_file
    # Evidence is kept six years (45 CFR 164.316(b)(2)): a file is replaced by a new upload (the
    # earlier one stays in storage and in the history), never detached.
    stored = ChecklistItem.objects.filter(pk=item.pk).values_list("evidence_file", flat=True).first() if item.pk else ""
    if stored and not item.evidence_file:
        raise ValidationError(
            {
                "evidence_file": "Evidence is kept: upload a new file to replace it; the earlier one stays in "
                "the history."
            }
        )
    item.full_clean()
    item.save()
    return item
