"""The business calendar of CONTRACT section 6: opening hours, federal holidays, closures.

Business time is counted on the local wall clock: every business day holds exactly the opening
span (12 hours by default), whatever the offset from UTC does that day.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

# CONTRACT section 6's list, spelled as the holidays package names the days in en_CA.
FEDERAL_HOLIDAYS = frozenset(
    {
        "New Year's Day",
        "Good Friday",
        "Easter Monday",
        "Victoria Day",
        "Canada Day",
        "Labour Day",
        "National Day for Truth and Reconciliation",
        "Thanksgiving Day",
        "Remembrance Day",
        "Christmas Day",
        "Boxing Day",
    }
)
_OBSERVED_SUFFIX = " (observed)"
_NAME_SEPARATOR = "; "
_SATURDAY = 5


@dataclass(frozen=True)
class CalendarSettings:
    """The `[calendar]` configuration table: zone, opening hours and extra closed days."""

    timezone: str = "America/Toronto"
    opens: time = time(7)
    closes: time = time(19)
    closures: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("calendar opens and closes are wall-clock times without an offset")
        if not self.opens < self.closes:
            raise ValueError(
                f"calendar opens ({self.opens}) must be earlier than closes ({self.closes})"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"calendar timezone {self.timezone!r} is not a known IANA time zone"
            ) from error


def federal_holidays(year: int) -> dict[date, str]:
    """The federal statutory holidays of a year and their observed days, by date."""
    found = holidays.country_holidays(
        "CA",
        subdiv=None,
        categories=("government", "public"),
        language="en_CA",
        observed=True,
        years=year,
    )
    days: dict[date, str] = {}
    for day, names in found.items():
        # Filter by name so that a newer holidays release adding a day to these categories
        # cannot close the gateway on a day the contract keeps open.
        kept = [
            name
            for name in names.split(_NAME_SEPARATOR)
            if name.removesuffix(_OBSERVED_SUFFIX) in FEDERAL_HOLIDAYS
        ]
        if kept:
            days[day] = _NAME_SEPARATOR.join(kept)
    # The package files Easter Monday under no Canadian category; it is never moved.
    good_friday = next((day for day, name in days.items() if "Good Friday" in name), None)
    if good_friday is not None:
        days[good_friday + timedelta(days=3)] = "Easter Monday"
    return days


def _clock(moment: time | datetime) -> timedelta:
    """Wall-clock time since local midnight."""
    return timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset; pass a time-zone-aware time")


_LATE_FROM_CACHE_SIZE = 4096
"""Release dates seen recently: every declaration asks for its own (DEC004)."""


class BusinessCalendar:
    """Business days, business time and deadlines; pure apart from a per-year holiday cache."""

    def __init__(self, settings: CalendarSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.opens = _clock(settings.opens)
        self.closes = _clock(settings.closes)
        self.span = self.closes - self.opens
        self._closures = frozenset(settings.closures)
        self._holidays_by_year: dict[int, dict[date, str]] = {}
        self._late_from: dict[tuple[date, int], datetime] = {}

    def _holidays(self, year: int) -> dict[date, str]:
        if year not in self._holidays_by_year:
            self._holidays_by_year[year] = federal_holidays(year)
        return self._holidays_by_year[year]

    def holiday_name(self, day: date) -> str | None:
        return self._holidays(day.year).get(day)

    def is_holiday(self, day: date) -> bool:
        return day in self._holidays(day.year)

    def is_closure(self, day: date) -> bool:
        return day in self._closures

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < _SATURDAY and not self.is_holiday(day) and not self.is_closure(day)

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def local_date(self, moment: datetime) -> date:
        """The calendar's local (Eastern by default) date of a moment."""
        _require_aware(moment)
        return moment.astimezone(self.zone).date()

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """`days` x 24 hours of elapsed time after `start`, in UTC."""
        _require_aware(start)
        return start.astimezone(UTC) + timedelta(days=days)

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """`days` opening spans of business time after `start`, in UTC.

        The clock runs from `start`, or from the next opening when `start` is outside business
        hours (closing time included). A deadline may fall exactly at closing time.
        """
        if days < 0:
            raise ValueError(f"business days must not be negative, got {days}")
        return self.add_business_time(start, days * self.span)

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """`duration` of business time after `start`, in UTC (the clock of add_business_days;
        used to move a deadline by the time a paused clock stood still)."""
        if duration < timedelta(0):
            raise ValueError(f"business time must not be negative, got {duration}")
        day, clock = self._clock_start(start)
        remaining = duration
        while remaining > self.closes - clock:
            remaining -= self.closes - clock
            day = self.next_business_day(day)
            clock = self.opens
        return self._moment(day, clock + remaining)

    def business_seconds_between(self, start: datetime, end: datetime) -> int:
        """Whole seconds of business time from `start` to `end`; 0 when `end` is not later."""
        _require_aware(start)
        _require_aware(end)
        if end <= start:
            return 0
        first = start.astimezone(self.zone)
        last = end.astimezone(self.zone)
        elapsed = timedelta(0)
        for day in _days(first.date(), last.date()):
            if not self.is_business_day(day):
                continue
            opened = max(self.opens, _clock(first)) if day == first.date() else self.opens
            closed = min(self.closes, _clock(last)) if day == last.date() else self.closes
            elapsed += max(closed - opened, timedelta(0))
        return elapsed // timedelta(seconds=1)

    def end_of_business_days_after(self, day: date, n: int) -> datetime:
        """The local midnight that ends the `n`-th business day after `day`, in UTC.

        Something due within `n` business days of `day` is late from this moment on (DEC004);
        `n` = 0 gives the end of `day` itself.
        """
        if n < 0:
            raise ValueError(f"business days must not be negative, got {n}")
        known = self._late_from.get((day, n))
        if known is not None:
            return known
        last = day
        for _ in range(n):
            last = self.next_business_day(last)
        moment = self._moment(last + timedelta(days=1), timedelta(0))
        if len(self._late_from) >= _LATE_FROM_CACHE_SIZE:
            self._late_from.clear()
        self._late_from[(day, n)] = moment
        return moment

    def _clock_start(self, start: datetime) -> tuple[date, timedelta]:
        """Where a business-time clock started at `start` begins to run: a day and a clock."""
        _require_aware(start)
        local = start.astimezone(self.zone)
        day, clock = local.date(), _clock(local)
        if self.is_business_day(day) and clock < self.closes:
            return day, max(clock, self.opens)
        return self.next_business_day(day), self.opens

    def _moment(self, day: date, clock: timedelta) -> datetime:
        # Adding a timedelta to an aware datetime is wall-clock arithmetic in Python, which is
        # what keeps 07:00 at 07:00 on the days the offset changes.
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        return (midnight + clock).astimezone(UTC)


def _days(first: date, last: date) -> Iterator[date]:
    """Every date from `first` to `last`, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
