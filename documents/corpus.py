# ruff: noqa: E501 - agreement text, kept one clause per line
"""The corpus the tests and `manage.py bench` generate: BAAs rendered to PDF by WeasyPrint, and scans made from them.

- ``hhs_clauses()``: the HHS sample provisions (documents/hhs_sample_baa_provisions.txt, a public-domain
  U.S. government work kept in the repository so a clean clone generates the corpus on its own),
  with the drafting guidance in brackets resolved as a covered entity would, one clause per block,
  each block tagged with the provision(s) P1-P12 it carries, so a variant can drop one provision.
- ``commercial_clauses()``: the same agreement written in another drafting style (a vendor's
  master-agreement addendum: "Provider" and "Customer", provisions reordered, P4 split over two
  sentences, P6-P8 merged into one, P11 and P12 in a termination article), written for these tests.
- ``scan()``: an image-only PDF: each page rasterised, slightly rotated, no text layer.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

HHS_TEXT = Path(__file__).with_name("hhs_sample_baa_provisions.txt")


@dataclass(frozen=True)
class Clause:
    text: str
    provisions: frozenset[str] = frozenset()
    heading: bool = False


def _c(text: str, *provisions: str) -> Clause:
    return Clause(text, frozenset(provisions))


def _h(text: str) -> Clause:
    return Clause(text, heading=True)


def _hhs_paragraphs() -> list[str]:
    body = HHS_TEXT.read_text(encoding="utf-8").split("=" * 20, 1)[1].lstrip("=\n")
    return [p.strip() for p in body.split("\n") if p.strip()]


def _hhs(paragraphs: list[str], start: str) -> str:
    """The HHS paragraph starting with ``start``, its drafting guidance in brackets resolved."""
    text = next(p for p in paragraphs if p.startswith(start))
    text = text.replace(
        "[Choose either \u201ccovered entity\u201d or \u201cindividual or the individual\u2019s designee\u201d]",
        "covered entity",
    )
    text = text.replace("[Choose either \u201ccovered entity\u201d or \u201cindividual\u201d]", "covered entity")
    text = text.replace("[Insert effective date]", "January 1, 2025").replace(
        "[Insert termination date or event]", "December 31, 2027"
    )
    text = text.replace("[Insert Name of Business Associate]", "Northwind PACS Inc.").replace(
        "[Insert Name of Covered Entity]", "Lakeside Imaging Network"
    )
    text = re.sub(r"\s*\[(?:or, if agreed to by covered entity, )(destroy)\]", r" or destroy", text)
    return re.sub(r"\s*\[[^\]]*\]", "", text).strip()


def hhs_clauses(breach_window: str | None = None) -> list[Clause]:
    """The HHS sample; ``breach_window`` (e.g. "within four (4) hours") adds the stricter timeframe the
    HHS guidance suggests to the reporting clause."""
    p = _hhs_paragraphs()
    report = _hhs(p, "(c) Report to covered entity")
    if breach_window:
        report = (
            report.rstrip(";")
            + f", and shall notify covered entity of any breach of unsecured protected health information {breach_window} after discovery;"
        )
    return [
        _h("Business Associate Agreement"),
        _c(
            "This Business Associate Agreement is entered into between Lakeside Imaging Network (\u201cCovered Entity\u201d) and Northwind PACS Inc. (\u201cBusiness Associate\u201d)."
        ),
        _h("Definitions"),
        _c(_hhs(p, "The following terms used")),
        _c(_hhs(p, "(a) Business Associate.")),
        _c(_hhs(p, "(b) Covered Entity.")),
        _c(_hhs(p, "(c) HIPAA Rules.")),
        _h("Obligations and Activities of Business Associate"),
        _c("Business Associate agrees to:"),
        _c(_hhs(p, "(a) Not use or disclose"), "P2"),
        _c(_hhs(p, "(b) Use appropriate safeguards"), "P3"),
        _c(report, "P4"),
        _c(_hhs(p, "(d) In accordance with 45 CFR 164.502(e)(1)(ii)"), "P5"),
        _c(_hhs(p, "(e) Make available protected health information"), "P6"),
        _c(_hhs(p, "(f) Make any amendment(s)"), "P7"),
        _c(_hhs(p, "(g) Maintain and make available the information required"), "P8"),
        _c(_hhs(p, "(h) To the extent the business associate"), "P9"),
        _c(_hhs(p, "(i) Make its internal practices"), "P10"),
        _h("Permitted Uses and Disclosures by Business Associate"),
        _c(
            "(a) Business associate may only use or disclose protected health information as necessary to perform "
            "the services set forth in the Master Services Agreement between the parties.",
            "P1",
        ),
        _c(_hhs(p, "(b) A business associate may use or disclose protected health information as required by law.")),
        _c(
            "(c) Business associate agrees to make uses and disclosures and requests for protected health information consistent with covered entity\u2019s minimum necessary policies and procedures."
        ),
        _c(_hhs(p, "(d) Business associate may not use or disclose protected health information in a manner")),
        _h("Term and Termination"),
        _c(_hhs(p, "(a) Term.")),
        _c(_hhs(p, "(b) Termination for Cause."), "P12"),
        _c("(c) Obligations of Business Associate Upon Termination."),
        _c(_hhs(p, "Upon termination of this Agreement for any reason, business associate shall return"), "P11"),
        _c(_hhs(p, "(d) Survival.")),
    ]


def commercial_clauses(breach_window: str | None = "within five (5) business days") -> list[Clause]:
    """The same agreement as a vendor drafts it (written for these tests)."""
    window = f" {breach_window}" if breach_window else ""
    return [
        _h("HIPAA Addendum to the Master Subscription Agreement"),
        _c(
            "This HIPAA Addendum (the \u201cAddendum\u201d) is made on March 3, 2025 by and between Cloudline Imaging "
            "Systems LLC (\u201cProvider\u201d) and Riverbend Radiology Group, P.A. (\u201cCustomer\u201d). Provider acts as "
            "Customer\u2019s business associate and Customer is a covered entity, each as defined by HIPAA."
        ),
        _h("1. Scope of Processing"),
        _c(
            "1.1 Provider may create, receive, maintain and transmit Customer PHI solely to deliver the Subscription "
            "Services described in the Agreement and its order forms.",
            "P1",
        ),
        _c(
            "1.2 Provider will not use or further disclose Customer PHI in any way the Agreement does not allow, "
            "except where the law compels it.",
            "P2",
        ),
        _h("2. Protecting PHI"),
        _c(
            "2.1 Provider maintains administrative, physical and technical safeguards that are reasonable and "
            "appropriate to stop unauthorized use of Customer PHI, and meets the Security Rule (45 CFR Part 164, "
            "Subpart C) for electronic PHI.",
            "P3",
        ),
        _c(
            "2.2 Any contractor or hosting company Provider engages that handles Customer PHI must first commit in "
            "writing to restrictions and conditions at least as protective as those binding Provider under this "
            "Addendum.",
            "P5",
        ),
        _h("3. Incidents"),
        _c(
            "3.1 Provider shall tell Customer about any use or disclosure of Customer PHI this Addendum does not "
            f"permit{window} of becoming aware of it. The same applies to every Security Incident. Such notice "
            "covers Breaches of Unsecured PHI as 45 CFR 164.410 requires.",
            "P4",
        ),
        _h("4. Individuals\u2019 Rights"),
        _c(
            "4.1 Within fifteen (15) days of Customer\u2019s request, Provider will give Customer access to PHI held in "
            "a Designated Record Set (45 CFR 164.524), incorporate any amendments Customer directs under 45 CFR "
            "164.526, and furnish the disclosure information Customer needs to account for disclosures under 45 CFR "
            "164.528.",
            "P6",
            "P7",
            "P8",
        ),
        _c(
            "4.2 Where Provider performs any of Customer\u2019s obligations under the Privacy Rule (Subpart E of 45 CFR "
            "Part 164), Provider shall follow the requirements of that Subpart applicable to Customer in carrying out "
            "that obligation.",
            "P9",
        ),
        _h("5. Audits"),
        _c(
            "5.1 Provider will open its internal practices, books and records about PHI to the Secretary of HHS for "
            "review of compliance with HIPAA.",
            "P10",
        ),
        _h("6. Term and Termination"),
        _c(
            "6.1 This Addendum runs for an initial term of three (3) years from the Effective Date and renews "
            "automatically for successive one (1) year terms unless either party gives ninety (90) days\u2019 written "
            "notice of non-renewal."
        ),
        _c(
            "6.2 Should Customer determine that Provider has violated a material term of this Addendum, Customer may "
            "end the Agreement and this Addendum immediately by written notice.",
            "P12",
        ),
        _c(
            "6.3 When this Addendum ends, Provider will return all Customer PHI or destroy it and keep no copies; "
            "where return or destruction is not feasible, Provider extends the protections of this Addendum to that "
            "PHI and limits further uses to the purposes that make return or destruction infeasible.",
            "P11",
        ),
    ]


def without(clauses: list[Clause], provision: str) -> list[Clause]:
    return [clause for clause in clauses if provision not in clause.provisions]


def render(clauses: list[Clause], *, pages: int = 1) -> bytes:
    """A born-digital PDF; ``pages`` > 1 repeats a filler page of recitals to make a long document."""
    from weasyprint import HTML

    parts = []
    for clause in clauses:
        tag = "h2" if clause.heading else "p"
        parts.append(f"<{tag}>{html.escape(clause.text)}</{tag}>")
    filler = (
        "<div style='page-break-before: always'><h2>Schedule</h2>"
        + "<p>The service levels, support hours and fees of the Master Services Agreement apply to the hosted image "
        "archive, the viewer and the routing gateway, as listed in the order form for each site.</p>" * 14 + "</div>"
    )
    body = "".join(parts) + filler * (pages - 1)
    page_css = "@page { size: letter; margin: 2cm } body { font-family: 'DejaVu Serif'; font-size: 11pt }"
    return HTML(string=f"<html><head><style>{page_css}</style></head><body>{body}</body></html>").write_pdf()


def scan(pdf: bytes, *, degrees: float = 1.5, dpi: int = 150) -> bytes:
    """An image-only PDF of ``pdf``: each page rasterised at ``dpi``, rotated by ``degrees``, grey."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    images = []
    for page in document:
        image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        images.append(image.rotate(degrees, expand=True, fillcolor=255, resample=Image.BICUBIC))
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()
