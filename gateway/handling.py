"""What every handler receives and returns: the seam between routing and the ledger or cases."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from gateway.codec.messages import Totals
from gateway.config import BillingSettings
from gateway.outcome import Status
from gateway.standards.calendar import BusinessCalendar
from gateway.store.database import Tx
from gateway.validation.problems import Problem


@dataclass(frozen=True)
class HandlerContext:
    inbox_id: int
    sender: str
    received_at: datetime
    respond_by: datetime
    calendar: BusinessCalendar
    billing: BillingSettings
    post: bool
    """False for Test messages: validate and answer, write nothing."""


@dataclass(frozen=True)
class HandlerResult:
    status: Status
    problems: tuple[Problem, ...] = ()
    assessment: Totals | None = None
    balance: Decimal | None = None
    payment_due: date | None = None
    case_number: str | None = None


def rejected(problems: list[Problem]) -> HandlerResult:
    return HandlerResult("rejected", tuple(problems))


def next_number(tx: Tx, counter: str) -> int:
    """The next value of a named counter, inside the caller's transaction."""
    row = tx.one("UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value", (counter,))
    if row is not None:
        return int(row[0])
    tx.execute("INSERT INTO counters (name, value) VALUES (?, 1)", (counter,))
    return 1
