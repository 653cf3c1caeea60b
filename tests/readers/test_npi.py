"""The NPI check digit: Luhn over the number prefixed with 80840 (CMS)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from readers.npi import npi_problem, validate_npi, with_check_digit


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1003000126"])
def test_it_accepts_valid_npis(npi):
    assert npi_problem(npi) is None
    validate_npi(npi)


@pytest.mark.parametrize(
    ("npi", "message"),
    [
        ("1234567890", "check digit should be 3"),
        ("1234567839", "check digit should be"),  # two neighbours swapped
        ("123456789", "exactly 10 digits"),
        ("12345678931", "exactly 10 digits"),
        ("12345678a3", "exactly 10 digits"),
        ("１２３４５６７８９３", "exactly 10 digits"),  # full-width digits are not ASCII
    ],
)
def test_it_refuses_invalid_npis_saying_why(npi, message):
    assert message in npi_problem(npi)
    with pytest.raises(ValidationError, match=message):
        validate_npi(npi)


def test_it_computes_the_check_digit():
    assert with_check_digit("123456789") == "1234567893"
