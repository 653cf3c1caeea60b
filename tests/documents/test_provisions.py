"""The provision review and key terms on the generated corpus (shared/domain P1-P12)."""

from __future__ import annotations

import pytest

from documents import corpus, keyterms, provisions
from documents.provisions import PROVISIONS
from tests.documents.conftest import read_in_process

ALL = set(PROVISIONS)


def _found(pages) -> set[str]:
    return {pid for pid, verdict in provisions.review(pages).items() if verdict.found}


def test_the_hhs_sample_has_all_twelve_with_quote_and_page(hhs_pdf, tmp_path_factory):
    verdicts = provisions.review(read_in_process(hhs_pdf, tmp_path_factory))
    assert {pid for pid, v in verdicts.items() if v.found} == ALL
    assert verdicts["P12"].page == 2 and "violated a material term" in verdicts["P12"].quote
    assert "164.528" in verdicts["P8"].quote


@pytest.mark.parametrize("missing", sorted(PROVISIONS, key=lambda p: int(p[1:])))
def test_a_variant_without_one_provision_lacks_exactly_that_one(missing, tmp_path_factory):
    pdf = corpus.render(corpus.without(corpus.hhs_clauses(), missing))
    assert _found(read_in_process(pdf, tmp_path_factory)) == ALL - {missing}


def test_another_drafting_style_with_its_own_defined_terms_has_all_twelve(commercial_pdf, tmp_path_factory):
    # "Provider"/"Customer", reordered, P4 split over three sentences, P6-P8 merged into one.
    assert _found(read_in_process(commercial_pdf, tmp_path_factory)) == ALL


def test_the_commercial_style_without_flow_down_lacks_p5(tmp_path_factory):
    pdf = corpus.render(corpus.without(corpus.commercial_clauses(), "P5"))
    assert _found(read_in_process(pdf, tmp_path_factory)) == ALL - {"P5"}


def test_a_rotated_image_only_scan_gets_the_same_verdicts_by_ocr(hhs_pdf, tmp_path_factory):
    pages = read_in_process(corpus.scan(hhs_pdf, degrees=1.5), tmp_path_factory)
    assert all(ocr for _, ocr in pages)
    assert _found(pages) == ALL


@pytest.mark.parametrize(
    ("window", "value", "unit", "max_days"),
    [
        ("within four (4) hours", 4, "hours", 1),
        ("within thirty (30) calendar days", 30, "calendar_days", 30),
        ("within 45 business days", 45, "business_days", 63),
        (None, None, "not_stated", None),
    ],
)
def test_the_breach_window_is_read_with_its_unit(window, value, unit, max_days, tmp_path_factory):
    pages = read_in_process(corpus.render(corpus.commercial_clauses(window)), tmp_path_factory)
    terms = keyterms.extract(provisions.sentences(pages), provisions_found={})
    assert terms["breach_window"].value == {"value": value, "unit": unit, "max_calendar_days": max_days}
    assert (terms["breach_window"].page == 1) == (window is not None)


def test_it_reads_the_term_renewal_and_parties(commercial_pdf, tmp_path_factory):
    pages = read_in_process(commercial_pdf, tmp_path_factory)
    terms = keyterms.extract(provisions.sentences(pages), provisions_found={"P5": True, "P11": True})
    assert terms["effective_on"].value == {"date": "2025-03-03"}
    assert terms["term_months"].value == {"months": 36}
    assert terms["auto_renewal"].value == {"auto_renews": True, "renewal_term_months": 12, "notice_days": 90}
    assert terms["parties"].value["names"] == {
        "Provider": "Cloudline Imaging Systems LLC",
        "Customer": "Riverbend Radiology Group, P.A.",
    }
    assert terms["flow_down"].value == {"present": True}
