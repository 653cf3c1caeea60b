"""Reads of bulk onboarding, all through the permission gate."""

from __future__ import annotations

from dataclasses import dataclass

from documents.provisions import PROVISIONS
from onboarding.models import DraftState, OnboardingDraft
from organizations.querysets import Action


@dataclass
class Queue:
    drafts: list[OnboardingDraft]

    @property
    def reading(self) -> int:
        return sum(1 for d in self.drafts if d.state in (DraftState.QUEUED, DraftState.READING))

    @property
    def ready(self) -> int:
        return sum(1 for d in self.drafts if d.state == DraftState.READY)


def review_queue(user) -> Queue:
    """The drafts still in the queue that the user may see, oldest first, with their matched vendor."""
    drafts = (
        OnboardingDraft.objects.restrict(user, Action.VIEW)
        .open()
        .select_related("vendor")
        .defer("pages")
        .order_by("uploaded_at", "pk")
    )
    return Queue(list(drafts))


@dataclass(frozen=True)
class ProposedProvision:
    provision: str
    label: str
    citation: str
    found: bool
    quote: str
    page: int | None
    score: float


def proposed_provisions(draft: OnboardingDraft) -> list[ProposedProvision]:
    """P1-P12 as the reader found them in the draft, in order."""
    out = []
    for pid, (label, citation) in PROVISIONS.items():
        found = draft.provisions.get(pid, {})
        out.append(
            ProposedProvision(
                pid,
                label,
                citation,
                bool(found.get("found")),
                found.get("quote", ""),
                found.get("page"),
                float(found.get("score", 0)),
            )
        )
    return out


def proposed_terms(draft: OnboardingDraft) -> dict:
    """The review screen's initial values: the spreadsheet's terms win over the reader's proposals."""
    terms = draft.key_terms
    initial: dict = {
        "title": "",
        "executed_on": None,
        "effective_on": None,
        "expires_on": None,
        "breach_notification_window": None,
        "breach_notification_unit": "",
        "covers_all_facilities": draft.covers_all_facilities,
    }
    if "effective_on" in terms:
        initial["effective_on"] = terms["effective_on"]["value"].get("date")
        initial["executed_on"] = initial["effective_on"]
    if "expires_on" in terms:
        initial["expires_on"] = terms["expires_on"]["value"].get("date")
    window = terms.get("breach_window", {}).get("value", {})
    if window.get("unit"):
        initial["breach_notification_unit"] = window["unit"]
        initial["breach_notification_window"] = window.get("value")
    initial.update(draft.sheet_terms)
    return initial
