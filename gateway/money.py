"""Money as Decimal: rounding to cents half up, formatting, and integer cents for storage."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_cents(amount: Decimal) -> Decimal:
    """Round to cents, half up (CONTRACT section 4)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal) -> str:
    """Plain decimal with exactly two fraction digits and no grouping: `4100.00`, `-20.00`."""
    text = f"{round_cents(amount):f}"
    return "0.00" if text == "-0.00" else text


def to_cents(amount: Decimal) -> int:
    """Integer cents of an amount that has at most two fraction digits."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {amount} has more than two fraction digits")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)
