"""Interest (CONTRACT section 9): compounded daily at the annual rate / 365 on overdue debts,
rounded half up once per debt per statement, itself a debt due on the statement's due date.

The pure part computes interest from daily balances and a dated rate table; the statement run
charges it (gateway/ledger/statements.py).
"""

from collections.abc import Callable, Iterable
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
    with localcontext() as context:
        context.prec = PRECISION_DIGITS
        accrued = Decimal(0)
        for day, balance in daily_balances:
            if balance <= 0:
                continue
            accrued += (balance + accrued) * percent_on(day) / 100 / DAYS_IN_YEAR
        return round_cents(accrued)


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last` inclusive (empty when last is before first)."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
