"""Turning report data into a PDF: Django templates rendered by WeasyPrint, signed PDFs appended with pypdf.

Rendering never reaches the network: the URL fetcher refuses everything but files under the static
directory (and data: URLs), so a name or a link in the data can never make the server fetch anything.
Fonts are the system's DejaVu faces, found by fontconfig.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from agreements.models import AgreementDocument
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
            "verify_url": f"{settings.SITE_URL}{reverse('reports:verify')}",
            "signature_roles": (
                "Privacy officer",
                "Compliance officer",
                "Facility administrator" if data.facility else "Chief executive or designee",
            ),
        },
    )


def html_to_pdf(html: str) -> bytes:
    root = static_root()
    return HTML(string=html, base_url=str(root), url_fetcher=LocalOnlyURLFetcher(root)).write_pdf()


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
    progress: Callable[[int], None] = lambda percent: None,
) -> bytes:
    appendix = appendix_entries(data.documents) if include_signed_documents else []
    html = render_report_html(
        data, paper_size=paper_size, report_number=report_number, generated_by=generated_by, appendix=appendix
    )
    progress(45)
    pdf = html_to_pdf(html)
    progress(85)
    if appendix:
        pdf = append_documents(pdf, appendix)
        progress(92)
    return pdf
