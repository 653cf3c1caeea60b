"""Key terms of a BAA, read from its text as suggestions with their quote and page.

Nothing here writes to an agreement: documents.services stores suggestions, and only the officer's
acceptance or correction writes a term (documents.services.key_term_decide).

The breach-notification window keeps its unit. 45 CFR 164.410(b) allows at most 60 *calendar* days
after discovery, so a window is also converted to the most calendar days it can span:
hours -> whole days rounded up; business days -> the calendar days from a discovery on a Friday
evening (weekends counted; public holidays are not, which the page says). The unit and the conversion
are the agreement's own (agreements.models.BreachWindowUnit, breach_window_max_days).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from agreements.models import BreachWindowUnit as Unit
from agreements.models import breach_window_max_days as max_calendar_days
from documents.provisions import Sentence

WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "twenty-four": 24,
    "thirty": 30,
    "forty-five": 45,
    "forty-eight": 48,
    "sixty": 60,
    "seventy-two": 72,
    "ninety": 90,
}
_NUMBER = (
    r"(?:(?P<word>[a-z]+(?:-[a-z]+)?)\s*\(\s*(?P<digits>\d{1,3})\s*\)|(?P<bare>\d{1,3})|(?P<onlyword>"
    + "|".join(sorted(WORD_NUMBERS, key=len, reverse=True))
    + r"))"
)
DURATION = re.compile(_NUMBER + r"\s*(?P<kind>business|working|calendar)?\s*(?P<unit>hours?|days?)\b", re.IGNORECASE)
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DATE = re.compile(
    rf"\b(?:(?P<month>{MONTHS})\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}))", re.I
)


@dataclass(frozen=True)
class Suggestion:
    term: str
    value: dict
    quote: str = ""
    page: int | None = None

    @property
    def stated(self) -> bool:
        return bool(self.quote)


def _number(match: re.Match) -> int:
    if match.group("digits"):
        return int(match.group("digits"))
    if match.group("bare"):
        return int(match.group("bare"))
    return WORD_NUMBERS[match.group("onlyword").lower()]


def parse_duration(text: str) -> tuple[int, str] | None:
    match = DURATION.search(text)
    if not match:
        return None
    value = _number(match)
    if match.group("unit").lower().startswith("hour"):
        return value, Unit.HOURS
    kind = (match.group("kind") or "").lower()
    return value, (Unit.BUSINESS_DAYS if kind in ("business", "working") else Unit.CALENDAR_DAYS)


def parse_date(text: str) -> datetime.date | None:
    match = DATE.search(text)
    if not match:
        return None
    try:
        if match.group("iso"):
            return datetime.date.fromisoformat(match.group("iso"))
        month = MONTHS.split("|").index(match.group("month").lower()) + 1
        return datetime.date(int(match.group("year")), month, int(match.group("day")))
    except ValueError:
        return None


def _notice_window(items: list[Sentence], topic: re.Pattern, term: str) -> Suggestion:
    """The first duration stated in a sentence about ``topic`` and a notice, or in its neighbours."""
    notify = re.compile(r"\b(?:report|notif|notice|tell|inform|advise)")
    for index, sentence in enumerate(items):
        if not topic.search(sentence.normalised):
            continue
        for candidate in [sentence, *reversed(items[max(0, index - 2) : index]), *items[index + 1 : index + 2]]:
            if not notify.search(candidate.normalised):
                continue
            duration = parse_duration(candidate.text.lower())
            if duration:
                value, unit = duration
                return Suggestion(
                    term,
                    {"value": value, "unit": unit, "max_calendar_days": max_calendar_days(value, unit)},
                    candidate.text,
                    candidate.page,
                )
    return Suggestion(term, {"value": None, "unit": Unit.NOT_STATED, "max_calendar_days": None})


def extract(items: list[Sentence], *, provisions_found: dict[str, bool]) -> dict[str, Suggestion]:
    found: dict[str, Suggestion] = {}
    found["breach_window"] = _notice_window(items, re.compile(r"\bbreach"), "breach_window")
    found["security_incident_window"] = _notice_window(
        items, re.compile(r"security incident"), "security_incident_window"
    )
    for sentence in items:
        lower = sentence.text.lower()
        if "effective_on" not in found and re.search(
            r"effective (?:as of|on|date)|made (?:on|as of)|entered into (?:on|as of)", lower
        ):
            day = parse_date(sentence.text)
            if day:
                found["effective_on"] = Suggestion(
                    "effective_on", {"date": day.isoformat()}, sentence.text, sentence.page
                )
        if "expires_on" not in found:
            match = re.search(r"(?:terminate|expire)s?\s+on\s+(.{0,40})", lower)
            day = parse_date(match.group(1)) if match else None
            if day:
                found["expires_on"] = Suggestion("expires_on", {"date": day.isoformat()}, sentence.text, sentence.page)
        if "term_months" not in found:
            match = re.search(r"term of\s+" + _NUMBER + r"\s*(?P<period>years?|months?)", lower)
            if match:
                months = _number(match) * (12 if match.group("period").startswith("year") else 1)
                found["term_months"] = Suggestion("term_months", {"months": months}, sentence.text, sentence.page)
        if "auto_renewal" not in found and re.search(r"renew\w* automatically|automatically renew", lower):
            renewal = re.search(r"successive\s+" + _NUMBER + r"\s*(?P<period>years?|months?)", lower)
            months = None
            if renewal:
                months = _number(renewal) * (12 if renewal.group("period").startswith("year") else 1)
            notice = re.search(_NUMBER + r"\s*days'?\s*(?:prior\s+)?(?:written\s+)?notice", lower)
            found["auto_renewal"] = Suggestion(
                "auto_renewal",
                {
                    "auto_renews": True,
                    "renewal_term_months": months,
                    "notice_days": _number(notice) if notice else None,
                },
                sentence.text,
                sentence.page,
            )
    found["parties"] = _parties(items)
    for term in ("effective_on", "expires_on", "term_months", "auto_renewal", "parties"):
        found.setdefault(term, Suggestion(term, {}))
    found["flow_down"] = Suggestion("flow_down", {"present": provisions_found.get("P5", False)})
    found["return_or_destroy"] = Suggestion("return_or_destroy", {"present": provisions_found.get("P11", False)})
    return found


_PARTIES = re.compile(
    r"between\s+(?P<a>[^()]{3,120}?)\s*\(\s*\"(?:the\s+)?(?P<ta>[^\"]+)\"\s*\)\s*,?\s*and\s+"
    r"(?P<b>[^()]{3,120}?)\s*\(\s*\"(?:the\s+)?(?P<tb>[^\"]+)\"\s*\)"
)


def _parties(items: list[Sentence]) -> Suggestion:
    """'between X ("Covered Entity") and Y ("Business Associate")': the names by their defined terms.
    Searched over the first page's text as one string (names like "Inc." end sentences)."""
    for page in sorted({s.page for s in items})[:2]:
        text = " ".join(s.text for s in items if s.page == page)  # quotes already straight (provisions.clean)
        match = _PARTIES.search(text)
        if match:
            names = {match.group("ta"): match.group("a").strip(" ,"), match.group("tb"): match.group("b").strip(" ,")}
            return Suggestion("parties", {"names": names}, match.group(0), page)
    return Suggestion("parties", {})
