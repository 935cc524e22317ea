"""Statements of account (CONTRACT section 9): what an importer owed, paid and was charged in
one billing period, with interest and the release-prior-to-payment security check.

`issue_statement` charges interest and records the statement as issued (the daemon does it on
the 25th); `build_statement` reads a statement, issued or not, for the command line.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from gateway.config import BillingSettings
from gateway.ledger.billing import BillingPeriod, payment_due, period_named, statement_date
from gateway.ledger.interest import Movement, item_interest, portions, rate_on
from gateway.ledger.offsets import settle_credits
from gateway.ledger.postings import (
    CREDIT_ITEM,
    RECEIVABLE,
    Entry,
    Leg,
    interest_item,
    item_balance_cents,
    post,
)
from gateway.money import from_cents, round_cents, to_cents
from gateway.partners import Account
from gateway.standards.calendar import BusinessCalendar
from gateway.store.database import Tx

SECURITY_MINIMUM = Decimal("5000.00")
SECURITY_MAXIMUM = Decimal("10000000.00")
SECURITY_SHARE = {"bond": Decimal("0.5"), "cash": Decimal("1")}
SECURITY_STATEMENTS = 12


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    posted_on: date
    entry_type: str
    reference: str
    amount: Decimal
    """What the entry changed in what is owed (negative: paid or credited)."""
    allocations: tuple[tuple[str, Decimal], ...]
    """For payments and offsets: which items it paid, and how much."""


@dataclass(frozen=True)
class SecurityCheck:
    highest_owing: Decimal
    security_type: str
    required: Decimal
    registered: Decimal

    @property
    def short(self) -> bool:
        return self.registered < self.required


@dataclass(frozen=True)
class Summary:
    """A period's entries in five sums, each zero or more, that reconcile: opening + charges +
    interest - payments - credits + refunds = closing. Offsets and credit transfers move money
    between items only and are in none."""

    charges: Decimal
    """Assessments, and corrections and adjustments that raise a transaction's total."""
    interest: Decimal
    payments: Decimal
    credits: Decimal
    """Corrections and adjustments that lower a total, and appeals allowed."""
    refunds: Decimal
    """Credits paid out to the importer."""

    def change(self) -> Decimal:
        """What the period changed in what is owed."""
        return self.charges + self.interest - self.payments - self.credits + self.refunds


def summarize(lines: Iterable[StatementLine]) -> Summary:
    sums = dict.fromkeys(("charges", "interest", "payments", "credits", "refunds"), Decimal(0))
    for line in lines:
        if line.entry_type == "interest":
            sums["interest"] += line.amount
        elif line.entry_type == "payment":
            sums["payments"] -= line.amount
        elif line.entry_type == "refund":
            sums["refunds"] += line.amount
        elif line.amount > 0:  # a declaration's difference, or an entry type of the future
            sums["charges"] += line.amount
        else:  # a falling difference, an appeal allowed; offsets and transfers add 0
            sums["credits"] -= line.amount
    return Summary(**sums)


@dataclass(frozen=True)
class Statement:
    importer_account: str
    period: BillingPeriod
    statement_date: date
    due_date: date
    issued_at: datetime | None
    opening: Decimal
    lines: tuple[StatementLine, ...]
    summary: Summary
    closing: Decimal
    owing_by_item: tuple[tuple[str, Decimal], ...]
    security: SecurityCheck | None

    @property
    def charges(self) -> Decimal:
        return self.summary.charges

    @property
    def interest(self) -> Decimal:
        return self.summary.interest

    @property
    def payments(self) -> Decimal:
        return self.summary.payments


def _owing_cents(tx: Tx, account: str, period: BillingPeriod, *, including: bool) -> int:
    """What the account owed at the end of the periods before `period` (or up to it)."""
    row = tx.one(
        "SELECT COALESCE(SUM(l.amount_cents), 0) FROM ledger_legs l"
        " JOIN ledger_entries e ON e.id = l.entry_id"
        " WHERE l.importer_account = ? AND l.book = 'receivable'"
        " AND (e.period < ? OR (? = 1 AND e.period = ?))",
        (account, period.name, int(including), period.name),
    )
    return int(row[0]) if row else 0


def _movements(tx: Tx, account: str, item: str, period: BillingPeriod) -> list[Movement]:
    """The item's receivable legs in posting order, as the statement of `period` sees them:
    without the debits billed in later periods (posted before a late statement run), which
    their own statements charge in full."""
    rows = tx.all(
        "SELECT e.entry_type, e.effective_on, e.due_date, e.period, l.amount_cents"
        " FROM ledger_legs l JOIN ledger_entries e ON e.id = l.entry_id"
        " WHERE l.importer_account = ? AND l.book = 'receivable' AND l.item = ? ORDER BY e.id",
        (account, item),
    )
    movements = []
    for entry_type, effective_on, due_date, billed_in, cents in rows:
        effective = date.fromisoformat(str(effective_on))
        due = date.fromisoformat(str(due_date)) if due_date is not None else None
        bears_from = _bears_from(str(entry_type), effective, due)
        if bears_from is not None and str(billed_in) > period.name:
            continue
        movements.append(Movement(effective, int(cents), due, bears_from, str(billed_in or "")))
    return movements


def _bears_from(entry_type: str, effective_on: date, due_date: date | None) -> date | None:
    """A debit bears interest from the day after its due date; an adjustment from the day after
    the original release period's due date, the day it is posted effective on (declarations)."""
    if due_date is None:
        return None
    if entry_type == "adjustment":
        return effective_on + timedelta(days=1)
    return due_date + timedelta(days=1)


def _charges(tx: Tx, account: str, item: str) -> list[tuple[str, date]]:
    """Earlier statements' charges on the item: (period, last day charged)."""
    rows = tx.all("SELECT period, through_date FROM interest_charges WHERE importer_account = ?"
                  " AND item = ?", (account, item))
    return [(str(r[0]), date.fromisoformat(str(r[1]))) for r in rows]


def charge_interest(tx: Tx, account: str, period: BillingPeriod, calendar: BusinessCalendar,
                    billing: BillingSettings, posted_at: datetime) -> int:
    """Interest on every overdue debt up to the statement date; the cents charged. Each item's
    charge is recorded with the day it runs through, also when it is 0.00."""
    on = statement_date(period)
    due = payment_due(period, calendar, billing.due_skips_holidays)
    total = 0
    for item in _items_bearing_interest(tx, account, period):
        amount = item_interest(portions(_movements(tx, account, item, period)),
                               _charges(tx, account, str(item)), on,
                               lambda day: rate_on(day, billing))
        tx.execute(
            "INSERT INTO interest_charges (importer_account, item, period, through_date,"
            " amount_cents) VALUES (?, ?, ?, ?, ?)",
            (account, item, period.name, on.isoformat(), to_cents(amount)),
        )
        if amount <= 0:
            continue
        cents = to_cents(amount)
        post(tx, Entry(
            importer_account=account, entry_type="interest", reference=str(item),
            inbox_id=None, effective_on=on, posted_at=posted_at, period=period.name,
            due_date=due,
            legs=(Leg(RECEIVABLE, interest_item(str(item), period.name), cents),
                  Leg("revenue:interest", str(item), -cents)),
        ))
        total += cents
    if total:
        _offset_interest(tx, account, period, posted_at)
    return total


def _items_bearing_interest(tx: Tx, account: str, period: BillingPeriod) -> list[str]:
    """Every item with a portion that may bear interest by the statement date.

    An item's due date in `balances` is that of its first debit, and a later correction or
    interest charge is never due earlier; an adjustment may be: it bears interest from the day
    after the due date of the original release's period. Such an item whose first debit is not
    due yet was first billed in this period, so the adjustments billed in this period are the
    only ones to look for (no more history is read than the statement's own lines)."""
    on = statement_date(period).isoformat()
    rows = tx.all(
        "SELECT item FROM balances WHERE importer_account = ? AND item <> ''"
        " AND due_date IS NOT NULL AND due_date < ?"
        " UNION SELECT l.item FROM ledger_entries e JOIN ledger_legs l ON l.entry_id = e.id"
        " WHERE e.importer_account = ? AND e.period = ? AND e.entry_type = 'adjustment'"
        " AND e.effective_on < ? AND l.book = 'receivable' AND l.item <> ''",
        (account, on, account, period.name, on),
    )
    return sorted(str(r[0]) for r in rows)


def _credit_cents_at_end(tx: Tx, account: str, period: BillingPeriod) -> int:
    """The credit standing on the account at the end of `period` (0 when none)."""
    row = tx.one(
        "SELECT COALESCE(SUM(l.amount_cents), 0) FROM ledger_legs l"
        " JOIN ledger_entries e ON e.id = l.entry_id WHERE l.importer_account = ?"
        " AND l.book = 'receivable' AND l.item = ? AND e.period <= ?",
        (account, CREDIT_ITEM, period.name),
    )
    return max(-int(row[0]) if row else 0, 0)


def _offset_interest(tx: Tx, account: str, period: BillingPeriod, posted_at: datetime) -> None:
    """Offset the interest just charged from a standing credit. Interest is billed in the
    statement's own period, so the offsets from a credit the account had at the end of that
    period are too: the statement shows the interest paid, not owing beside the credit. A
    credit that arose later (a payment received after the period) offsets in the period of the
    statement date, as any offset dated that day, so no period shows more credit used than it
    had. Statements are issued oldest first, so neither period's is out yet."""
    on = statement_date(period)
    standing = -(item_balance_cents(tx, account, CREDIT_ITEM) or 0)
    own = min(standing, _credit_cents_at_end(tx, account, period)) if standing > 0 else 0
    if own > 0:
        settle_credits(tx, account, posted_at=posted_at, effective_on=on, inbox_id=None,
                       period=period.name, credit_cents_max=own)
    settle_credits(tx, account, posted_at=posted_at, effective_on=on, inbox_id=None)


def statement_issued(tx: Tx, account: str, period: BillingPeriod) -> datetime | None:
    row = tx.one("SELECT issued_at FROM statements_issued WHERE importer_account = ?"
                 " AND period = ?", (account, period.name))
    return None if row is None else datetime.fromisoformat(str(row[0]))


def issue_statement(tx: Tx, account: str, period: BillingPeriod, calendar: BusinessCalendar,
                    billing: BillingSettings, now: datetime) -> bool:
    """Charge interest and mark the statement issued; False when it already was."""
    tx.lock_account(account)
    if statement_issued(tx, account, period) is not None:
        return False
    charge_interest(tx, account, period, calendar, billing, now)
    closing = _owing_cents(tx, account, period, including=True)
    tx.execute("INSERT INTO statements_issued (importer_account, period, issued_at,"
               " closing_cents) VALUES (?, ?, ?, ?)",
               (account, period.name, now.isoformat(), closing))
    return True


def accounts_due_a_statement(tx: Tx, period: BillingPeriod) -> list[str]:
    """Accounts with activity in the period or a balance at its end, and no statement for it
    yet. The balance at the end is today's less what later periods moved, which a statement
    issued late must not count."""
    rows = tx.all(
        "SELECT DISTINCT importer_account FROM ledger_entries WHERE period = ?"
        " UNION SELECT t.account FROM (SELECT importer_account AS account,"
        " SUM(amount_cents) AS cents FROM balances GROUP BY importer_account) t"
        " LEFT JOIN (SELECT l.importer_account AS account, SUM(l.amount_cents) AS cents"
        " FROM ledger_entries e JOIN ledger_legs l ON l.entry_id = e.id"
        " WHERE e.period > ? AND l.book = 'receivable' GROUP BY l.importer_account) later"
        " ON later.account = t.account WHERE t.cents - COALESCE(later.cents, 0) <> 0",
        (period.name, period.name),
    )
    accounts = sorted(str(r[0]) for r in rows)
    return [a for a in accounts if statement_issued(tx, a, period) is None]


def _lines(tx: Tx, account: str, period: BillingPeriod) -> list[StatementLine]:
    entries = tx.all(
        "SELECT id, posted_at, entry_type, reference FROM ledger_entries"
        " WHERE importer_account = ? AND period = ? ORDER BY id",
        (account, period.name),
    )
    lines = []
    for entry_id, posted_at, entry_type, reference in entries:
        legs = tx.all("SELECT item, amount_cents FROM ledger_legs WHERE entry_id = ?"
                      " AND book = 'receivable' ORDER BY item", (entry_id,))
        amount = sum(int(leg[1]) for leg in legs)
        allocations = tuple((str(leg[0]) or "credit", from_cents(-int(leg[1])))
                            for leg in legs
                            if entry_type in ("payment", "offset", "credit-transfer")
                            and int(leg[1]) < 0)
        lines.append(StatementLine(int(entry_id), datetime.fromisoformat(str(posted_at)).date(),
                                   str(entry_type), str(reference), from_cents(amount),
                                   allocations))
    return lines


def security_check(tx: Tx, account: Account | None, period: BillingPeriod,
                   closing: Decimal) -> SecurityCheck | None:
    """Release-prior-to-payment: the highest closing owing over the last 12 statements."""
    if account is None:
        return None
    # the last 12 statements: an issued one is among the rows, a preview is added to 11 of them
    issued = statement_issued(tx, account.number, period) is not None
    rows = tx.all("SELECT closing_cents FROM statements_issued WHERE importer_account = ?"
                  " AND period <= ? ORDER BY period DESC LIMIT ?",
                  (account.number, period.name,
                   SECURITY_STATEMENTS if issued else SECURITY_STATEMENTS - 1))
    closings = [from_cents(int(r[0])) for r in rows] + [closing]
    highest = max(*closings, Decimal(0))
    required = highest * SECURITY_SHARE[account.security_type]
    required = round_cents(min(max(required, SECURITY_MINIMUM), SECURITY_MAXIMUM))
    return SecurityCheck(highest, account.security_type, required, account.security)


def build_statement(tx: Tx, account_number: str, period_name: str, calendar: BusinessCalendar,
                    billing: BillingSettings, account: Account | None) -> Statement:
    period = period_named(period_name)
    opening = from_cents(_owing_cents(tx, account_number, period, including=False))
    lines = _lines(tx, account_number, period)
    summary = summarize(lines)
    closing = opening + summary.change()
    owing = tx.all(
        "SELECT l.item, SUM(l.amount_cents) FROM ledger_legs l JOIN ledger_entries e"
        " ON e.id = l.entry_id WHERE l.importer_account = ? AND l.book = 'receivable'"
        " AND e.period <= ? GROUP BY l.item HAVING SUM(l.amount_cents) <> 0 ORDER BY l.item",
        (account_number, period.name),
    )
    return Statement(
        importer_account=account_number,
        period=period,
        statement_date=statement_date(period),
        due_date=payment_due(period, calendar, billing.due_skips_holidays),
        issued_at=statement_issued(tx, account_number, period),
        opening=opening,
        lines=tuple(lines),
        summary=summary,
        closing=closing,
        owing_by_item=tuple((str(r[0]) or "credit", from_cents(int(r[1]))) for r in owing),
        security=security_check(tx, account, period, closing),
    )
