"""The review of the 12 provisions 45 CFR 164.504(e)(2) requires of a BAA (P1-P12 of
shared/domain/hipaa-baa.md). Pure Python; the Celery task stores what it finds (documents.services).

How it generalises beyond the HHS sample's wording:
- Normalised text: the parties' defined terms ("Provider", "Company", "Customer", ...) become ``ba``
  and ``ce``; PHI, ePHI and "protected health information" become ``phi``; quotes, section signs and
  "C.F.R." are unified; lines are joined and hyphenation undone.
- Each provision is a set of concept groups (e.g. P5: someone downstream + agrees/ensures + the same /
  at least as protective + restrictions), every group being a list of alternative phrasings. A provision
  is found where one sentence (or, for P4 and P11, a window of consecutive sentences) matches every
  group, so reordered,
  split (P4 over three sentences) and merged (P6-P8 in one) provisions are found alike.
- On OCR'd pages a phrase also matches fuzzily (rapidfuzz partial_ratio >= 88), which absorbs
  recognition errors ("Secur1ty lncident").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

#: Sentences per window: a provision may be split over this many consecutive sentences. Most are one
#: sentence; reporting (P4) is often split into the incident, the breach and the timing, and the
#: return-or-destroy clause (P11) into the rule and its infeasibility exception.
WINDOW = {"P4": 3, "P11": 2}
FUZZY_THRESHOLD = 88

PROVISIONS: dict[str, tuple[str, str]] = {
    "P1": ("Permitted and required uses and disclosures of PHI", "45 CFR 164.504(e)(2)(i)"),
    "P2": (
        "No use or further disclosure other than as the contract permits or the law requires",
        "45 CFR 164.504(e)(2)(ii)(A)",
    ),
    "P3": ("Appropriate safeguards; Subpart C (Security Rule) for ePHI", "45 CFR 164.504(e)(2)(ii)(B)"),
    "P4": (
        "Report non-permitted uses or disclosures, breaches of unsecured PHI and security incidents",
        "45 CFR 164.504(e)(2)(ii)(C); 164.314(a)(2)(i)(C)",
    ),
    "P5": ("Subcontractors agree to the same restrictions (flow-down)", "45 CFR 164.504(e)(2)(ii)(D)"),
    "P6": ("PHI made available for access", "45 CFR 164.504(e)(2)(ii)(E), 164.524"),
    "P7": ("PHI made available for amendment", "45 CFR 164.504(e)(2)(ii)(F), 164.526"),
    "P8": ("Information for an accounting of disclosures", "45 CFR 164.504(e)(2)(ii)(G), 164.528"),
    "P9": ("Subpart E compliance where the BA carries out a CE obligation", "45 CFR 164.504(e)(2)(ii)(H)"),
    "P10": ("Internal practices, books and records available to HHS", "45 CFR 164.504(e)(2)(ii)(I)"),
    "P11": ("Return or destroy PHI at termination, or extend protections", "45 CFR 164.504(e)(2)(ii)(J)"),
    "P12": ("Covered entity may terminate for a material breach", "45 CFR 164.504(e)(2)(iii)"),
}

# Each group: alternatives; "re:" marks a regular expression, anything else is a phrase matched at a
# word start (and fuzzily on OCR'd text).
USE = ["use", "disclos", "create", "receive", "maintain", "transmit", "process"]
PATTERNS: dict[str, list[list[str]]] = {
    "P1": [
        ["phi"],
        USE,
        ["only", "solely", "exclusively", "may", "permitted to", "authorized to", "authorised to"],
        [
            "perform",
            "provide the services",
            "deliver",
            "services",
            "purposes",
            "on behalf of ce",
            "set forth in",
            "described in",
        ],
    ],
    "P2": [
        [r"re:\b(?:not|never|no)\b(?:\W+\w+){0,3}?\W+(?:use|disclos)"],
        ["other than", "except", "beyond", "in any way", "in any manner", "unless"],
        ["permit", "allow", "provided for", "required by law", "the law", "agreement", "addendum", "contract"],
    ],
    "P3": [
        ["safeguard", "security measures"],
        ["subpart c", "security rule", r"re:\b164\.3[01]\d"],
    ],
    "P4": [
        ["report", "notify", "notif", "notice", "tell", "inform", "advise"],
        [
            "not provided for",
            "not permit",
            "not allow",
            "not authori",
            "unauthori",
            "breach of unsecured",
            "breaches of unsecured",
            "164.410",
        ],
        ["security incident"],
    ],
    "P5": [
        ["subcontract", "agent", "contractor", "hosting", "third part", "downstream"],
        ["agree", "ensure", "require", "bind", "commit", "obligat"],
        ["same", "at least as", "equivalent", "no less", "substantially similar", "identical"],
        ["restriction", "condition", "requirement", "protective", "obligation"],
    ],
    "P6": [
        [
            r"re:164\.524",
            r"re:\baccess\b.{0,80}designated record set",
            r"re:designated record set.{0,80}\baccess\b",
            r"re:make available.{0,60}designated record set",
        ],
    ],
    "P7": [[r"re:164\.526", r"re:\bamend\w*.{0,80}(?:designated record set|phi)"]],
    "P8": [[r"re:164\.528", r"re:accounting of disclosure", r"re:account for disclosure"]],
    "P9": [
        ["subpart e", "privacy rule"],
        ["obligation", "carry out", "carries out", "carrying out", "on behalf of ce"],
        ["comply", "follow", "requirement", "adhere"],
    ],
    "P10": [
        ["secretary", "hhs", "department of health"],
        ["books", "records", "internal practices"],
        ["available", "open", "access", "inspect", "provide"],
    ],
    "P11": [
        ["return"],
        ["destroy", "destruction"],
        ["terminat", "expir", "ends", "end of", "conclusion", "cessation"],
    ],
    "P12": [
        ["terminat", "end the agreement", "end this", "cancel", "may end"],
        ["violat", "material breach", "material term", "breach of", "failed to cure", "fails to cure"],
    ],
}

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a7": " ", "\u00ad": ""})
_DEFINED = re.compile(r"\(\s*(?:the\s+)?\"([A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+){0,2})\"\s*\)")
_SENTENCE_END = re.compile(r"(?<=[.;:])\s+(?=[\"(A-Z0-9])|\s+(?=\([a-z]\)\s)|\s*\ue000\s*")
#: A short line without final punctuation followed by a capital, a number or "(": a heading.
_HEADING_LINE = re.compile(r"^([^\n]{1,50}[^\s.;:,])\n(?=[A-Z0-9(])", re.MULTILINE)
_BA_FALLBACK = ("vendor", "contractor", "company", "supplier")
_CE_FALLBACK = ("customer", "client")


def clean(text: str) -> str:
    """Join lines, undo hyphenation, unify quotes; keep case (defined terms are capitalised)."""
    text = text.translate(_QUOTES)
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    text = _HEADING_LINE.sub("\ue000\\1\ue000", text)
    return re.sub(r"\s+", " ", text).strip()


def defined_roles(text: str) -> dict[str, str]:
    """Defined terms of the parties -> "ba" or "ce", read from how the agreement introduces them."""
    roles: dict[str, str] = {}
    for term in dict.fromkeys(_DEFINED.findall(text)):
        lower = term.lower()
        if lower in ("business associate", "covered entity"):
            continue
        # "Provider acts as Customer's business associate": the term, not possessive, then the role.
        pattern = re.compile(
            rf"\b{re.escape(term)}\b(?!')(?:\W+\w+){{0,6}}?\W+(business associate|covered entity)", re.IGNORECASE
        )
        match = pattern.search(text)
        if match:
            roles[lower] = "ba" if match.group(1).lower() == "business associate" else "ce"
    if "ba" not in roles.values():
        roles.update({alias: "ba" for alias in _BA_FALLBACK if re.search(rf"\b{alias}\b", text, re.IGNORECASE)})
    if "ce" not in roles.values():
        roles.update({alias: "ce" for alias in _CE_FALLBACK if re.search(rf"\b{alias}\b", text, re.IGNORECASE)})
    return roles


def normalise(sentence: str, roles: dict[str, str]) -> str:
    text = sentence.lower()
    text = re.sub(r"c\.\s?f\.\s?r\.", "cfr", text)
    text = re.sub(r"\b(?:electronic protected health information|protected health information|e-?phi)\b", "phi", text)
    text = re.sub(r"\bbusiness associate'?s?\b", "ba", text)
    text = re.sub(r"\bcovered entity'?s?\b", "ce", text)
    for term, role in roles.items():
        text = re.sub(rf"\b{re.escape(term)}(?:'s)?\b", role, text)
    return text


@dataclass(frozen=True)
class Sentence:
    page: int
    text: str
    normalised: str
    ocr: bool


@dataclass(frozen=True)
class ProvisionVerdict:
    provision: str
    found: bool
    quote: str = ""
    page: int | None = None
    #: Share of the provision's concept groups matched by the best window (1.0 when found).
    score: float = 0.0


def sentences(pages: list[tuple[str, bool]]) -> list[Sentence]:
    """``pages``: (text, read by OCR) per page, in order."""
    cleaned = [clean(text) for text, _ in pages]
    roles = defined_roles(" ".join(cleaned))
    out = []
    for number, (text, (_, ocr)) in enumerate(zip(cleaned, pages, strict=True), start=1):
        for part in _SENTENCE_END.split(text):
            if len(part) > 3:
                out.append(Sentence(number, part, normalise(part, roles), ocr))
    return out


def _compile(alternative: str) -> re.Pattern:
    if alternative.startswith("re:"):
        return re.compile(alternative[3:])
    return re.compile(r"\b" + re.escape(alternative))


_COMPILED = {pid: [[(_compile(a), a) for a in group] for group in groups] for pid, groups in PATTERNS.items()}


def _group_matches(group, text: str, ocr: bool) -> bool:
    for pattern, _literal in group:
        if pattern.search(text):
            return True
    if ocr:
        for _, literal in group:
            if (
                not literal.startswith("re:")
                and len(literal) >= 6
                and fuzz.partial_ratio(literal, text) >= FUZZY_THRESHOLD
            ):
                return True
    return False


def review(pages: list[tuple[str, bool]], *, items: list[Sentence] | None = None) -> dict[str, ProvisionVerdict]:
    """Found / not found for each of P1-P12, with the quote and page of the best window (``items``:
    the pages' sentences when the caller has them already)."""
    items = sentences(pages) if items is None else items
    verdicts: dict[str, ProvisionVerdict] = {}
    for pid, groups in _COMPILED.items():
        best = ProvisionVerdict(pid, False)
        for start in range(len(items)):
            for size in range(1, WINDOW.get(pid, 1) + 1):
                window = items[start : start + size]
                if len(window) < size:
                    break
                text = " ".join(s.normalised for s in window)
                ocr = any(s.ocr for s in window)
                matched = sum(1 for group in groups if _group_matches(group, text, ocr))
                score = matched / len(groups)
                if score > best.score:
                    best = ProvisionVerdict(
                        pid, score == 1.0, " ".join(s.text for s in window), window[0].page, round(score, 2)
                    )
                if score == 1.0:
                    break
            if best.found:
                break
        verdicts[pid] = best
    return verdicts
