"""Reads of the documents app, all through the permission gate."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from agreements.models import AgreementDocument, BusinessAssociateAgreement
from documents.models import DocumentPage, DocumentReading, KeyTermSuggestion, ProvisionReview, ReadingState
from organizations.querysets import Action


@dataclass
class AgreementReview:
    readings: list[DocumentReading]
    provisions: list[ProvisionReview]
    key_terms: list[KeyTermSuggestion]

    @property
    def reading_in_progress(self) -> bool:
        return any(r.state in (ReadingState.QUEUED, ReadingState.READING) for r in self.readings)

    @property
    def missing(self) -> list[ProvisionReview]:
        return [p for p in self.provisions if not p.present]


def agreement_review(user, agreement: BusinessAssociateAgreement) -> AgreementReview:
    readings = list(
        DocumentReading.objects.restrict(user, Action.VIEW)
        .filter(document__agreement=agreement)
        .select_related("document")
        .order_by("-document__uploaded_at")
    )
    provisions = sorted(
        ProvisionReview.objects.restrict(user, Action.VIEW).filter(agreement=agreement).select_related("decided_by"),
        key=lambda p: int(p.provision[1:]),
    )
    key_terms = list(
        KeyTermSuggestion.objects.restrict(user, Action.VIEW)
        .filter(agreement=agreement, document=provisions[0].document_id if provisions else None)
        .order_by("pk")
    )
    for suggestion in key_terms:
        if suggestion.term == "parties" and suggestion.value.get("names"):
            suggestion.vendor_match = vendor_match(agreement.vendor.legal_name, suggestion.value["names"].values())
    return AgreementReview(readings, provisions, key_terms)


@dataclass(frozen=True)
class VendorMatch:
    name: str
    score: int

    @property
    def matches(self) -> bool:
        return self.score >= VENDOR_MATCH_THRESHOLD


#: rapidfuzz token_set_ratio at or above which a party name is taken for the vendor's legal name
#: ("Northwind PACS Inc." and "Northwind PACS").
VENDOR_MATCH_THRESHOLD = 85


def vendor_match(vendor_name: str, party_names) -> VendorMatch | None:
    """The party of the document closest to the vendor on record (case, punctuation and word order
    ignored), so the officer sees at once when a document names another company."""
    best = process.extractOne(
        vendor_name, list(party_names), scorer=fuzz.token_set_ratio, processor=utils.default_process
    )
    return VendorMatch(best[0], int(best[1])) if best else None


@dataclass
class SearchHit:
    page: DocumentPage
    snippet: str


def search_pages(user, query: str, *, limit: int = 50) -> list[SearchHit]:
    """Pages of the agreements' documents containing ``query`` (a phrase, case and line breaks
    ignored), only of documents the user may see."""
    from documents.services import _search_text

    needle = _search_text(query)
    if len(needle) < 2:
        return []
    visible = AgreementDocument.objects.restrict(user, Action.VIEW).filter(agreement__archived_at__isnull=True)
    pages = (
        DocumentPage.objects.filter(document__in=visible, search_text__contains=needle)
        .select_related("document__agreement__vendor")
        .order_by("document__agreement__vendor__legal_name", "document_id", "number")[:limit]
    )
    hits = []
    for page in pages:
        at = page.search_text.find(needle)
        start = max(0, at - 80)
        snippet = page.search_text[start : at + len(needle) + 80]
        hits.append(SearchHit(page, re.sub(r"^\S*\s", "", snippet) if start else snippet))
    return hits
