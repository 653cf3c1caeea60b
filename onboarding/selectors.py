"""Reads of bulk onboarding, all through the permission gate."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from documents.provisions import PROVISIONS
from documents.selectors import VENDOR_MATCH_THRESHOLD
from onboarding.models import DraftState, OnboardingDraft
from organizations.querysets import Action
from vendors.models import Vendor


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


def match_vendor(names: dict[str, str], vendors: dict[int, Vendor]) -> tuple[Vendor | None, int | None, str]:
    """The vendor of ``vendors`` closest to a party of the document (rapidfuzz token-set ratio; case,
    punctuation and word order ignored), its score, and the business associate's name as the
    document gives it (by its defined term, else the second party named), proposed as a new vendor
    when no score reaches VENDOR_MATCH_THRESHOLD."""
    parties = [name for name in names.values() if name]
    if not parties:
        return None, None, ""
    choices = {pk: vendor.legal_name for pk, vendor in vendors.items()}
    best: tuple[int, int] | None = None
    for party in parties:
        match = process.extractOne(party, choices, scorer=fuzz.token_set_ratio, processor=utils.default_process)
        if match and (best is None or match[1] > best[1]):
            best = (match[2], int(match[1]))
    associate = next(
        (name for term, name in names.items() if any(w in term.lower() for w in ("associate", "provider", "vendor"))),
        parties[-1],
    )
    if best and best[1] >= VENDOR_MATCH_THRESHOLD:
        return vendors[best[0]], best[1], associate
    return None, best[1] if best else None, associate


def review_vendor(user, draft: OnboardingDraft) -> tuple[Vendor | None, int | None, str]:
    """The vendor the review screen proposes: the reader's match, or, without one, a match against the
    vendors the user may change now (a vendor created by an earlier confirmation of the same batch)."""
    if draft.vendor_id:
        return draft.vendor, draft.vendor_score, draft.proposed_vendor_name
    names = draft.key_terms.get("parties", {}).get("value", {}).get("names", {})
    vendors = {v.pk: v for v in Vendor.objects.restrict(user, Action.CHANGE)}
    vendor, score, name = match_vendor(names, vendors)
    return vendor, score if vendor else draft.vendor_score, name or draft.proposed_vendor_name
