"""Reads of the checklists app, always through the permission gate."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet, Subquery

from agreements.models import BusinessAssociateAgreement
from checklists.models import ChecklistItem, TeleradiologyChecklist
from compliance.rules import agreements_in_force, agreements_signed, covering, with_item_one_computed
from organizations.querysets import Action
from vendors.models import Engagement


@dataclass
class ItemOne:
    """Item 1, computed from the agreements by the rules' building blocks (never ticked by hand)."""

    met: bool
    agreement: BusinessAssociateAgreement | None
    phi_access_starts_on: datetime.date | None


def engagement_with_item_one(user, pk: int, as_of: datetime.date) -> QuerySet[Engagement]:
    """The engagement (visible to ``user``), annotated with ``baa_before_phi`` (item 1, the rules'
    ``with_item_one_computed``) and the covering agreement to link to: the one in force, or else the
    first one signed."""
    in_force = covering(agreements_in_force(as_of), as_of=as_of).order_by("executed_on", "pk")
    signed = covering(agreements_signed()).order_by("executed_on", "pk")
    return with_item_one_computed(Engagement.objects.restrict(user, Action.VIEW).filter(pk=pk), as_of).annotate(
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
