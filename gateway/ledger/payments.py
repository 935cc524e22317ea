"""The payment handler: PAY002, PAY003, and the posting of a payment to the account."""

from gateway.codec.messages import Payment
from gateway.handling import HandlerContext, HandlerResult, rejected
from gateway.ledger.allocation import Owed, allocate
from gateway.ledger.billing import period_of
from gateway.ledger.offsets import settle_credits
from gateway.ledger.postings import (
    CREDIT_ITEM,
    RECEIVABLE,
    Entry,
    Leg,
    balance_cents,
    item_balance_cents,
    open_debts,
    post,
)
from gateway.money import format_amount, from_cents, to_cents
from gateway.store.database import Tx
from gateway.validation.problems import Problem, problem


def _reference_problems(tx: Tx, payment: Payment) -> list[Problem]:
    row = tx.one(
        "SELECT 1 FROM payments WHERE importer_account = ? AND payment_reference = ?",
        (payment.importer_account, payment.payment_reference),
    )
    if row is None:
        return []
    path = "/Payment/PaymentReference"
    text = f"{payment.payment_reference} is already used for {payment.importer_account}"
    return [problem("PAY003", text, path, payment.source_lines.get(path))]


def _allocation_problems(tx: Tx, payment: Payment) -> list[Problem]:
    """PAY002: unknown transaction, another account's, or one that owes less."""
    problems = []
    wanted: dict[str, int] = {}
    for item in payment.allocations:
        wanted[item.transaction_number] = (
            wanted.get(item.transaction_number, 0) + to_cents(item.amount)
        )
    for index, item in enumerate(payment.allocations, start=1):
        path = f"/Payment/Allocation[{index}]/TransactionNumber"
        number = item.transaction_number
        owner = tx.one("SELECT importer_account FROM declarations WHERE transaction_number = ?"
                       " LIMIT 1", (number,))
        if owner is None or owner[0] != payment.importer_account:
            problems.append(problem("PAY002", f"{number} is not a transaction of "
                                              f"{payment.importer_account}", path,
                                    payment.source_lines.get(path)))
            continue
        owed = item_balance_cents(tx, payment.importer_account, number) or 0
        if wanted[number] > owed:
            # not what it owes: a rejection carries no account data but what the sender sent
            text = f"{number} owes less than the {format_amount(from_cents(wanted[number]))} " \
                   "allocated to it"
            problems.append(problem("PAY002", text, path, payment.source_lines.get(path)))
    return problems


def handle_payment(tx: Tx, payment: Payment, context: HandlerContext) -> HandlerResult:
    account = payment.importer_account
    tx.lock_account(account)
    problems = [*_reference_problems(tx, payment), *_allocation_problems(tx, payment)]
    if problems:
        return rejected(problems)
    amount = to_cents(payment.amount)
    explicit = [Owed(item.transaction_number, to_cents(item.amount))
                for item in payment.allocations]
    debts = (Owed(debt.item, debt.amount_cents) for debt in open_debts(tx, account))
    allocations, remainder = allocate(amount, explicit, debts)
    if not context.post:
        return HandlerResult("accepted", balance=from_cents(balance_cents(tx, account) - amount))
    tx.execute(
        "INSERT INTO payments (importer_account, payment_reference, inbox_id, amount_cents,"
        " method, received_on) VALUES (?, ?, ?, ?, ?, ?)",
        (account, payment.payment_reference, context.inbox_id, amount, payment.method,
         payment.received_on.isoformat()),
    )
    legs = [Leg("cash", payment.payment_reference, amount)]
    legs += [Leg(RECEIVABLE, owed.item, -owed.amount_cents) for owed in allocations]
    legs.append(Leg(RECEIVABLE, CREDIT_ITEM, -remainder))
    post(tx, Entry(
        importer_account=account,
        entry_type="payment",
        reference=payment.payment_reference,
        inbox_id=context.inbox_id,
        effective_on=payment.received_on,
        posted_at=context.received_at,
        period=period_of(payment.received_on).name,
        legs=tuple(legs),
    ))
    settle_credits(tx, account, posted_at=context.received_at,
                   effective_on=context.calendar.local_date(context.received_at),
                   inbox_id=context.inbox_id)
    return HandlerResult("accepted", balance=from_cents(balance_cents(tx, account)))
