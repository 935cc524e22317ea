"""Offsetting (CONTRACT section 9): a credit standing on an account pays its debts, newest first,
when it arises and whenever a debt is posted while it stands, unless a refund request is open.

A transaction that owes less than nothing (its correction fell below what was paid) first gives
that amount to the account's credit.
"""

from datetime import date, datetime

from gateway.ledger.billing import period_of
from gateway.ledger.postings import (
    CREDIT_ITEM,
    RECEIVABLE,
    Entry,
    Leg,
    item_balance_cents,
    negative_items,
    newest_debts,
    post,
)
from gateway.store.database import Tx


def refund_request_open(tx: Tx, importer_account: str) -> bool:
    row = tx.one(
        "SELECT 1 FROM cases WHERE case_type = 'account-request' AND subtype = 'refund'"
        " AND importer_account = ? AND status NOT IN ('decided', 'withdrawn') LIMIT 1",
        (importer_account,),
    )
    return row is not None


def settle_credits(tx: Tx, importer_account: str, *, posted_at: datetime, effective_on: date,
                   inbox_id: int | None, period: str | None = None,
                   credit_cents_max: int | None = None) -> list[int]:
    """Move transaction credits to the account and offset the account's credit; entry ids.

    The entries are billed in the period of `effective_on`, the day they are posted, unless
    `period` says otherwise (a statement's interest is offset in the statement's own period);
    `credit_cents_max` limits how much of the credit is used."""
    entries = []
    period = period or period_of(effective_on).name
    for item, cents in negative_items(tx, importer_account):
        entries.append(post(tx, Entry(
            importer_account=importer_account, entry_type="credit-transfer", reference=item,
            inbox_id=inbox_id, effective_on=effective_on, posted_at=posted_at, period=period,
            legs=(Leg(RECEIVABLE, item, -cents), Leg(RECEIVABLE, CREDIT_ITEM, cents)),
        )))
    credit = -(item_balance_cents(tx, importer_account, CREDIT_ITEM) or 0)
    if credit_cents_max is not None:
        credit = min(credit, credit_cents_max)
    if credit <= 0 or refund_request_open(tx, importer_account):
        return entries  # most postings: no credit, so no need to look for a refund request
    for debt in newest_debts(tx, importer_account):
        if credit <= 0:
            break
        amount = min(credit, debt.amount_cents)
        entries.append(post(tx, Entry(
            importer_account=importer_account, entry_type="offset", reference=debt.item,
            inbox_id=inbox_id, effective_on=effective_on, posted_at=posted_at, period=period,
            legs=(Leg(RECEIVABLE, debt.item, -amount), Leg(RECEIVABLE, CREDIT_ITEM, amount)),
        )))
        credit -= amount
    return entries
