"""Identifier formats and check digits (CONTRACT sections 2 and 3: ACC001, TXN001)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identifiers import (
    account_valid,
    luhn_check_digit,
    luhn_valid,
    sender_valid,
    transaction_valid,
)


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("123456782", True),
        ("123456783", False),
        ("123026635", True),
        ("046454286", True),
        ("0", True),
        ("79927398713", True),
        ("79927398710", False),
        ("12345000001235", True),
        ("12345000001234", False),
        ("", False),
        ("12345678a", False),
        ("\u0661\u0662\u0663", False),
        (" 123456782", False),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    """The mod-10 (Luhn) check digit; only ASCII digits qualify."""
    assert luhn_valid(digits) is valid


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_exactly_one_check_digit_fits(body: str) -> None:
    """For any digits, exactly one of the ten possible last digits makes the number valid,
    and it is the one `luhn_check_digit` gives."""
    assert sum(luhn_valid(body + str(last)) for last in range(10)) == 1
    assert luhn_valid(body + luhn_check_digit(body))


def textbook_check_digit(digits: str) -> str:
    """The Luhn check digit as usually written: from the right, double every second digit of
    the whole number (the check digit being the first), subtracting 9 from doubles over 9."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str(-total % 10)


@given(st.text(alphabet="0123456789", max_size=40))
def test_check_digit_matches_the_textbook_algorithm(body: str) -> None:
    assert luhn_check_digit(body) == textbook_check_digit(body)


@pytest.mark.parametrize("digits", ["12a4", "\u0661\u0662", " 12", "12\n", "-1"])
def test_check_digit_of_anything_but_ascii_digits_is_refused(digits: str) -> None:
    with pytest.raises(ValueError, match="not ASCII digits"):
        luhn_check_digit(digits)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("123456782RM0001", True),
        ("123026635RM9999", True),
        ("123456783RM0001", False),
        ("123456782rm0001", False),
        ("123456782RT0001", False),
        ("123456782RM001", False),
        ("123456782RM00001", False),
        ("12345678RM0001", False),
        ("123456782RM0001\n", False),
        (" 123456782RM0001", False),
        ("123456782", False),
        ("", False),
    ],
)
def test_account_valid(number: str, valid: bool) -> None:
    """An RM account is a BN9 with a good Luhn digit, `RM`, and four digits, nothing else."""
    assert account_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "check_digit", "valid"),
    [
        ("12345000001235", "luhn", True),
        ("12345000001234", "luhn", False),
        ("12345000001234", "none", True),
        ("12345000002001", "luhn", True),
        ("1234500000123", "luhn", False),
        ("1234500000123", "none", False),
        ("123450000012350", "none", False),
        ("1234500000123X", "none", False),
        ("", "none", False),
    ],
)
def test_transaction_valid(number: str, check_digit: str, valid: bool) -> None:
    """14 digits always; the last checked under `luhn`, any digit accepted under `none`."""
    assert transaction_valid(number, check_digit) is valid


@pytest.mark.parametrize(
    ("sender", "valid"),
    [("BRK42", True), ("a_b-C", True), ("x" * 32, True), ("x" * 33, False), ("", False),
     ("BRK 42", False), ("BRK/42", False), ("BRK+", False)],
)
def test_sender_valid(sender: str, valid: bool) -> None:
    """A partner id is [A-Za-z0-9_-]{1,32}, as in the topic."""
    assert sender_valid(sender) is valid
