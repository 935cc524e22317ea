"""Append-only double-entry postings to importer accounts, and the balances they maintain.

Books: `receivable` (what the importer owes, per item: a transaction number, or "" for a
credit standing on the account), `revenue:duty`, `revenue:excise`, `revenue:gst`, `cash`.
Every entry's legs sum to zero; `balances` holds the receivable total of each item.
"""

from collections.abc import Iterator
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
    legs = [leg for leg in entry.legs if leg.amount_cents != 0]
    if legs:  # one statement for all of them
        rows = ", ".join(["(?, ?, ?, ?, ?)"] * len(legs))
        tx.execute(  # only placeholders are joined into the text
            "INSERT INTO ledger_legs (entry_id, book, importer_account, item,"  # noqa: S608
            f" amount_cents) VALUES {rows}",
            [value for leg in legs
             for value in (entry_id, leg.book, entry.importer_account, leg.item,
                           leg.amount_cents)],
        )
    for leg in legs:
        if leg.book == RECEIVABLE:
            _move_balance(tx, entry, leg)
    return entry_id


def _move_total(tx: Tx, importer_account: str, cents: int) -> None:
    updated = tx.one("UPDATE account_totals SET amount_cents = amount_cents + ?"
                     " WHERE importer_account = ? RETURNING amount_cents",
                     (cents, importer_account))
    if updated is None:
        tx.execute("INSERT INTO account_totals (importer_account, amount_cents) VALUES (?, ?)",
                   (importer_account, cents))


def _move_balance(tx: Tx, entry: Entry, leg: Leg) -> None:
    _move_total(tx, entry.importer_account, leg.amount_cents)
    due_date = entry.due_date.isoformat() if entry.due_date else None
    tx.execute(  # an item's first move sets its due date and time posted; later ones keep them
        "INSERT INTO balances (importer_account, item, due_date, posted_at, amount_cents)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (importer_account, item)"
        " DO UPDATE SET amount_cents = balances.amount_cents + excluded.amount_cents",
        (entry.importer_account, leg.item, due_date, entry.posted_at.isoformat(),
         leg.amount_cents),
    )


def balance_cents(tx: Tx, importer_account: str) -> int:
    """What the account owes now; negative is a credit (kept with every move, so reading it
    costs the same however long the account's history)."""
    row = tx.one("SELECT amount_cents FROM account_totals WHERE importer_account = ?",
                 (importer_account,))
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


DEBTS_PER_QUERY = 100


def open_debts(tx: Tx, importer_account: str) -> Iterator[Debt]:
    """Debts for a payment: interest before principal, each oldest first; read lazily, so a
    payment reads only as many as it pays."""
    yield from _debts_in_order(tx, importer_account, interest=True, newest_first=False)
    yield from _debts_in_order(tx, importer_account, interest=False, newest_first=False)


def newest_debts(tx: Tx, importer_account: str) -> Iterator[Debt]:
    """Debts for offsetting a credit: newest first, read lazily."""
    yield from _debts_in_order(tx, importer_account, interest=None, newest_first=True)


def _debts_in_order(tx: Tx, importer_account: str, *, interest: bool | None,
                    newest_first: bool) -> Iterator[Debt]:
    """Debts by (due date, time posted, item), in pages along the balances_age index."""
    direction = "DESC" if newest_first else "ASC"
    comparison = "<" if newest_first else ">"
    kind = {None: "", True: " AND item LIKE 'interest:%'",
            False: " AND item NOT LIKE 'interest:%'"}[interest]
    after: tuple[str, str, str] | None = None
    while True:
        where = "" if after is None else f" AND (due_date, posted_at, item) {comparison} (?, ?, ?)"
        rows = tx.all(  # the text is built from fixed pieces only
            "SELECT item, due_date, posted_at, amount_cents FROM balances"  # noqa: S608
            " WHERE importer_account = ? AND item <> '' AND due_date IS NOT NULL"
            " AND amount_cents > 0" + kind + where
            + f" ORDER BY due_date {direction}, posted_at {direction}, item {direction} LIMIT ?",
            (importer_account, *(after or ()), DEBTS_PER_QUERY),
        )
        for row in rows:
            yield Debt(str(row[0]), str(row[1]), str(row[2]), int(row[3]))
        if len(rows) < DEBTS_PER_QUERY:
            return
        last = rows[-1]
        after = (str(last[1]), str(last[2]), str(last[0]))


def negative_items(tx: Tx, importer_account: str) -> list[tuple[str, int]]:
    """Transactions that owe less than nothing (a correction fell below what was paid)."""
    rows = tx.all(
        "SELECT item, amount_cents FROM balances WHERE importer_account = ? AND item <> ?"
        " AND amount_cents < 0 ORDER BY item",
        (importer_account, CREDIT_ITEM),
    )
    return [(str(r[0]), int(r[1])) for r in rows]
