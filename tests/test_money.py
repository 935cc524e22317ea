"""Money (CONTRACT sections 2 and 4): amounts written with exactly two fraction digits, no
grouping, a leading minus when negative; rounding to cents half up."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.money import format_amount, from_cents, round_cents, to_cents


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("4100", "4100.00"),
        ("-20", "-20.00"),
        ("1234567.5", "1234567.50"),
        ("0", "0.00"),
        ("-0.00", "0.00"),
        ("-0", "0.00"),
        ("-0.004", "0.00"),
        ("0.005", "0.01"),
        ("-0.005", "-0.01"),
        ("1E+3", "1000.00"),
        ("10.425", "10.43"),
        ("999999999999999.99", "999999999999999.99"),
    ],
)
def test_format_amount(amount: str, text: str) -> None:
    """Plain decimal, two fraction digits, no grouping, no exponent, never `-0.00`."""
    assert format_amount(Decimal(amount)) == text


@given(st.integers(-(10**15), 10**15))
def test_format_amount_round_trips_cents(cents: int) -> None:
    """Every amount in cents formats to a plain string that reads back as the same amount."""
    text = format_amount(from_cents(cents))
    assert "," not in text and "E" not in text and " " not in text
    assert len(text.split(".")[1]) == 2
    assert Decimal(text) == Decimal(cents) / 100
    assert text.startswith("-") == (cents < 0)


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [("10.425", "10.43"), ("10.424999", "10.42"), ("0.125", "0.13"), ("-2.675", "-2.68"),
     ("2.5", "2.50")],
)
def test_round_cents_is_half_up(amount: str, rounded: str) -> None:
    """Rounding to cents is half up (away from zero at exactly half)."""
    result = round_cents(Decimal(amount))
    assert result == Decimal(rounded)
    assert result.as_tuple().exponent == -2


def test_cents_conversion() -> None:
    """to_cents and from_cents convert exactly; more than two fraction digits is an error."""
    assert to_cents(Decimal("1234.56")) == 123_456
    assert to_cents(Decimal("-20")) == -2_000
    assert from_cents(-2_000) == Decimal("-20.00")
    assert str(from_cents(5)) == "0.05"
    with pytest.raises(ValueError, match="more than two fraction digits"):
        to_cents(Decimal("0.001"))
