"""Interest: the contract's example, the dated rate table, and daily compounding."""

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.config import BillingSettings, InterestRate
from gateway.ledger.interest import compound, days_between, rate_on


def test_contract_example() -> None:
    """1,000.00 overdue for 10 days at 10 % a year: 1000 x ((1 + 0.10/365)^10 - 1) = 2.74."""
    days = days_between(date(2026, 12, 2), date(2026, 12, 11))
    assert len(days) == 10
    assert compound([(day, Decimal("1000.00")) for day in days], lambda _: Decimal(10)) \
        == Decimal("2.74")


def test_dated_rates_apply_from_their_day() -> None:
    """The latest rate starting on or before a day applies; before any, the configured one."""
    billing = BillingSettings(interest_annual_percent=Decimal(10), rates=(
        InterestRate(date(2026, 1, 1), Decimal(9)), InterestRate(date(2026, 7, 1), Decimal(8))))
    assert rate_on(date(2025, 12, 31), billing) == 10
    assert rate_on(date(2026, 1, 1), billing) == 9
    assert rate_on(date(2026, 6, 30), billing) == 9
    assert rate_on(date(2026, 7, 1), billing) == 8


def test_nothing_owed_accrues_nothing() -> None:
    """Days with a zero or negative balance add no interest."""
    days = days_between(date(2026, 1, 1), date(2026, 1, 31))
    assert compound([(day, Decimal(0)) for day in days], lambda _: Decimal(10)) == 0
    assert compound([(day, Decimal(-50)) for day in days], lambda _: Decimal(10)) == 0


@given(cents=st.integers(min_value=1, max_value=10**11), days=st.integers(0, 400),
       percent=st.decimals(min_value=0, max_value=30, places=2))
def test_constant_balance_matches_the_closed_formula(cents: int, days: int,
                                                     percent: Decimal) -> None:
    """With a constant balance the daily sum equals B x ((1 + r/365)^n - 1), rounded once."""
    from decimal import ROUND_HALF_UP, localcontext  # noqa: PLC0415

    balance = Decimal(cents) / 100
    span = days_between(date(2026, 1, 1), date(2026, 1, 1).fromordinal(
        date(2026, 1, 1).toordinal() + days - 1)) if days else []
    with localcontext() as context:
        context.prec = 60
        expected = (balance * ((1 + percent / 100 / 365) ** days - 1)).quantize(
            Decimal("0.01"), ROUND_HALF_UP)
    assert compound([(day, balance) for day in span], lambda _: percent) == expected
