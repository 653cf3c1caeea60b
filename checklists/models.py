from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from organizations.querysets import RestrictedQuerySet

#: The teleradiology HIPAA checklist, verbatim and in order (shared/domain/hipaa-baa.md).
TELERADIOLOGY_ITEMS: tuple[str, ...] = (
    "Signed BAA executed before any PHI access",
    "Radiologists licensed in the state where the patient is located",
    "Facility credentialing and privileging (credentialing by proxy for hospitals)",
    "Encrypted transmission and unique user access controls",
    "Audit logging of study access and critical-results relay",
    "Documented breach-notification and incident-response process",
    "Work performed inside your PACS with IT-controlled roles",
)


def checklist_applies(category: str) -> bool:
    """Whether engagements of a vendor of this category have the checklist (settings.CHECKLIST_VENDOR_CATEGORIES)."""
    return category in settings.CHECKLIST_VENDOR_CATEGORIES


#: Item 1 is computed from the data (BAA execution date vs. first PHI access), never ticked by hand.
COMPUTED_ITEM_NUMBER = 1
#: Items 2 (licensure where the patient is) and 3 (credentialing and privileging) are computed from the
#: readers' records (readers app; compliance.rules.with_reader_items_computed).
READER_ITEM_NUMBERS = (2, 3)
#: Every computed item; the others are verified by hand, with evidence and a next review date.
COMPUTED_ITEM_NUMBERS = (COMPUTED_ITEM_NUMBER, *READER_ITEM_NUMBERS)


class ItemStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    COMPUTED = "computed", "Computed from the records"


#: Statuses that count as done for the checklist-incomplete rule.
DONE_STATUSES = (ItemStatus.COMPLETE, ItemStatus.NOT_APPLICABLE, ItemStatus.COMPUTED)


class ChecklistQuerySet(RestrictedQuerySet):
    organization_lookup = "engagement__facility__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(engagement__facility__in=facility_ids)


class TeleradiologyChecklist(models.Model):
    """The 7-item teleradiology HIPAA checklist of one engagement with a teleradiology vendor."""

    engagement = models.OneToOneField(
        "vendors.Engagement", on_delete=models.PROTECT, related_name="teleradiology_checklist"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = ChecklistQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Teleradiology checklist: {self.engagement}"


class ChecklistItemQuerySet(RestrictedQuerySet):
    organization_lookup = "checklist__engagement__facility__organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        return Q(checklist__engagement__facility__in=facility_ids)


class ChecklistItem(models.Model):
    # PROTECT: the items are the checklist's evidence, kept six years (45 CFR 164.316(b)(2)).
    checklist = models.ForeignKey(TeleradiologyChecklist, on_delete=models.PROTECT, related_name="items")
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=ItemStatus.choices, default=ItemStatus.NOT_STARTED)
    not_applicable_reason = models.TextField(blank=True)
    evidence_note = models.TextField(blank=True)
    # Replaced by a new upload, never removed: earlier files stay in storage and in the history.
    evidence_file = models.FileField(upload_to="evidence/%Y/", blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_on = models.DateField(null=True, blank=True)
    next_review_on = models.DateField("next review due", null=True, blank=True)
    history = HistoricalRecords()

    objects = ChecklistItemQuerySet.as_manager()

    class Meta:
        ordering = ["checklist", "number"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "number"], name="checklist_item_number_unique"),
            models.CheckConstraint(
                condition=Q(number__gte=1, number__lte=len(TELERADIOLOGY_ITEMS)), name="checklist_item_number_in_range"
            ),
            models.CheckConstraint(
                condition=(Q(number__in=COMPUTED_ITEM_NUMBERS) & Q(status=ItemStatus.COMPUTED))
                | (~Q(number__in=COMPUTED_ITEM_NUMBERS) & ~Q(status=ItemStatus.COMPUTED)),
                name="checklist_items_computed",
                violation_error_message="Items 1 to 3 are computed from the records; the others are set by hand.",
            ),
            # A verification without a next review date is never overdue, however old: licenses,
            # credentials and safeguards change (45 CFR 164.308(a)(8), periodic evaluation).
            models.CheckConstraint(
                condition=~Q(status=ItemStatus.COMPLETE) | Q(next_review_on__isnull=False),
                name="checklist_item_complete_has_next_review",
                violation_error_message="A complete item needs the date of its next review.",
            ),
            models.CheckConstraint(
                condition=~Q(status=ItemStatus.NOT_APPLICABLE) | ~Q(not_applicable_reason=""),
                name="checklist_item_not_applicable_has_reason",
                violation_error_message="Say why the item does not apply.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number}. {self.text}"

    @property
    def text(self) -> str:
        return TELERADIOLOGY_ITEMS[self.number - 1]

    @property
    def is_computed(self) -> bool:
        return self.number in COMPUTED_ITEM_NUMBERS
