"""Reads of the documents app, all through the permission gate."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    return AgreementReview(readings, provisions, key_terms)


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
