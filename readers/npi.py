"""The National Provider Identifier and its check digit.

An NPI is 10 digits; the last is a Luhn (mod 10) check digit computed over the first nine prefixed
with 80840, the ISO 7812 issuer prefix of US health identifiers (45 CFR 162.406; CMS, "Requirements
for the NPI check digit"). A typo in one digit, or two swapped neighbours, fails the check.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

#: ISO 7812 card-issuer prefix for US health applications; part of the check, not of the NPI.
NPI_PREFIX = "80840"


def luhn_check_digit(digits: str) -> int:
    """The digit that makes ``digits`` + it pass the Luhn check."""
    total = 0
    # From the right, every other digit starting with the rightmost of ``digits`` is doubled.
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def npi_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an NPI, or None when it is a valid one."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return f"\u201c{value}\u201d is not an NPI: an NPI has exactly 10 digits."
    expected = luhn_check_digit(NPI_PREFIX + value[:9])
    if int(value[9]) != expected:
        return f"\u201c{value}\u201d is not a valid NPI: its check digit should be {expected} (check for a typo)."
    return None


def validate_npi(value: str) -> None:
    problem = npi_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_npi")


def with_check_digit(first_nine: str) -> str:
    """A valid NPI from its first nine digits (for seeds and tests)."""
    return first_nine + str(luhn_check_digit(NPI_PREFIX + first_nine))
