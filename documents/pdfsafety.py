"""Is an uploaded file a real PDF without active content? Pure Python, no Django: it runs inside the
resource-limited reader process (documents/reader.py), never in the web process.

The web process checks only the size and the ``%PDF-`` magic bytes (agreements.services.document_store);
anything can follow those five bytes, so the whole object graph is parsed here and walked from the
trailer. A document carrying JavaScript, embedded files, launch or remote actions, form submission,
XFA or rich media is refused: a signed BAA needs none of them, and they would otherwise reach every
reader of an audit packet (issue 15, item 3). Refusing rather than rewriting keeps the stored bytes
the bytes that were signed, so their SHA-256 still proves integrity (45 CFR 164.312(c)(1)).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

PDF_MAGIC = b"%PDF-"
#: Objects walked at most: a PDF needing more is refused rather than keeping a worker busy.
MAX_OBJECTS = 200_000

#: Action types (/S of an action dictionary) that run code, open other files or send data.
ACTIVE_ACTIONS = {
    "/JavaScript": "JavaScript",
    "/Launch": "a launch action (it starts a program or opens a file)",
    "/GoToR": "a remote go-to action (it opens another file)",
    "/GoToE": "an action opening an embedded file",
    "/SubmitForm": "a form-submission action (it sends data out)",
    "/ImportData": "an import-data action",
    "/RichMediaExecute": "a rich-media action",
}
#: Dictionary keys that carry active content whatever their value.
ACTIVE_KEYS = {
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",
    "/EmbeddedFiles": "embedded files",
    "/EmbeddedFile": "embedded files",
    "/EF": "embedded files",
    "/RichMedia": "rich media (Flash or video)",
    "/XFA": "an XFA form (it can carry scripts)",
}


@dataclass
class SafetyVerdict:
    is_pdf: bool
    problems: list[str] = field(default_factory=list)
    pages: int = 0

    @property
    def accepted(self) -> bool:
        return self.is_pdf and not self.problems

    @property
    def message(self) -> str:
        if not self.is_pdf:
            return "; ".join(self.problems) or "This file is not a readable PDF."
        if not self.problems:
            return f"A PDF of {self.pages} page(s) without active content."
        return (
            "Refused: the PDF carries " + ", ".join(self.problems) + ". A signed BAA needs none of these. "
            "Print the document to a new PDF (\u201cSave as PDF\u201d or \u201cMicrosoft Print to PDF\u201d) and "
            "upload that copy."
        )


def _walk(root, problems: set[str]) -> None:
    seen: set[tuple[int, int]] = set()
    stack = [root]
    visited = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            obj = obj.get_object()
        visited += 1
        if visited > MAX_OBJECTS:
            problems.add(f"more than {MAX_OBJECTS:,} objects")
            return
        if isinstance(obj, DictionaryObject):
            action = obj.get("/S")
            if isinstance(action, NameObject) and str(action) in ACTIVE_ACTIONS:
                problems.add(ACTIVE_ACTIONS[str(action)])
            if obj.get("/Type") == "/Filespec" and "/EF" in obj:
                problems.add("embedded files")
            for name, value in obj.items():
                if str(name) in ACTIVE_KEYS:
                    problems.add(ACTIVE_KEYS[str(name)])
                stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)


def check_pdf(data: bytes) -> SafetyVerdict:
    """Parse ``data`` as a PDF and list its active content. Never raises for bad input."""
    if not data.startswith(PDF_MAGIC):
        return SafetyVerdict(False, ["This file is not a PDF (its content does not start with %PDF-)."])
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return SafetyVerdict(False, ["The PDF is encrypted: upload an unprotected copy of the signed document."])
        pages = len(reader.pages)
        if pages == 0:
            raise ValueError("no pages")
        problems: set[str] = set()
        _walk(reader.trailer, problems)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "not a PDF we can trust"
        return SafetyVerdict(
            False,
            [
                "This file starts like a PDF but is not a readable PDF document "
                f"({type(exc).__name__}): upload the signed PDF itself."
            ],
        )
    return SafetyVerdict(True, sorted(problems), pages)
