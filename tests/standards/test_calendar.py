"""The business calendar: CONTRACT section 6's hours, holidays, closures and deadline arithmetic."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.standards.calendar import (
    FEDERAL_HOLIDAYS,
    BusinessCalendar,
    CalendarSettings,
    federal_holidays,
)

EASTERN = ZoneInfo("America/Toronto")
CALENDAR = BusinessCalendar(CalendarSettings())
SPAN_SECONDS = 12 * 3600


def eastern(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=EASTERN)


# Settings


def test_default_settings_are_the_contract_defaults() -> None:
    """Defaults: Monday to Friday 07:00 to 19:00 America/Toronto, no closures, a 12 h span."""
    assert CalendarSettings() == CalendarSettings("America/Toronto", time(7), time(19), ())
    assert CALENDAR.span == timedelta(hours=12)


def test_settings_reject_opening_not_before_closing() -> None:
    """Opening hours that are empty or reversed are a configuration error."""
    with pytest.raises(ValueError, match="earlier than closes"):
        CalendarSettings(opens=time(19), closes=time(7))
    with pytest.raises(ValueError, match="earlier than closes"):
        CalendarSettings(opens=time(9), closes=time(9))


def test_settings_reject_an_unknown_zone() -> None:
    """A time zone that is not in the IANA database is a configuration error."""
    with pytest.raises(ValueError, match="not a known IANA time zone"):
        CalendarSettings(timezone="America/Gotham")
    with pytest.raises(ValueError, match="not a known IANA time zone"):
        CalendarSettings(timezone="../etc/passwd")


# Holidays


@pytest.mark.parametrize("year", range(2021, 2061))
def test_every_year_has_exactly_the_contract_holidays(year: int) -> None:
    """Each year closes on the eleven federal holidays of section 6 and nothing else."""
    names = {
        name.removesuffix(" (observed)")
        for names in federal_holidays(year).values()
        for name in names.split("; ")
    }
    assert names == FEDERAL_HOLIDAYS


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 5, 18), "Victoria Day"),
        (date(2026, 7, 1), "Canada Day"),
        (date(2026, 9, 7), "Labour Day"),
        (date(2026, 9, 30), "National Day for Truth and Reconciliation"),
        (date(2026, 10, 12), "Thanksgiving Day"),
        (date(2026, 11, 11), "Remembrance Day"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 28), "Boxing Day (observed)"),
        (date(2029, 7, 2), "Canada Day (observed)"),
        (date(2029, 10, 1), "National Day for Truth and Reconciliation (observed)"),
        (date(2029, 11, 12), "Remembrance Day (observed)"),
        (date(2027, 12, 27), "Christmas Day (observed)"),
        (date(2027, 12, 28), "Boxing Day (observed)"),
        (date(2028, 1, 3), "New Year's Day (observed)"),
    ],
)
def test_holidays_and_observed_days_are_closed(day: date, name: str) -> None:
    """Federal holidays and the weekdays they are observed on are not business days."""
    assert CALENDAR.holiday_name(day) == name
    assert CALENDAR.is_holiday(day)
    assert not CALENDAR.is_business_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 8, 3),  # Civic Holiday
        date(2026, 2, 16),  # Family Day in most provinces
        date(2026, 6, 24),  # Saint-Jean-Baptiste (Quebec)
        date(2026, 4, 13),  # a week after Easter Monday
        date(2029, 7, 3),  # the day after Canada Day observed
        date(2026, 12, 29),  # the day after Boxing Day observed
    ],
)
def test_provincial_and_other_days_stay_open(day: date) -> None:
    """The Civic Holiday and provincial holidays are business days."""
    assert CALENDAR.holiday_name(day) is None
    assert CALENDAR.is_business_day(day)


def test_canada_day_on_sunday_is_observed_on_monday() -> None:
    """Canada Day 2029 falls on a Sunday: Monday 2 July is closed, Tuesday 3 July is open."""
    assert CALENDAR.is_holiday(date(2029, 7, 1))
    assert CALENDAR.next_business_day(date(2029, 6, 29)) == date(2029, 7, 3)


def test_weekends_are_not_business_days() -> None:
    """Saturday and Sunday are closed even when no holiday falls on them."""
    assert not CALENDAR.is_business_day(date(2026, 11, 21))
    assert not CALENDAR.is_business_day(date(2026, 11, 22))
    assert CALENDAR.is_business_day(date(2026, 11, 23))


def test_configured_closures_are_not_business_days() -> None:
    """A configured closure is closed, is not reported as a holiday, and deadlines skip it."""
    calendar = BusinessCalendar(CalendarSettings(closures=(date(2026, 11, 23),)))
    assert calendar.is_closure(date(2026, 11, 23))
    assert not calendar.is_holiday(date(2026, 11, 23))
    assert not calendar.is_business_day(date(2026, 11, 23))
    assert not CALENDAR.is_closure(date(2026, 11, 23))
    due = calendar.add_business_days(eastern(2026, 11, 20, 18), 2)
    assert due == eastern(2026, 11, 25, 18)


# Business-day arithmetic: the contract's examples


def test_contract_example_received_friday_evening() -> None:
    """Friday 2026-11-20 18:00 + 2 business days is Tuesday 2026-11-24 18:00 Eastern."""
    due = CALENDAR.add_business_days(eastern(2026, 11, 20, 18), 2)
    assert due == eastern(2026, 11, 24, 18)
    assert due.tzinfo is UTC


def test_contract_example_received_on_saturday() -> None:
    """Saturday 2026-11-21 09:00 + 2 business days is Tuesday 2026-11-24 19:00 (closing)."""
    due = CALENDAR.add_business_days(eastern(2026, 11, 21, 9), 2)
    assert due == eastern(2026, 11, 24, 19)


def test_contract_example_appeal_across_end_of_daylight_saving() -> None:
    """10 calendar days is 240 elapsed hours: 10:00 EDT becomes 09:00 EST on 2026-11-09."""
    due = CALENDAR.add_calendar_days(datetime.fromisoformat("2026-10-30T10:00-04:00"), 10)
    assert due == datetime.fromisoformat("2026-11-09T09:00-05:00")
    assert due.tzinfo is UTC


# Business-day arithmetic: edges


def test_start_exactly_at_opening_counts_the_whole_day() -> None:
    """Received at 07:00 on a business day, 1 business day ends at 19:00 the same day."""
    assert CALENDAR.add_business_days(eastern(2026, 11, 23, 7), 1) == eastern(2026, 11, 23, 19)


def test_start_exactly_at_closing_counts_from_next_opening() -> None:
    """Received at 19:00, the clock starts at the next opening: 1 business day is 19:00 next day."""
    assert CALENDAR.add_business_days(eastern(2026, 11, 23, 19), 1) == eastern(2026, 11, 24, 19)


def test_start_before_opening_counts_from_opening() -> None:
    """Received at 03:00 on a business day, the clock starts at 07:00 that day."""
    assert CALENDAR.add_business_days(eastern(2026, 11, 23, 3), 1) == eastern(2026, 11, 23, 19)


def test_zero_business_days_is_when_the_clock_starts() -> None:
    """0 business days gives the start within hours, or the next opening outside them."""
    assert CALENDAR.add_business_days(eastern(2026, 11, 23, 10), 0) == eastern(2026, 11, 23, 10)
    assert CALENDAR.add_business_days(eastern(2026, 11, 21, 10), 0) == eastern(2026, 11, 23, 7)


def test_negative_business_days_are_refused() -> None:
    """Deadlines only run forward."""
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_business_days(eastern(2026, 11, 23, 10), -1)


def test_business_days_skip_remembrance_day() -> None:
    """Tuesday 2026-11-10 12:00 + 2 business days skips Wednesday 11 November: Friday 12:00."""
    due = CALENDAR.add_business_days(eastern(2026, 11, 10, 12), 2)
    assert due == eastern(2026, 11, 13, 12)


def test_business_days_skip_christmas_and_boxing_day_observed() -> None:
    """Thursday 2026-12-24 12:00 + 2 business days skips 25 and 28 December: Wednesday 12:00."""
    due = CALENDAR.add_business_days(eastern(2026, 12, 24, 12), 2)
    assert due == eastern(2026, 12, 30, 12)


def test_business_days_across_start_of_daylight_saving() -> None:
    """Across 2026-03-08 the deadline keeps its wall time: Friday 12:00 EST -> Tuesday 12:00 EDT."""
    due = CALENDAR.add_business_days(eastern(2026, 3, 6, 12), 2)
    assert due == datetime.fromisoformat("2026-03-10T12:00-04:00")
    assert due == datetime(2026, 3, 10, 16, tzinfo=UTC)


def test_business_days_accept_any_offset() -> None:
    """The same moment written in UTC gives the same deadline as in Eastern time."""
    received = datetime(2026, 11, 20, 23, tzinfo=UTC)
    assert CALENDAR.add_business_days(received, 2) == eastern(2026, 11, 24, 18)


def test_naive_times_are_refused() -> None:
    """A time without an offset is ambiguous and is refused, never guessed."""
    naive = datetime(2026, 11, 20, 18)
    with pytest.raises(ValueError, match="no UTC offset"):
        CALENDAR.add_business_days(naive, 2)
    with pytest.raises(ValueError, match="no UTC offset"):
        CALENDAR.add_calendar_days(naive, 2)
    with pytest.raises(ValueError, match="no UTC offset"):
        CALENDAR.local_date(naive)


# Business time elapsed


def test_business_seconds_between_counts_only_opening_hours() -> None:
    """Friday 18:00 to Tuesday 18:00 holds 1 + 12 + 11 hours of business time."""
    elapsed = CALENDAR.business_seconds_between(
        eastern(2026, 11, 20, 18), eastern(2026, 11, 24, 18)
    )
    assert elapsed == 24 * 3600


def test_business_seconds_between_is_zero_outside_hours_or_backwards() -> None:
    """A weekend holds no business time, and an end before the start gives 0."""
    weekend = CALENDAR.business_seconds_between(eastern(2026, 11, 20, 19), eastern(2026, 11, 23, 7))
    assert weekend == 0
    backwards = CALENDAR.business_seconds_between(
        eastern(2026, 11, 24, 12), eastern(2026, 11, 23, 12)
    )
    assert backwards == 0


# Day-based rules


def test_contract_example_dec004_lateness() -> None:
    """Released Friday 2026-11-20: late from Saturday 2026-11-28 00:00 Eastern (5 business days)."""
    late_from = CALENDAR.end_of_business_days_after(date(2026, 11, 20), 5)
    assert late_from == eastern(2026, 11, 28, 0)
    assert late_from.tzinfo is UTC


def test_end_of_business_days_after_skips_holidays() -> None:
    """Released Tuesday 2026-11-10: Remembrance Day does not count, late from Thursday 19th."""
    assert CALENDAR.end_of_business_days_after(date(2026, 11, 10), 5) == eastern(2026, 11, 19, 0)


def test_local_date_is_the_eastern_date() -> None:
    """03:00 UTC on 21 November is still 20 November in Toronto."""
    assert CALENDAR.local_date(datetime(2026, 11, 21, 3, tzinfo=UTC)) == date(2026, 11, 20)
    assert CALENDAR.local_date(datetime(2026, 11, 21, 5, tzinfo=UTC)) == date(2026, 11, 21)


# Properties

moments = st.datetimes(
    min_value=datetime(2021, 1, 1),
    max_value=datetime(2040, 12, 31),
    timezones=st.sampled_from([UTC, EASTERN]),
    allow_imaginary=False,
)
business_days = st.integers(min_value=0, max_value=30)


@settings(deadline=None)
@given(start=moments, days=business_days)
def test_deadlines_fall_within_opening_hours_on_business_days(start: datetime, days: int) -> None:
    """A business-day deadline is on a business day, between opening and closing included."""
    local = CALENDAR.add_business_days(start, days).astimezone(EASTERN)
    assert CALENDAR.is_business_day(local.date())
    assert time(7) <= local.time() <= time(19)


@settings(deadline=None)
@given(start=moments, days=business_days)
def test_deadlines_grow_with_the_standard(start: datetime, days: int) -> None:
    """One more business day always gives a strictly later deadline."""
    assert CALENDAR.add_business_days(start, days) < CALENDAR.add_business_days(start, days + 1)


@settings(deadline=None)
@given(first=moments, second=moments, days=business_days)
def test_later_receipt_never_gives_an_earlier_deadline(
    first: datetime, second: datetime, days: int
) -> None:
    """Deadlines are monotone in the time of receipt."""
    earlier, later = sorted((first, second))
    assert CALENDAR.add_business_days(earlier, days) <= CALENDAR.add_business_days(later, days)


@settings(deadline=None)
@given(start=moments, days=business_days)
def test_business_time_to_the_deadline_is_the_standard(start: datetime, days: int) -> None:
    """Between receipt and an N-business-day deadline lie exactly N opening spans."""
    due = CALENDAR.add_business_days(start, days)
    assert CALENDAR.business_seconds_between(start, due) == days * SPAN_SECONDS


@settings(deadline=None)
@given(start=moments, days=st.integers(min_value=0, max_value=400))
def test_calendar_days_are_elapsed_hours(start: datetime, days: int) -> None:
    """N calendar days are exactly N x 86,400 seconds of elapsed time."""
    due = CALENDAR.add_calendar_days(start, days)
    assert (due - start).total_seconds() == days * 86_400
    assert due.tzinfo is UTC


HOLIDAYS_2026_2030 = sorted(
    day for year in range(2026, 2031) for day in CALENDAR._holidays(year)
    if day.weekday() < 5
)


@pytest.mark.parametrize("holiday", HOLIDAYS_2026_2030, ids=str)
def test_every_weekday_holiday_of_2026_to_2030_is_skipped(holiday: date) -> None:
    """Received on a closed weekday at 10:00, one business day runs from the next opening
    to that day's closing; two business days never end on a holiday."""
    received = datetime.combine(holiday, time(10), tzinfo=EASTERN)
    due = CALENDAR.add_business_days(received, 1).astimezone(EASTERN)
    assert due.date() == CALENDAR.next_business_day(holiday)
    assert due.time() == time(19)
    later = CALENDAR.add_business_days(received, 2).astimezone(EASTERN)
    assert CALENDAR.is_business_day(later.date())
