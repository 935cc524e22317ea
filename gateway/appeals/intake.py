"""Opening cases: appeals (APL002, APL003) and account requests get a case number at once."""

from gateway.codec.messages import AccountRequest, Appeal
from gateway.handling import HandlerContext, HandlerResult, next_number, rejected
from gateway.money import to_cents
from gateway.store.database import Tx
from gateway.validation.problems import Problem, problem

CASE_PREFIX = {"appeal": "APL", "account-request": "REQ"}


def _appeal_problems(tx: Tx, appeal: Appeal) -> list[Problem]:
    problems = []
    if appeal.transaction_number is not None:
        known = tx.one(
            "SELECT 1 FROM declarations WHERE transaction_number = ? AND importer_account = ?"
            " LIMIT 1",
            (appeal.transaction_number, appeal.importer_account),
        )
        if known is None:
            path = "/Appeal/TransactionNumber"
            text = f"{appeal.transaction_number} is not a transaction of {appeal.importer_account}"
            problems.append(problem("APL003", text, path, appeal.source_lines.get(path)))
    existing = tx.one(
        "SELECT 1 FROM cases WHERE case_type = 'appeal' AND importer_account = ?"
        " AND subtype = ? AND reference = ? AND status <> 'withdrawn'",
        (appeal.importer_account, appeal.type, appeal.reference),
    )
    if existing is not None:
        path = "/Appeal/Type"
        # not its case number: that case may be another sender's (a rejection carries no
        # data of the account but what the sender sent, CONTRACT section 3)
        text = "an appeal of this decision is open already"
        problems.append(problem("APL002", text, path, appeal.source_lines.get(path)))
    return problems


def _open_case(tx: Tx, case_type: str, message: Appeal | AccountRequest,
               context: HandlerContext) -> str:
    year = context.calendar.local_date(context.received_at).year
    number = next_number(tx, f"case:{case_type}:{year}")
    case_number = f"{CASE_PREFIX[case_type]}-{year}-{number:06d}"
    amount = message.disputed_amount if isinstance(message, Appeal) else message.amount
    decision_date = message.decision_date.isoformat() if isinstance(message, Appeal) else None
    tx.execute(
        "INSERT INTO cases (case_number, case_type, subtype, importer_account, sender, reference,"
        " decision_date, amount_cents, inbox_id, status, opened_at, respond_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?)",
        (case_number, case_type, message.type, message.importer_account, context.sender,
         message.reference, decision_date, None if amount is None else to_cents(amount),
         context.inbox_id, context.received_at.isoformat(), context.respond_by.isoformat()),
    )
    tx.execute(
        "INSERT INTO case_steps (case_number, step, actor, note, at) VALUES (?, ?, ?, ?, ?)",
        (case_number, "received", f"sender:{context.sender}", None,
         context.received_at.isoformat()),
    )
    return case_number


def handle_appeal(tx: Tx, appeal: Appeal, context: HandlerContext) -> HandlerResult:
    tx.lock_account(appeal.importer_account)
    problems = _appeal_problems(tx, appeal)
    if problems:
        return rejected(problems)
    if not context.post:
        return HandlerResult("received")
    return HandlerResult("received", case_number=_open_case(tx, "appeal", appeal, context))


def handle_account_request(tx: Tx, request: AccountRequest,
                           context: HandlerContext) -> HandlerResult:
    tx.lock_account(request.importer_account)
    if not context.post:
        return HandlerResult("received")
    case_number = _open_case(tx, "account-request", request, context)
    return HandlerResult("received", case_number=case_number)
