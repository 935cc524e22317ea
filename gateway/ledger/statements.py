"""Statements of account (CONTRACT section 9): what an importer owed, paid and was charged in
one billing period, with interest and the release-prior-to-payment security check.

`issue_statement` charges interest and records the statement as issued (the daemon does it on
the 25th); `build_statement` reads a statement, issued or not, for the command line.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from gateway.config import BillingSettings
from gateway.ledger.billing import BillingPeriod, payment_due, period_named, statement_date
from gateway.ledger.interest import Movement, item_interest, portions, rate_on
from gateway.ledger.offsets import settle_credits
from gateway.ledger.postings import RECEIVABLE, Entry, Leg, interest_item, post
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
class Statement:
    importer_account: str
    period: BillingPeriod
    statement_date: date
    due_date: date
    issued_at: datetime | None
    opening: Decimal
    lines: tuple[StatementLine, ...]
    interest: Decimal
    payments: Decimal
    closing: Decimal
    owing_by_item: tuple[tuple[str, Decimal], ...]
    security: SecurityCheck | None

    @property
    def charges(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount > 0), Decimal(0))


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


def _movements(tx: Tx, account: str, item: str) -> list[Movement]:
    """The item's receivable legs in posting order, as interest sees them."""
    rows = tx.all(
        "SELECT e.entry_type, e.effective_on, e.due_date, e.period, l.amount_cents"
        " FROM ledger_legs l JOIN ledger_entries e ON e.id = l.entry_id"
        " WHERE l.importer_account = ? AND l.book = 'receivable' AND l.item = ? ORDER BY e.id",
        (account, item),
    )
    movements = []
    for entry_type, effective_on, due_date, period, cents in rows:
        effective = date.fromisoformat(str(effective_on))
        due = date.fromisoformat(str(due_date)) if due_date is not None else None
        movements.append(Movement(effective, int(cents), due,
                                  _bears_from(str(entry_type), effective, due),
                                  str(period or "")))
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
    rows = tx.all(
        # an item's due date is that of its first debit, so its later portions are never earlier
        "SELECT item FROM balances WHERE importer_account = ? AND item <> ''"
        " AND due_date IS NOT NULL AND due_date < ? ORDER BY item",
        (account, on.isoformat()),
    )
    total = 0
    for (item,) in rows:
        amount = item_interest(portions(_movements(tx, account, str(item))),
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
        settle_credits(tx, account, posted_at=posted_at, effective_on=on, inbox_id=None)
    return total


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
    """Accounts with activity in the period or a balance, and no statement for it yet."""
    rows = tx.all(
        "SELECT DISTINCT importer_account FROM ledger_entries WHERE period = ?"
        " UNION SELECT importer_account FROM balances GROUP BY importer_account"
        " HAVING SUM(amount_cents) <> 0",
        (period.name,),
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
    closing = opening + sum((line.amount for line in lines), Decimal(0))
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
        interest=sum((line.amount for line in lines if line.entry_type == "interest"),
                     Decimal(0)),
        payments=-sum((line.amount for line in lines if line.entry_type == "payment"),
                      Decimal(0)),
        closing=closing,
        owing_by_item=tuple((str(r[0]) or "credit", from_cents(int(r[1]))) for r in owing),
        security=security_check(tx, account, period, closing),
    )
