"""Derived states are computed in one place (compliance/timeline.py, compliance/rules.py and the model
helpers they name), never by comparing dates in a template, a report or an alert: a page that compares
``expires_on < today`` itself disagrees with the findings on the boundary day, or on another ``as_of``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A date operand: a field named for a date or a datetime (``_on``, ``_at``), or the day itself.
_DATE = r"[\w.]*(?:_on|_at)\b|\btoday\b|\bas_of\b"
TEMPLATE_COMPARISON = re.compile(
    r"\{%\s*(?:if|elif)\b[^%]*?(?:(?:" + _DATE + r")\s*(?:<=|>=|<|>)|(?:<=|>=|<|>)\s*(?:" + _DATE + r"))[^%]*%\}"
)
# The dates that make an agreement or a checklist item due, in force or overdue: compared in the
# derived-state modules only (an ORM lookup is a comparison too).
_FIELDS = r"(?:expires_on|next_review_on|executed_on|effective_on|terminated_on|phi_access_starts_on|verified_on)"
PYTHON_COMPARISON = re.compile(
    r"\b" + _FIELDS + r"\s*(?:<=|>=|<|>)(?!>)|(?<![-=<>])(?:<=|>=|<|>)\s*[\w.]*\b" + _FIELDS + r"\b"
    r"|\b" + _FIELDS + r"__(?:lt|lte|gt|gte|range)\b"
)


def _template_hits() -> list[str]:
    hits = []
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix in {".html", ".txt"}:
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                hits += [f"{path.relative_to(ROOT)}:{number}: {m.group(0)}" for m in TEMPLATE_COMPARISON.finditer(line)]
    return hits


def _python_hits() -> list[str]:
    hits = []
    for app in ("reports", "alerts"):
        for path in sorted((ROOT / app).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if not line.lstrip().startswith("#") and PYTHON_COMPARISON.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return hits


@pytest.mark.parametrize(
    "line",
    [
        '{% if agreement.expires_on < today %}<span class="badge">Expired</span>{% endif %}',
        "{% elif item.next_review_on and item.next_review_on <= today %}",
        "{% if engagement.phi_access_starts_on < agreement.executed_on %}",
        "{% if today > member.access_expires_on %}",
    ],
)
def test_the_template_check_finds_a_date_comparison(line):
    assert TEMPLATE_COMPARISON.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "{% if finding_count > detail_rows %}",
        "{% if item.days_left is not None and item.days_left >= 0 %}",
        "{% if in_force %}",
        "{% if item.review_overdue %}",
    ],
)
def test_the_template_check_lets_counts_and_states_through(line):
    assert not TEMPLATE_COMPARISON.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "overdue = item.next_review_on < as_of",
        "if as_of >= agreement.expires_on:",
        "qs.filter(expires_on__lt=as_of)",
    ],
)
def test_the_python_check_finds_a_date_comparison(line):
    assert PYTHON_COMPARISON.search(line)


def test_no_template_compares_dates():
    assert _template_hits() == [], "derive the state in compliance/timeline.py (or the rules) and read it"


def test_reports_and_alerts_compare_no_agreement_or_checklist_dates():
    assert _python_hits() == [], "read the state from compliance/timeline.py or the findings"
