"""Billing periods, statement dates, payment due dates and the correction cutoff (section 9)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ledger.billing import (
    BillingPeriod,
    correction_cutoff,
    payment_due,
    period_named,
    period_of,
    statement_date,
)
from gateway.standards.calendar import BusinessCalendar, CalendarSettings

EASTERN = ZoneInfo("America/Toronto")
CALENDAR = BusinessCalendar(CalendarSettings())


def test_contract_example_period_2026_11() -> None:
    """Period 2026-11 runs from 2026-10-18 to 2026-11-17."""
    assert period_named("2026-11") == BillingPeriod(
        "2026-11", date(2026, 10, 18), date(2026, 11, 17)
    )


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 10, 18), "2026-11"),
        (date(2026, 11, 1), "2026-11"),
        (date(2026, 11, 17), "2026-11"),
        (date(2026, 11, 18), "2026-12"),
        (date(2026, 12, 18), "2027-01"),
        (date(2027, 1, 17), "2027-01"),
    ],
)
def test_period_of_a_day_is_named_by_the_month_it_ends_in(day: date, name: str) -> None:
    """The 18th starts the next month's period; December's 18th starts January's."""
    assert period_of(day).name == name


def test_january_period_starts_in_the_previous_year() -> None:
    """Period 2027-01 runs from 2026-12-18 to 2027-01-17."""
    period = period_named("2027-01")
    assert (period.start, period.end) == (date(2026, 12, 18), date(2027, 1, 17))


@pytest.mark.parametrize(
    "name", ["", "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "0001-01"]
)
def test_period_named_refuses_bad_names(name: str) -> None:
    """A period name is a real month written YYYY-MM; anything else is a ValueError."""
    with pytest.raises(ValueError, match="billing period"):
        period_named(name)


def test_inconsistent_periods_cannot_be_built() -> None:
    """A BillingPeriod always runs from the 18th to the 17th and is named by its end month."""
    with pytest.raises(ValueError, match="billing period"):
        BillingPeriod("2026-12", date(2026, 10, 18), date(2026, 11, 17))
    with pytest.raises(ValueError, match="billing period"):
        BillingPeriod("2026-11", date(2026, 10, 1), date(2026, 11, 17))


def test_statement_is_issued_on_the_25th() -> None:
    """The statement of period 2026-11 is dated 2026-11-25."""
    assert statement_date(period_named("2026-11")) == date(2026, 11, 25)


@pytest.mark.parametrize(
    ("name", "due"),
    [
        ("2024-11", date(2024, 11, 29)),
        ("2026-11", date(2026, 12, 1)),
        ("2025-06", date(2025, 7, 2)),
    ],
)
@pytest.mark.parametrize("due_skips_holidays", [False, True])
def test_contract_examples_of_payment_due(name: str, due: date, due_skips_holidays: bool) -> None:
    """Section 9's examples; 2025-06 moves past Canada Day. Both modes agree on them."""
    assert payment_due(period_named(name), CALENDAR, due_skips_holidays) == due


def test_due_skips_holidays_counts_business_days() -> None:
    """Period 2026-09: the 10th weekday is 1 October; the 10th business day, past 30 September,
    is the 2nd."""
    period = period_named("2026-09")
    assert payment_due(period, CALENDAR, due_skips_holidays=False) == date(2026, 10, 1)
    assert payment_due(period, CALENDAR, due_skips_holidays=True) == date(2026, 10, 2)


def test_due_is_never_later_than_18_days_after_the_period() -> None:
    """Period 2026-12 with business days: the 10th is 5 January, capped at 4 January."""
    period = period_named("2026-12")
    assert payment_due(period, CALENDAR, due_skips_holidays=False) == date(2026, 12, 31)
    assert payment_due(period, CALENDAR, due_skips_holidays=True) == date(2027, 1, 4)


def test_the_18_day_limit_holds_even_on_a_weekend() -> None:
    """Period 2025-12 with business days: the 10th is Monday 5 January; the limit, Sunday the
    4th, wins ("never later than"), although it is not a business day."""
    period = period_named("2025-12")
    assert payment_due(period, CALENDAR, due_skips_holidays=True) == date(2026, 1, 4)


def test_closures_move_the_due_date_up_to_the_limit() -> None:
    """A closed due day moves to the next business day, but not past the 18-day limit."""
    one_day = BusinessCalendar(CalendarSettings(closures=(date(2026, 12, 1),)))
    assert payment_due(period_named("2026-11"), one_day, due_skips_holidays=False) == date(
        2026, 12, 2
    )
    closed_week = tuple(date(2026, 12, day) for day in range(1, 5))
    whole_week = BusinessCalendar(CalendarSettings(closures=closed_week))
    assert payment_due(period_named("2026-11"), whole_week, due_skips_holidays=False) == date(
        2026, 12, 5
    )


def test_correction_cutoff_is_end_of_due_date_in_eastern_time() -> None:
    """Corrections close at 23:59:59 Eastern on the due date, standard or daylight time."""
    winter = correction_cutoff(period_named("2026-11"), CALENDAR, due_skips_holidays=False)
    assert winter == datetime(2026, 12, 2, 4, 59, 59, tzinfo=UTC)
    assert winter.tzinfo is UTC
    summer = correction_cutoff(period_named("2025-06"), CALENDAR, due_skips_holidays=False)
    assert summer == datetime(2025, 7, 3, 3, 59, 59, tzinfo=UTC)


days = st.dates(min_value=date(2021, 1, 1), max_value=date(2060, 12, 31))


@given(day=days)
def test_every_day_is_in_exactly_its_period(day: date) -> None:
    """period_of(day) contains the day, and its name leads back to the same period."""
    period = period_of(day)
    assert period.start <= day <= period.end
    assert period_named(period.name) == period
    assert period_of(period.end + timedelta(days=1)).start == period.end + timedelta(days=1)


@given(day=days, due_skips_holidays=st.booleans())
def test_due_date_lies_within_18_days_after_the_period(day: date, due_skips_holidays: bool) -> None:
    """The due date is after the period's end, at most 18 days later, and no earlier than the
    10th weekday; without due_skips_holidays it is always a business day."""
    period = period_of(day)
    due = payment_due(period, CALENDAR, due_skips_holidays)
    assert period.end + timedelta(days=12) <= due <= period.end + timedelta(days=18)
    if not due_skips_holidays:
        assert CALENDAR.is_business_day(due)
