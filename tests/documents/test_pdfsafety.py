"""The safety check of uploads (issue 15, item 3): only real PDFs without active content pass."""

from __future__ import annotations

import io

from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from documents.pdfsafety import check_pdf


def _modified(pdf: bytes, change) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_it_accepts_a_born_digital_baa(hhs_pdf):
    verdict = check_pdf(hhs_pdf)
    assert verdict.accepted and verdict.pages == 3


def test_it_refuses_html_that_starts_with_the_pdf_magic_bytes():
    verdict = check_pdf(b"%PDF-1.7\n<html><body><script>alert(1)</script></body></html>")
    assert not verdict.accepted and not verdict.is_pdf
    assert "not a readable PDF document" in verdict.message


def test_it_refuses_a_pdf_with_open_action_javascript(javascript_pdf):
    verdict = check_pdf(javascript_pdf)
    assert verdict.is_pdf and not verdict.accepted
    assert "JavaScript" in verdict.message and "Print the document to a new PDF" in verdict.message


def test_it_refuses_embedded_files(hhs_pdf):
    verdict = check_pdf(_modified(hhs_pdf, lambda w: w.add_attachment("payload.exe", b"MZ")))
    assert verdict.problems == ["embedded files"]


def test_it_refuses_a_launch_action_on_a_page(hhs_pdf):
    def launch(writer):
        action = DictionaryObject(
            {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")}
        )
        writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): writer._add_object(action)})

    verdict = check_pdf(_modified(hhs_pdf, launch))
    assert any("launch action" in problem for problem in verdict.problems)


def test_it_refuses_form_javascript_in_a_field(hhs_pdf):
    def field_script(writer):
        js = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("x")})
        writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
            {
                NameObject("/Fields"): writer._add_object(
                    DictionaryObject({NameObject("/AA"): DictionaryObject({NameObject("/K"): writer._add_object(js)})})
                )
            }
        )

    assert check_pdf(_modified(hhs_pdf, field_script)).problems == ["JavaScript"]


def test_it_refuses_an_encrypted_pdf(hhs_pdf):
    verdict = check_pdf(_modified(hhs_pdf, lambda w: w.encrypt("secret")))
    assert not verdict.accepted and "encrypted" in verdict.message
