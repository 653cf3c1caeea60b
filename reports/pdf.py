"""Turning report data into a PDF: Django templates rendered by WeasyPrint, signed PDFs appended with pypdf.

Rendering never reaches the network: the URL fetcher refuses everything but files under the static
directory (and data: URLs), so a name or a link in the data can never make the server fetch anything.
Fonts are the system's DejaVu faces, found by fontconfig.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher

from agreements.models import AgreementDocument
from baatracker.spreadsheets import Sheet, write_xlsx
from documents.models import Safety
from documents.pdfsafety import check_pdf
from reports.charts import findings_and_coverage_svg
from reports.models import PaperSize
from reports.selectors import ReportData

#: CSS page sizes for the paper sizes offered.
PAGE_SIZES = {PaperSize.LETTER: "letter", PaperSize.A4: "A4"}


class LocalOnlyURLFetcher(URLFetcher):
    """Fetches files under one directory and data: URLs; refuses every other URL."""

    def __init__(self, root: Path):
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self.root = Path(root).resolve()

    def fetch(self, url, headers=None):
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = Path(url2pathname(urlsplit(url).path)).resolve()
            if path.is_relative_to(self.root):
                return super().fetch(url, headers)
        raise ValueError(f"refused to fetch {url[:200]}: reports use local files only")


def static_root() -> Path:
    return Path(settings.BASE_DIR) / "static"


@dataclass
class AppendixEntry:
    document: AgreementDocument
    pages: int
    appended: bool
    reason: str = ""
    content: bytes = b""


def appendix_entries(documents: list[AgreementDocument]) -> list[AppendixEntry]:
    """Read each signed PDF and check it against the SHA-256 recorded at upload (45 CFR 164.312(c)(1)).

    A document that cannot be read, or whose bytes no longer match, is listed as not appended with
    the reason, never silently left out. Only documents the worker's safety check accepted are
    appended, and their bytes are checked again here (documents.pdfsafety): JavaScript, embedded files
    or launch actions never reach an audit packet (issue 15, item 3).
    """
    entries = []
    for document in documents:
        reading = getattr(document, "reading", None)
        if reading is None or reading.safety != Safety.ACCEPTED:
            reason = (
                f"refused at upload: {reading.safety_message}"
                if reading is not None and reading.safety == Safety.REFUSED
                else "not yet checked for active content (the reader has not accepted it)"
            )
            entries.append(AppendixEntry(document, 0, False, reason))
            continue
        try:
            with document.file.open("rb") as handle:
                content = handle.read()
        except (OSError, ValueError) as exc:
            entries.append(AppendixEntry(document, 0, False, f"file not found ({type(exc).__name__})"))
            continue
        if hashlib.sha256(content).hexdigest() != document.sha256:
            entries.append(AppendixEntry(document, 0, False, "the file no longer matches its SHA-256 at upload"))
            continue
        verdict = check_pdf(content)
        if not verdict.accepted:
            entries.append(AppendixEntry(document, 0, False, verdict.message))
            continue
        try:
            reader = PdfReader(io.BytesIO(content))
            if reader.is_encrypted:
                entries.append(AppendixEntry(document, 0, False, "the PDF is encrypted"))
                continue
            pages = len(reader.pages)
        except (PdfReadError, ValueError, KeyError, TypeError) as exc:
            entries.append(AppendixEntry(document, 0, False, f"not a readable PDF ({type(exc).__name__})"))
            continue
        entries.append(AppendixEntry(document, pages, True, content=content))
    return entries


def render_report_html(
    data: ReportData,
    *,
    paper_size: str,
    report_number: int | None,
    generated_by: str,
    appendix: list[AppendixEntry] | None = None,
) -> str:
    chart = findings_and_coverage_svg(
        findings_by_severity=data.summary.findings_by_severity,
        vendors_covered=data.summary.vendors_covered,
        vendors_with_gaps=data.summary.vendors_with_gaps,
    )
    return render_to_string(
        "reports/pdf/report.html",
        {
            "data": data,
            "summary": data.summary,
            "page_size": PAGE_SIZES[PaperSize(paper_size)],
            "report_number": report_number,
            "generated_by": generated_by,
            "chart_svg": chart,
            "appendix": appendix or [],
            "workbook_name": WORKBOOK_NAME,
            "verify_url": f"{settings.SITE_URL}{reverse('reports:verify')}",
            "signature_roles": (
                "Privacy officer",
                "Compliance officer",
                "Facility administrator" if data.facility else "Chief executive or designee",
            ),
        },
    )


#: What the report's progress says while WeasyPrint lays pages out (pages done so far, then the total).
PageProgress = Callable[[int, int | None], None]

#: WeasyPrint's own progress events (the ``weasyprint.progress`` logger): one per page laid out.
_PAGE_EVENT = re.compile(r"Step 5 - Creating layout - Page (\d+)")


class _PageEvents(logging.Handler):
    def __init__(self, on_page: Callable[[int], None]):
        super().__init__(level=logging.INFO)
        self.on_page = on_page

    def emit(self, record: logging.LogRecord) -> None:
        match = _PAGE_EVENT.match(record.getMessage())
        if match:
            self.on_page(int(match.group(1)))


@contextmanager
def _page_events(on_page: Callable[[int], None] | None) -> Iterator[None]:
    """Call ``on_page(n)`` for each page WeasyPrint lays out (its progress logger, at INFO)."""
    if on_page is None:
        yield
        return
    logger = logging.getLogger("weasyprint.progress")
    handler, level, propagate = _PageEvents(on_page), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the events go to the report's progress, not to the application's log
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def html_to_pdf(html: str, *, attachments: list[Attachment] | None = None, pages: PageProgress | None = None) -> bytes:
    """The PDF of ``html``. ``pages(n, None)`` is called as page n is laid out, ``pages(m, m)`` once
    the document has its m pages (before they are written)."""
    root = static_root()
    with _page_events((lambda n: pages(n, None)) if pages else None):
        document = HTML(string=html, base_url=str(root), url_fetcher=LocalOnlyURLFetcher(root)).render()
    if pages:
        pages(len(document.pages), len(document.pages))
    return document.write_pdf(attachments=attachments or None)


#: The workbook attached to the packet: the whole inventory, every checklist item and every provision
#: of every BAA, for a surveyor who wants to sort and filter what the PDF summarises.
WORKBOOK_NAME = "baa-inventory.xlsx"

INVENTORY_HEADERS = (
    "vendor",
    "category",
    "facility",
    "service",
    "engagement status",
    "engagement ends on",
    "PHI access",
    "PHI access since",
    "BAA status",
    "agreement",
    "executed on",
    "effective on",
    "expires on",
    "signed document SHA-256",
)
CHECKLIST_HEADERS = (
    "vendor",
    "facility",
    "item",
    "requirement",
    "status",
    "met",
    "evidence",
    "evidence file",
    "verified by",
    "verified on",
    "next review on",
    "review overdue",
)


PROVISION_HEADERS = (
    "vendor",
    "agreement",
    "provision",
    "requirement",
    "regulation",
    "result",
    "page",
    "officer",
    "note",
)


def inventory_workbook(data: ReportData) -> bytes:
    """The inventory (one row per engagement), the checklist items and the provision review of each BAA
    (P1-P12, with pages), as an XLSX workbook."""
    inventory = []
    for row in data.inventory:
        engagement, agreement = row.engagement, row.agreement
        inventory.append(
            (
                row.vendor.legal_name,
                row.vendor.get_category_display(),
                engagement.facility.name,
                engagement.service_description,
                engagement.get_status_display(),
                engagement.ends_on,
                "none (conduit)" if row.vendor.is_conduit else ", ".join(engagement.phi_verbs) or "none",
                engagement.phi_access_starts_on,
                row.baa_status,
                agreement.title if agreement else "",
                agreement.executed_on if agreement else None,
                agreement.effective_on if agreement else None,
                (agreement.expires_on or "evergreen") if agreement else None,
                row.signed_document.sha256 if row.signed_document else "",
            )
        )
    items = [
        (
            block.engagement.vendor.legal_name,
            block.engagement.facility.name,
            item.number,
            item.text,
            item.status,
            item.done,
            item.evidence,
            item.evidence_file,
            "computed" if item.number == 1 else item.verified_by,
            item.verified_on,
            item.next_review_on,
            item.review_overdue,
        )
        for block in data.checklists
        for item in block.items
    ]
    provisions = [
        (
            vendor_name,
            agreement.title,
            review.provision,
            review.label,
            review.citation,
            "present" if review.present else "missing",
            review.page_number if review.detected else None,
            review.get_officer_verdict_display() if review.officer_verdict else "as read",
            review.note,
        )
        for vendor_name, agreement in data.provision_reviews
        for review in agreement.provisions
    ]
    return write_xlsx(
        [
            Sheet(title="Inventory", headers=INVENTORY_HEADERS, rows=inventory),
            Sheet(title="Checklist items", headers=CHECKLIST_HEADERS, rows=items),
            Sheet(title="BAA provisions", headers=PROVISION_HEADERS, rows=provisions),
        ]
    )


def append_documents(report_pdf: bytes, entries: list[AppendixEntry]) -> bytes:
    """Append the signed PDFs after the report, each with an outline item under 'Signed agreements'.

    The report's own outline (its sections) is kept.
    """
    appended = [entry for entry in entries if entry.appended]
    if not appended:
        return report_pdf
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(report_pdf)))
    starts = []
    for entry in appended:
        starts.append(len(writer.pages))
        writer.append(PdfReader(io.BytesIO(entry.content)), import_outline=False)
    # Outline items after the pages exist: an item added before would point at a page number, not a page.
    parent = writer.add_outline_item(title="Signed agreements (appended)", page_number=starts[0])
    for entry, first_page in zip(appended, starts, strict=True):
        agreement = entry.document.agreement
        writer.add_outline_item(
            title=f"{agreement.vendor.legal_name}: {agreement.title} ({entry.document.get_kind_display()})",
            page_number=first_page,
            parent=parent,
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build_pdf(
    data: ReportData,
    *,
    paper_size: str,
    report_number: int | None,
    generated_by: str,
    include_signed_documents: bool,
    progress: Callable[[int, int | None], None] = lambda percent, pages: None,
    expected_pages: int | None = None,
) -> bytes:
    """The packet: the report rendered by WeasyPrint with the workbook attached, then the signed PDFs.

    ``progress(percent, pages)`` follows WeasyPrint's page events: layout is most of the time, so
    the percent moves from 35 to 85 with the pages laid out, against ``expected_pages`` (the page
    count of the last packet of the same scope, or an estimate from the rows).
    """
    appendix = appendix_entries(data.documents) if include_signed_documents else []
    html = render_report_html(
        data, paper_size=paper_size, report_number=report_number, generated_by=generated_by, appendix=appendix
    )
    workbook = Attachment(
        string=inventory_workbook(data),
        name=WORKBOOK_NAME,
        description="The whole inventory and every teleradiology checklist item",
    )
    progress(35, 0)
    expected = max(1, expected_pages or estimated_pages(data))

    furthest = [0]

    def pages(done: int, total: int | None) -> None:
        if total is not None:
            progress(85, total)
            return
        # A second pass over the pages (WeasyPrint repaginates when "page N of M" changes M) lays out
        # page 1 again: the progress shows the furthest page reached, so it never goes back.
        furthest[0] = max(furthest[0], done)
        # Never 85 before the layout ends: the estimate may be short.
        progress(35 + min(49, 50 * furthest[0] // expected), furthest[0])

    pdf = html_to_pdf(html, attachments=[workbook], pages=pages)
    if appendix:
        pdf = append_documents(pdf, appendix)
        progress(92, None)
    return pdf


#: Table rows per page of the packet, about (letter, 7.5 pt): for the progress before a first packet.
ROWS_PER_PAGE = 11


def estimated_pages(data: ReportData) -> int:
    open_items = sum(len(block.open_items) for block in data.checklists)
    rows = len(data.inventory) + len(data.findings) + len(data.checklists) + open_items + len(data.chains)
    reviews = data.provision_reviews
    rows += len(data.changes) + len(reviews) + sum(len(agreement.provisions_missing) for _, agreement in reviews)
    return 4 + rows // ROWS_PER_PAGE
