"""The reader child process: text layer per page, OCR of scans (Tesseract), limits per document."""

from __future__ import annotations

import pytest

from documents import corpus
from documents.reader import Limits, ReadingFailed, read_pdf


def test_it_reads_the_text_layer_per_page_with_progress_events(hhs_pdf, tmp_path):
    path = tmp_path / "hhs.pdf"
    path.write_bytes(hhs_pdf)
    seen = []
    events = read_pdf(str(path), on_event=seen.append)
    assert seen == events
    assert [e["event"] for e in events] == ["safety", "page", "page", "page", "done"]
    pages = [e for e in events if e["event"] == "page"]
    assert {e["method"] for e in pages} == {"text_layer"} and all(e["confidence"] is None for e in pages)
    assert (
        "Business associate may only use or disclose" in " ".join(pages[1]["text"].split() + pages[0]["text"].split())
        or "may only use" in pages[1]["text"]
    )


@pytest.mark.parametrize(
    "degrees",
    [
        # Skewed 2 degrees and upside down: OSD turns it, Tesseract reads it.
        pytest.param(182, id="upside-down"),
        # Sideways: read upright first (no orientation detection on every page), it reads as nonsense
        # with low confidence, so OSD is asked the rotation and the page is read again turned.
        pytest.param(91, id="sideways"),
    ],
)
def test_it_turns_a_rotated_scan_and_reads_it_by_ocr_with_confidence(tmp_path, degrees):
    pdf = corpus.render([corpus.Clause("Provider shall report any Security Incident within four (4) hours.")])
    path = tmp_path / "scan.pdf"
    path.write_bytes(corpus.scan(pdf, degrees=degrees))
    page = next(e for e in read_pdf(str(path)) if e["event"] == "page")
    assert page["method"] == "ocr" and page["confidence"] > 70
    assert "Security Incident within four (4) hours" in " ".join(page["text"].split())


def test_it_stops_a_document_at_the_time_limit(hhs_pdf, tmp_path):
    path = tmp_path / "hhs.pdf"
    path.write_bytes(hhs_pdf)
    with pytest.raises(ReadingFailed, match="limit"):
        read_pdf(str(path), limits=Limits(wall_seconds=0.01))


def test_it_says_a_refused_document_has_no_pages(javascript_pdf, tmp_path):
    path = tmp_path / "js.pdf"
    path.write_bytes(javascript_pdf)
    events = read_pdf(str(path))
    assert len(events) == 1 and events[0]["accepted"] is False
