"""Interest (CONTRACT section 9): compounded daily at the annual rate / 365 on overdue debts,
rounded half up once per debt per statement, itself a debt due on the statement's due date.

An item (a transaction, or an interest charge) is owed in portions: each debit posted to it
(the assessment, a later correction or adjustment) is a portion with its own due date and its
own first day of interest. Reductions (payments, offsets, falling corrections) pay an item's
portions oldest first. Each portion bears interest on the days it was overdue and unpaid and
not yet charged: a statement charged the portions billed in its period or before.

The pure part computes interest from an item's movements and a dated rate table; the statement
run charges it (gateway/ledger/statements.py).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext

from gateway.config import BillingSettings
from gateway.money import round_cents

DAYS_IN_YEAR = 365
PRECISION_DIGITS = 60


def rate_on(day: date, billing: BillingSettings) -> Decimal:
    """The annual percent in force on a day: the latest dated rate from before it, else the
    configured `interest_annual_percent`."""
    percent = billing.interest_annual_percent
    for rate in billing.rates:
        if rate.starts_on <= day:
            percent = rate.annual_percent
    return percent


def compound(daily_balances: Iterable[tuple[date, Decimal]],
             percent_on: Callable[[date], Decimal]) -> Decimal:
    """Interest on a balance that may change from day to day, compounded daily, in cents.

    Each day adds (balance + interest so far) x rate / 365; with a constant balance B over n
    days at rate r this is B x ((1 + r/365)^n - 1). Days with nothing owed add nothing.
    """
    return round_cents(_accrue(daily_balances, percent_on))


def _accrue(daily_balances: Iterable[tuple[date, Decimal]],
            percent_on: Callable[[date], Decimal]) -> Decimal:
    """`compound` before its one rounding."""
    with localcontext() as context:
        context.prec = PRECISION_DIGITS
        accrued = Decimal(0)
        for day, balance in daily_balances:
            if balance <= 0:
                continue
            accrued += (balance + accrued) * percent_on(day) / 100 / DAYS_IN_YEAR
        return accrued


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last` inclusive (empty when last is before first)."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


@dataclass(frozen=True)
class Movement:
    """One receivable leg of an item, in the order it was posted."""

    effective_on: date
    amount_cents: int
    due_date: date | None
    """A debit's due date; None for a leg that pays or transfers (no due date of its own)."""
    bears_from: date | None
    """A debit's first day of interest: the day after its due date, or for an adjustment the
    day after the original release period's due date. None: never bears interest."""
    billed_in: str
    """The billing period of the leg's entry, `YYYY-MM`."""


@dataclass
class Portion:
    """What is left of one debit, day by day."""

    due_date: date
    bears_from: date | None
    billed_in: str
    changes: list[tuple[date, int]] = field(default_factory=list)
    """(day, cents owed from that day on), in day order."""

    @property
    def cents(self) -> int:
        return self.changes[-1][1] if self.changes else 0

    def owed_on(self, day: date) -> Decimal:
        owed = 0
        for since, cents in self.changes:
            if since > day:
                break
            owed = cents
        return Decimal(owed) / 100

    def owe_from(self, day: date, cents: int) -> None:
        if self.changes and self.changes[-1][0] == day:
            self.changes[-1] = (day, cents)
        else:
            self.changes.append((day, cents))


def portions(movements: Sequence[Movement]) -> list[Portion]:
    """Replay an item's movements by effective date (ties in posting order): each debit opens a
    portion, each reduction pays the open portions oldest first (due date, then posting order).
    A reduction beyond what is open waits and is set against the next debits, so the portions
    always add up to the item's balance when it is not negative."""
    opened: list[Portion] = []
    unapplied_cents = 0
    for movement in sorted(movements, key=lambda m: m.effective_on):
        cents = movement.amount_cents
        if cents > 0:
            absorbed = min(unapplied_cents, cents)
            unapplied_cents -= absorbed
            if cents > absorbed:
                portion = Portion(movement.due_date or date.min, movement.bears_from,
                                  movement.billed_in)
                portion.owe_from(movement.effective_on, cents - absorbed)
                opened.append(portion)
            continue
        reduction = -cents
        for portion in sorted(opened, key=lambda p: p.due_date):  # stable: posting order
            if reduction <= 0:
                break
            paid = min(portion.cents, reduction)
            if paid > 0:
                portion.owe_from(movement.effective_on, portion.cents - paid)
                reduction -= paid
        unapplied_cents += reduction
    return opened


def charged_through(portion: Portion, charges: Iterable[tuple[str, date]]) -> date | None:
    """The last day already charged on a portion: the latest through-date of the item's
    charges by statements of the portion's billing period or later (an earlier statement was
    issued before the portion was posted)."""
    days = [through for period, through in charges if period >= portion.billed_in]
    return max(days, default=None)


def item_interest(item_portions: Iterable[Portion], charges: Sequence[tuple[str, date]],
                  through: date, percent_on: Callable[[date], Decimal]) -> Decimal:
    """Interest on an item up to `through` inclusive: each portion compounded daily over its
    days overdue and not yet charged, the sum rounded half up once (one charge per item and
    statement)."""
    with localcontext() as context:
        context.prec = PRECISION_DIGITS
        accrued = Decimal(0)
        for portion in item_portions:
            if portion.bears_from is None:
                continue
            first = portion.bears_from
            already = charged_through(portion, charges)
            if already is not None:
                first = max(first, already + timedelta(days=1))
            days = days_between(first, through)
            accrued += _accrue(((day, portion.owed_on(day)) for day in days), percent_on)
        return round_cents(accrued)
