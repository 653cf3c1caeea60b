"""The generated corpus, shared by the documents tests (rendered once per session: WeasyPrint and
Tesseract are the slow parts, and CI runs the suite twice)."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from documents import corpus
from documents.reader import read_pages


def read_in_process(pdf: bytes, tmp_path_factory) -> list[tuple[str, bool]]:
    """The reader's events without the child process (the child is tested in test_reader.py)."""
    path = tmp_path_factory.mktemp("pdf") / "doc.pdf"
    path.write_bytes(pdf)
    return [(e["text"], e["method"] == "ocr") for e in read_pages(str(path)) if e["event"] == "page"]


@pytest.fixture(scope="session")
def hhs_pdf() -> bytes:
    return corpus.render(corpus.hhs_clauses("within four (4) hours"))


@pytest.fixture(scope="session")
def commercial_pdf() -> bytes:
    return corpus.render(corpus.commercial_clauses())


@pytest.fixture(scope="session")
def javascript_pdf(hhs_pdf) -> bytes:
    """A real BAA with an open action running JavaScript (what issue 15 item 3 saw accepted)."""
    writer = PdfWriter(clone_from=io.BytesIO(hhs_pdf))
    action = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('owned');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
