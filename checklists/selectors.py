"""Reads of the checklists app, always through the permission gate."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet, Subquery

from agreements.models import BusinessAssociateAgreement
from checklists.models import ChecklistItem, TeleradiologyChecklist
from compliance.rules import (
    agreements_in_force,
    agreements_signed,
    assignments_active_on,
    covering,
    with_item_one_computed,
    with_reader_items_computed,
    with_reader_standing,
)
from organizations.querysets import Action
from readers.models import ReadingAssignment
from vendors.models import Engagement


@dataclass
class ItemOne:
    """Item 1, computed from the agreements by the rules' building blocks (never ticked by hand)."""

    met: bool
    agreement: BusinessAssociateAgreement | None
    phi_access_starts_on: datetime.date | None


def engagement_with_item_one(user, pk: int, as_of: datetime.date) -> QuerySet[Engagement]:
    """The engagement (visible to ``user``), annotated with ``baa_before_phi`` (item 1, the rules'
    ``with_item_one_computed``), ``readers_licensed`` and ``readers_privileged`` (items 2 and 3, the
    rules' ``with_reader_items_computed``) and the covering agreement to link to: the one in force,
    or else the first one signed."""
    in_force = covering(agreements_in_force(as_of), as_of=as_of).order_by("executed_on", "pk")
    signed = covering(agreements_signed()).order_by("executed_on", "pk")
    engagements = with_item_one_computed(Engagement.objects.restrict(user, Action.VIEW).filter(pk=pk), as_of)
    return with_reader_items_computed(engagements, as_of).annotate(
        item_one_agreement_id=Subquery(in_force.values("pk")[:1]),
        first_signed_agreement_id=Subquery(signed.values("pk")[:1]),
    )


def item_one(user, engagement: Engagement) -> ItemOne:
    agreement_id = engagement.item_one_agreement_id or engagement.first_signed_agreement_id
    agreement = None
    if agreement_id:
        agreement = BusinessAssociateAgreement.objects.restrict(user, Action.VIEW).filter(pk=agreement_id).first()
    return ItemOne(
        met=bool(engagement.baa_before_phi),
        agreement=agreement,
        phi_access_starts_on=engagement.phi_access_starts_on,
    )


def checklist_items(user, checklist: TeleradiologyChecklist) -> QuerySet[ChecklistItem]:
    return (
        ChecklistItem.objects.restrict(user, Action.VIEW)
        .filter(checklist=checklist)
        .select_related("verified_by")
        .order_by("number")
    )


def checklist_of(engagement: Engagement) -> TeleradiologyChecklist | None:
    return TeleradiologyChecklist.objects.filter(engagement=engagement).first()


@dataclass
class ReaderItems:
    """Items 2 and 3, computed from the readers' records (compliance.rules.with_reader_items_computed),
    with the radiologists reading for the engagement on the day and where each one stands."""

    licensed: bool
    privileged: bool
    readers: list[ReadingAssignment]


def reader_items(user, engagement: Engagement, as_of: datetime.date) -> ReaderItems:
    assignments = (
        assignments_active_on(as_of)
        .filter(engagement=engagement)
        .filter(pk__in=ReadingAssignment.objects.restrict(user, Action.VIEW).values("pk"))
        .select_related("radiologist")
        .order_by("radiologist__last_name", "radiologist__first_name", "pk")
    )
    return ReaderItems(
        licensed=bool(engagement.readers_licensed),
        privileged=bool(engagement.readers_privileged),
        readers=list(with_reader_standing(assignments, as_of)),
    )


@dataclass(frozen=True)
class EvidenceVersion:
    history_id: int
    name: str
    replaced_at: datetime.datetime


def earlier_evidence_files(item: ChecklistItem) -> list[EvidenceVersion]:
    """The item's earlier evidence files, newest first: each file it had before the current one, from
    the history (a new upload never removes the old file, 45 CFR 164.316(b)(2)). ``item`` has passed
    the gate already."""
    versions: list[EvidenceVersion] = []
    seen = {item.evidence_file.name} if item.evidence_file else set()
    for record in item.history.exclude(evidence_file="").order_by("-history_date", "-history_id"):
        if record.evidence_file not in seen:
            seen.add(record.evidence_file)
            versions.append(
                EvidenceVersion(
                    history_id=record.history_id,
                    name=record.evidence_file.rsplit("/", 1)[-1],
                    replaced_at=record.history_date,
                )
            )
    return versions
