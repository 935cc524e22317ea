"""Append-only double-entry postings to importer accounts, and the balances they maintain.

Books: `receivable` (what the importer owes, per item: a transaction number, or "" for a
credit standing on the account), `revenue:duty`, `revenue:excise`, `revenue:gst`, `cash`.
Every entry's legs sum to zero; `balances` holds the receivable total of each item.
"""

from dataclasses import dataclass
from datetime import date, datetime

from gateway.store.database import Tx

RECEIVABLE = "receivable"
CREDIT_ITEM = ""


@dataclass(frozen=True)
class Leg:
    book: str
    item: str
    amount_cents: int


@dataclass(frozen=True)
class Entry:
    importer_account: str
    entry_type: str
    reference: str
    inbox_id: int | None
    effective_on: date
    posted_at: datetime
    legs: tuple[Leg, ...]
    period: str | None = None
    due_date: date | None = None


class UnbalancedEntry(ValueError):
    """A bug: an entry whose legs do not sum to zero is never written."""


def post(tx: Tx, entry: Entry) -> int:
    """Write one entry and its legs, and move the receivable balances it touches."""
    if sum(leg.amount_cents for leg in entry.legs) != 0:
        raise UnbalancedEntry(f"{entry.entry_type} {entry.reference}: legs do not sum to zero")
    entry_id = tx.insert(
        "INSERT INTO ledger_entries (importer_account, entry_type, reference, inbox_id, period,"
        " due_date, effective_on, posted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (entry.importer_account, entry.entry_type, entry.reference, entry.inbox_id, entry.period,
         entry.due_date.isoformat() if entry.due_date else None, entry.effective_on.isoformat(),
         entry.posted_at.isoformat()),
    )
    for leg in entry.legs:
        if leg.amount_cents == 0:
            continue
        tx.execute(
            "INSERT INTO ledger_legs (entry_id, book, importer_account, item, amount_cents)"
            " VALUES (?, ?, ?, ?, ?)",
            (entry_id, leg.book, entry.importer_account, leg.item, leg.amount_cents),
        )
        if leg.book == RECEIVABLE:
            _move_balance(tx, entry, leg)
    return entry_id


def _move_balance(tx: Tx, entry: Entry, leg: Leg) -> None:
    due_date = entry.due_date.isoformat() if entry.due_date else None
    updated = tx.one(
        "UPDATE balances SET amount_cents = amount_cents + ? WHERE importer_account = ?"
        " AND item = ? RETURNING amount_cents",
        (leg.amount_cents, entry.importer_account, leg.item),
    )
    if updated is None:
        tx.execute(
            "INSERT INTO balances (importer_account, item, due_date, posted_at, amount_cents)"
            " VALUES (?, ?, ?, ?, ?)",
            (entry.importer_account, leg.item, due_date, entry.posted_at.isoformat(),
             leg.amount_cents),
        )


def balance_cents(tx: Tx, importer_account: str) -> int:
    """What the account owes now; negative is a credit."""
    row = tx.one(
        "SELECT COALESCE(SUM(amount_cents), 0) FROM balances WHERE importer_account = ?",
        (importer_account,),
    )
    return int(row[0]) if row else 0


def item_balance_cents(tx: Tx, importer_account: str, item: str) -> int | None:
    row = tx.one(
        "SELECT amount_cents FROM balances WHERE importer_account = ? AND item = ?",
        (importer_account, item),
    )
    return None if row is None else int(row[0])


INTEREST_PREFIX = "interest:"


def interest_item(transaction_number: str, period: str) -> str:
    """The item of interest charged on a transaction's debt by one statement."""
    return f"{INTEREST_PREFIX}{transaction_number}:{period}"


@dataclass(frozen=True)
class Debt:
    item: str
    due_date: str
    posted_at: str
    amount_cents: int

    @property
    def is_interest(self) -> bool:
        return self.item.startswith(INTEREST_PREFIX)

    @property
    def age_key(self) -> tuple[str, str, str]:
        """Debts are ordered by due date, then the time they were posted, then number."""
        return (self.due_date, self.posted_at, self.item)


def open_debts(tx: Tx, importer_account: str) -> list[Debt]:
    """Debts for a payment: interest before principal, each oldest first."""
    debts = _debts(tx, importer_account)
    return sorted(debts, key=lambda debt: (not debt.is_interest, debt.age_key))


def newest_debts(tx: Tx, importer_account: str) -> list[Debt]:
    """Debts for offsetting a credit: newest first."""
    return sorted(_debts(tx, importer_account), key=lambda debt: debt.age_key, reverse=True)


def _debts(tx: Tx, importer_account: str) -> list[Debt]:
    rows = tx.all(
        "SELECT item, COALESCE(due_date, ''), posted_at, amount_cents FROM balances"
        " WHERE importer_account = ? AND item <> ? AND amount_cents > 0",
        (importer_account, CREDIT_ITEM),
    )
    return [Debt(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def negative_items(tx: Tx, importer_account: str) -> list[tuple[str, int]]:
    """Transactions that owe less than nothing (a correction fell below what was paid)."""
    rows = tx.all(
        "SELECT item, amount_cents FROM balances WHERE importer_account = ? AND item <> ?"
        " AND amount_cents < 0 ORDER BY item",
        (importer_account, CREDIT_ITEM),
    )
    return [(str(r[0]), int(r[1])) for r in rows]
