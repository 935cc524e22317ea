"""Billing periods, statement dates, payment due dates and the correction cutoff (section 9)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from gateway.standards.calendar import BusinessCalendar

PERIOD_START_DAY = 18
PERIOD_END_DAY = 17
STATEMENT_DAY = 25
DUE_DAY_COUNT = 10
DUE_DAYS_AFTER_END_MAX = 18
CORRECTIONS_CLOSE = time(23, 59, 59)

_SATURDAY = 5
_PERIOD_NAME = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})")


@dataclass(frozen=True)
class BillingPeriod:
    """The 18th of one month to the 17th of the next, named `YYYY-MM` by the month it ends in."""

    name: str
    start: date
    end: date

    def __post_init__(self) -> None:
        expected = (f"{self.end.year:04d}-{self.end.month:02d}", _start_before(self.end))
        if self.end.day != PERIOD_END_DAY or (self.name, self.start) != expected:
            raise ValueError(
                f"billing period {self.name} {self.start}..{self.end} is not the 18th of a month "
                "to the 17th of the next, named by the month it ends in"
            )


def _start_before(end: date) -> date:
    """The 18th of the month before `end`'s month."""
    if end.month == 1:
        return date(end.year - 1, 12, PERIOD_START_DAY)
    return date(end.year, end.month - 1, PERIOD_START_DAY)


def _period_ending(year: int, month: int) -> BillingPeriod:
    end = date(year, month, PERIOD_END_DAY)
    return BillingPeriod(f"{year:04d}-{month:02d}", _start_before(end), end)


def period_of(day: date) -> BillingPeriod:
    """The billing period that contains `day`."""
    if day.day <= PERIOD_END_DAY:
        return _period_ending(day.year, day.month)
    if day.month == 12:
        return _period_ending(day.year + 1, 1)
    return _period_ending(day.year, day.month + 1)


def period_named(name: str) -> BillingPeriod:
    """The billing period called `name`, such as `2026-11`."""
    match = _PERIOD_NAME.fullmatch(name)
    if match is None or not 1 <= int(match["month"]) <= 12:
        raise ValueError(f"billing period {name!r} is not a month written YYYY-MM")
    try:
        return _period_ending(int(match["year"]), int(match["month"]))
    except ValueError as error:
        raise ValueError(f"billing period {name!r} is outside the supported years") from error


def statement_date(period: BillingPeriod) -> date:
    """The statement of account is issued on the 25th of the month the period ends in."""
    return period.end.replace(day=STATEMENT_DAY)


def payment_due(
    period: BillingPeriod, calendar: BusinessCalendar, due_skips_holidays: bool
) -> date:
    """The payment due date of a period's statement.

    The 10th weekday after the period's end, moved to the next business day when it is a holiday
    or a closure; with `due_skips_holidays`, the 10th business day. Never later than 18 days after
    the period's end, even when that last day is not a business day.
    """
    latest = period.end + timedelta(days=DUE_DAYS_AFTER_END_MAX)
    if due_skips_holidays:
        return min(_nth_day_after(period.end, DUE_DAY_COUNT, calendar.is_business_day), latest)
    due = _nth_day_after(period.end, DUE_DAY_COUNT, _is_weekday)
    if not calendar.is_business_day(due):
        due = calendar.next_business_day(due)
    return min(due, latest)


def correction_cutoff(
    period: BillingPeriod, calendar: BusinessCalendar, due_skips_holidays: bool
) -> datetime:
    """The last moment, in UTC, a correction is accepted: 23:59:59 local on the due date.

    A correction received at or before this moment is accepted; after it, only adjustments.
    """
    due = payment_due(period, calendar, due_skips_holidays)
    return datetime.combine(due, CORRECTIONS_CLOSE, tzinfo=calendar.zone).astimezone(UTC)


def _is_weekday(day: date) -> bool:
    return day.weekday() < _SATURDAY


def _nth_day_after(day: date, count: int, counts: Callable[[date], bool]) -> date:
    """The `count`-th day strictly after `day` for which `counts` holds."""
    found = 0
    while found < count:
        day += timedelta(days=1)
        if counts(day):
            found += 1
    return day
