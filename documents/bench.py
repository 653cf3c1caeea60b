"""The documents section of `manage.py bench` (scale/bench.py): reading and reviewing a born-digital
BAA against pdftotext, and OCR of a scanned BAA against plain Tesseract on the same page images."""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from pathlib import Path

import pypdfium2 as pdfium

from agreements.models import BusinessAssociateAgreement
from agreements.services import document_store
from documents import corpus
from documents.reader import OCR_DPI, TESSERACT, TESSERACT_ENV
from documents.services import document_read

#: Pages of the born-digital BAA and of the scan, per dataset size (tiny keeps CI's run short).
PAGES = {"tiny": (2, 1), "small": (20, 10), "large": (20, 10)}


def bench_documents(size: str, organization, runs: int, log, *, measure, rolled_back) -> list:
    text_pages, scan_pages = PAGES[size]
    agreement = BusinessAssociateAgreement.objects.filter(organization=organization).order_by("pk").first()
    born_digital = corpus.render(corpus.commercial_clauses(), pages=text_pages)
    scan = corpus.scan(corpus.render(corpus.commercial_clauses(), pages=scan_pages + 1), degrees=1.0)
    scan = _first_pages(scan, scan_pages)
    scratch = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    (scratch / "baa.pdf").write_bytes(born_digital)
    images = []
    for index, page in enumerate(pdfium.PdfDocument(scan)):
        path = scratch / f"page-{index + 1}.png"
        page.render(scale=OCR_DPI / 72, grayscale=True).to_pil().save(path)
        images.append(str(path))

    def read(content: bytes):
        def path():
            with rolled_back():
                document = document_store(
                    agreement=agreement, upload=io.BytesIO(content), original_name="bench.pdf", uploaded_by=None
                )
                document_read(document_id=document.pk)

        return path

    log(f"documents: reading + review of a {text_pages}-page BAA; OCR of a {scan_pages}-page scan")
    text = measure(
        f"document reading + provision review ({text_pages}-page born-digital BAA)",
        read(born_digital),
        "pdftotext on the same file",
        lambda: subprocess.run(["pdftotext", str(scratch / "baa.pdf"), "-"], capture_output=True, check=True),
        runs=runs,
        target="<= 1.5x floor",
        notes="upload stored quarantined, forked reader: safety check, text layer, P1-P12 review, key terms",
    )
    ocr = measure(
        f"document OCR ({scan_pages}-page scan)",
        read(scan),
        "plain tesseract on the same page images",
        lambda: [
            subprocess.run(
                [TESSERACT, image, "stdout"], capture_output=True, check=True, env={**os.environ, **TESSERACT_ENV}
            )
            for image in images
        ],
        runs=max(1, runs // 3),
        target="<= 1.3x floor",
        notes="rasterising at 300 dpi, Tesseract (OSD only for pages read poorly), review and key terms",
    )
    return [text, ocr]


def _first_pages(pdf: bytes, count: int) -> bytes:
    from pypdf import PdfReader, PdfWriter

    reader, writer = PdfReader(io.BytesIO(pdf)), PdfWriter()
    for page in reader.pages[:count]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
