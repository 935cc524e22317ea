"""Service standards: parsing the `[standards]` values and computing RespondBy (section 6)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.standards.deadlines import STANDARD_DAYS_MAX, Standard, parse_standard, respond_by

EASTERN = ZoneInfo("America/Toronto")
CALENDAR = BusinessCalendar(CalendarSettings())


@pytest.mark.parametrize(
    ("text", "standard"),
    [
        ("2 business days", Standard(2, "business")),
        ("1 business day", Standard(1, "business")),
        ("10 business days", Standard(10, "business")),
        ("10 calendar days", Standard(10, "calendar")),
        ("  10   Calendar  Days ", Standard(10, "calendar")),
    ],
)
def test_parse_standard_reads_the_configuration_forms(text: str, standard: Standard) -> None:
    """The contract's defaults and their singular form parse; case and spacing are forgiven."""
    assert parse_standard(text) == standard


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2",
        "2 days",
        "two business days",
        "2 business hours",
        "2 working days",
        "-1 calendar days",
        "0 business days",
        "1.5 business days",
        "2 business days later",
        "\u0662 business days",  # an Arabic-Indic digit two
        f"{STANDARD_DAYS_MAX + 1} calendar days",
    ],
)
def test_parse_standard_refuses_anything_else(text: str) -> None:
    """Anything but `N business days` or `N calendar days`, 1 <= N <= 365, is a ValueError."""
    with pytest.raises(ValueError, match="service standard"):
        parse_standard(text)


@given(
    amount=st.integers(min_value=1, max_value=STANDARD_DAYS_MAX),
    unit=st.sampled_from(["business", "calendar"]),
)
def test_standards_print_as_they_are_parsed(amount: int, unit: str) -> None:
    """str(standard) is the configuration form, and parses back to the same standard."""
    standard = parse_standard(f"{amount} {unit} days")
    assert parse_standard(str(standard)) == standard
    assert str(standard).endswith("day" if amount == 1 else "days")


def test_respond_by_business_days_follows_the_calendar() -> None:
    """A declaration received Friday 2026-11-20 18:00 Eastern is due Tuesday 18:00, in UTC."""
    received = datetime(2026, 11, 20, 18, tzinfo=EASTERN)
    due = respond_by(CALENDAR, parse_standard("2 business days"), received)
    assert due == datetime(2026, 11, 24, 23, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_respond_by_calendar_days_is_elapsed_time() -> None:
    """An appeal received 2026-10-30T10:00-04:00 is acknowledged by 2026-11-09T09:00-05:00."""
    received = datetime.fromisoformat("2026-10-30T10:00-04:00")
    due = respond_by(CALENDAR, parse_standard("10 calendar days"), received)
    assert due == datetime.fromisoformat("2026-11-09T09:00-05:00")
    assert due.tzinfo is UTC
