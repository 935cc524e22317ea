"""Interest: the contract's example, the dated rate table, and daily compounding."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.config import BillingSettings, InterestRate
from gateway.ledger.interest import (
    Movement,
    compound,
    days_between,
    item_interest,
    portions,
    rate_on,
)


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


def _debit(on: date, cents: int, due: date, billed_in: str,
           bears_from: date | None = None) -> Movement:
    return Movement(on, cents, due, bears_from or due + timedelta(days=1), billed_in)


def _reduction(on: date, cents: int, billed_in: str = "2026-12") -> Movement:
    return Movement(on, -cents, None, None, billed_in)


def test_reductions_pay_the_oldest_portion_first() -> None:
    """1000.00 due 12-01 and a later 200.00 due 12-31; 1100.00 paid on 12-10 clears the first
    and leaves 100.00 of the second."""
    first = _debit(date(2026, 10, 21), 100_000, date(2026, 12, 1), "2026-11")
    second = _debit(date(2026, 11, 27), 20_000, date(2026, 12, 31), "2026-12")
    older, newer = portions([first, second, _reduction(date(2026, 12, 10), 110_000)])
    assert older.owed_on(date(2026, 12, 9)) == 1000 and older.owed_on(date(2026, 12, 10)) == 0
    assert newer.owed_on(date(2026, 12, 10)) == 100


def test_a_reduction_beyond_the_open_portions_waits_for_the_next_debit() -> None:
    """Paid 1000.00 of a 1000.00 debt, then a correction down by 200.00 (-200 owed), then up by
    300.00: only 100.00 of the last debit is owed."""
    movements = [_debit(date(2026, 10, 21), 100_000, date(2026, 12, 1), "2026-11"),
                 _reduction(date(2026, 11, 26), 100_000),
                 _reduction(date(2026, 11, 27), 20_000),
                 _debit(date(2026, 11, 28), 30_000, date(2026, 12, 31), "2026-12")]
    assert [p.cents for p in portions(movements)] == [0, 10_000]


def test_a_portion_billed_after_a_statement_is_charged_from_its_first_day() -> None:
    """The 2026-12 statement charged the item through 12-25 when only the 2026-11 portion
    existed; an adjustment billed in 2027-01 (bearing from 12-02) still owes 12-02 to 01-25,
    55 days: 100 x ((1 + 0.10/365)^55 - 1) = 1.518 -> 1.52."""
    movements = [_debit(date(2026, 10, 21), 100_000, date(2026, 12, 1), "2026-11"),
                 _reduction(date(2026, 11, 26), 100_000, "2026-11"),
                 _debit(date(2026, 12, 1), 10_000, date(2027, 2, 1), "2027-01",
                        bears_from=date(2026, 12, 2))]
    charges = [("2026-12", date(2026, 12, 25))]
    interest = item_interest(portions(movements), charges, date(2027, 1, 25),
                             lambda _: Decimal(10))
    assert interest == Decimal("1.52")


@given(first_cents=st.integers(1, 10**9),
       reductions=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 10**9)), max_size=6),
       charged_days=st.integers(0, 40))
def test_a_single_debit_is_charged_as_its_daily_balance(
        first_cents: int, reductions: list[tuple[int, int]], charged_days: int) -> None:
    """With one debit, the portion model gives what daily compounding of the item's balance
    from the day after the due date (or after the last day charged) gives."""
    start = date(2026, 10, 21)
    due = date(2026, 12, 1)
    through = date(2027, 1, 25)
    movements = [_debit(start, first_cents, due, "2026-11")]
    movements += [_reduction(start + timedelta(days=offset), cents, "2026-12")
                  for offset, cents in sorted(reductions)]
    last_charged = due + timedelta(days=charged_days)
    first_day = max(due, last_charged) + timedelta(days=1)
    daily = [(day, Decimal(sum(m.amount_cents for m in movements if m.effective_on <= day)) / 100)
             for day in days_between(first_day, through)]
    charges = [("2026-12", last_charged)]
    assert item_interest(portions(movements), charges, through, lambda _: Decimal(10)) \
        == compound(daily, lambda _: Decimal(10))
