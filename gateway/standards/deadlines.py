"""Service standards ("2 business days", "10 calendar days") and RespondBy (CONTRACT section 6)."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway.standards.calendar import BusinessCalendar

Unit = Literal["business", "calendar"]

# A standard beyond a year is a typo, and would make deadline arithmetic walk for a long time.
STANDARD_DAYS_MAX = 365

_STANDARD = re.compile(r"(?P<amount>[0-9]+) (?P<unit>business|calendar) days?")


@dataclass(frozen=True)
class Standard:
    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.unit not in ("business", "calendar"):
            raise ValueError(
                f"service standard unit must be business or calendar, not {self.unit!r}"
            )
        if not 1 <= self.amount <= STANDARD_DAYS_MAX:
            raise ValueError(
                f"service standard must be 1 to {STANDARD_DAYS_MAX} days, not {self.amount}"
            )

    def __str__(self) -> str:
        return f"{self.amount} {self.unit} day{'' if self.amount == 1 else 's'}"


def parse_standard(text: str) -> Standard:
    """Read a `[standards]` value: `2 business days`, `1 business day`, `10 calendar days`."""
    match = _STANDARD.fullmatch(" ".join(text.split()).lower())
    if match is None:
        raise ValueError(
            f"service standard {text!r} is not of the form '2 business days' or '10 calendar days'"
        )
    unit: Unit = "business" if match["unit"] == "business" else "calendar"
    return Standard(int(match["amount"]), unit)


def respond_by(calendar: BusinessCalendar, standard: Standard, received: datetime) -> datetime:
    """The RespondBy deadline, in UTC, of something received at `received` under `standard`."""
    if standard.unit == "business":
        return calendar.add_business_days(received, standard.amount)
    return calendar.add_calendar_days(received, standard.amount)
