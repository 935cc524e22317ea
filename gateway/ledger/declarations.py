"""The declaration handler: stateful rules of stage 8 and the posting of an assessment.

A correction or adjustment posts the difference between its assessed Total and that of the
previous version: a debit, or a credit when it falls.
"""

import json
from dataclasses import dataclass
from datetime import date

from gateway.codec.messages import Declaration, DeclarationLine, Totals
from gateway.handling import HandlerContext, HandlerResult, rejected
from gateway.ledger.assessment import assess
from gateway.ledger.billing import (
    BillingPeriod,
    correction_cutoff,
    payment_due,
    period_of,
    statement_date,
)
from gateway.ledger.offsets import settle_credits
from gateway.ledger.postings import RECEIVABLE, Entry, Leg, balance_cents, post
from gateway.money import from_cents, to_cents
from gateway.store.database import Tx
from gateway.validation.problems import Problem, problem


@dataclass(frozen=True)
class PostedVersion:
    version: int
    importer_account: str
    release_date: date
    totals_cents: tuple[int, int, int, int]
    lines: dict[int, dict[str, str]]


def _latest_version(tx: Tx, transaction_number: str) -> PostedVersion | None:
    row = tx.one(
        "SELECT version, importer_account, release_date, duty_cents, excise_cents, gst_cents,"
        " total_cents, lines FROM declarations WHERE transaction_number = ?"
        " ORDER BY version DESC LIMIT 1",
        (transaction_number,),
    )
    if row is None:
        return None
    lines = {int(number): values for number, values in json.loads(row[7]).items()}
    totals = (int(row[3]), int(row[4]), int(row[5]), int(row[6]))
    return PostedVersion(int(row[0]), str(row[1]), date.fromisoformat(row[2]), totals, lines)


_COMPARED_FIELDS = tuple(name for name in DeclarationLine._fields
                         if name not in ("number", "reason_code"))
"""What makes a line changed from its posted version (DEC005)."""


def _line_fields(line: DeclarationLine) -> dict[str, str]:
    return {name: str(getattr(line, name)) for name in _COMPARED_FIELDS}


def _at(declaration: Declaration, path: str) -> tuple[str, int | None]:
    return path, declaration.source_lines.get(path)


def _changed_lines_without_reason(declaration: Declaration,
                                  previous: PostedVersion) -> list[Problem]:
    """DEC005: each changed or new line needs a ReasonCode."""
    problems = []
    for index, line in enumerate(declaration.lines, start=1):
        if line.reason_code or previous.lines.get(line.number) == _line_fields(line):
            continue
        path, source_line = _at(declaration, f"/Declaration/Line[{index}]")
        what = "new" if line.number not in previous.lines else "changed"
        problems.append(problem("DEC005", f"line {line.number} is {what} and has no ReasonCode",
                                path, source_line))
    return problems


def _version_problems(declaration: Declaration, previous: PostedVersion | None,
                      context: HandlerContext) -> list[Problem]:
    """DEC002, DEC006, DEC008 (stateful part), DEC005 (stateful part), DEC003."""
    number, version = declaration.transaction_number, declaration.version

    def at_version(code: str, text: str) -> list[Problem]:
        return [problem(code, text, *_at(declaration, "/Declaration/Version"))]

    if previous is None:
        if version == 1:
            return []
        return at_version("DEC006", f"{number} has no posted version to correct")
    if version <= previous.version:
        return at_version("DEC002", f"{number} version {version} is taken")
    if version != previous.version + 1:
        return at_version("DEC002", f"{number}: version {version} is not the next one "
                                    f"({previous.version + 1})")
    problems = []
    if declaration.importer_account != previous.importer_account:
        where, at = _at(declaration, "/Declaration/ImporterAccount")
        problems.append(problem("DEC008", "a later version may not change ImporterAccount",
                                where, at))
    if declaration.release_date != previous.release_date:
        where, at = _at(declaration, "/Declaration/ReleaseDate")
        problems.append(problem("DEC008", "a later version may not change ReleaseDate",
                                where, at))
    problems += _changed_lines_without_reason(declaration, previous)
    if declaration.purpose == "correction":
        period = period_of(previous.release_date)
        cutoff = correction_cutoff(period, context.calendar, context.billing.due_skips_holidays)
        if context.received_at > cutoff:
            where, at = _at(declaration, "/Declaration/Purpose")
            text = f"corrections closed at {cutoff.astimezone(context.calendar.zone)}; " \
                   "send an adjustment"
            problems.append(problem("DEC003", text, where, at))
    return problems


def billing_period(declaration: Declaration, context: HandlerContext) -> BillingPeriod:
    """The release's period; the period of receipt for an adjustment, or once the release
    period's statement date (the 25th) has come: its statement is issued then, for every
    account with activity or a balance, and a debt posted later could appear on none."""
    received_on = context.calendar.local_date(context.received_at)
    if declaration.purpose == "adjustment":
        return period_of(received_on)
    period = period_of(declaration.release_date)
    if received_on >= statement_date(period):
        return period_of(received_on)
    return period


def _cents(totals: Totals) -> tuple[int, int, int, int]:
    return (to_cents(totals.duty), to_cents(totals.excise_tax), to_cents(totals.gst),
            to_cents(totals.total))


def handle_declaration(tx: Tx, declaration: Declaration, context: HandlerContext) -> HandlerResult:
    account = declaration.importer_account
    tx.lock_account(account)
    previous = _latest_version(tx, declaration.transaction_number)
    problems = _version_problems(declaration, previous, context)
    if any(p.severity == "error" for p in problems):
        return rejected(problems)
    totals = assess(declaration)
    cents = _cents(totals)
    before = previous.totals_cents if previous else (0, 0, 0, 0)
    difference = tuple(new - old for new, old in zip(cents, before, strict=True))
    period = billing_period(declaration, context)
    due = payment_due(period, context.calendar, context.billing.due_skips_holidays)
    if not context.post:  # a test message: the balance it would leave
        return HandlerResult("accepted", tuple(problems), assessment=totals,
                             balance=from_cents(balance_cents(tx, account) + difference[3]),
                             payment_due=due)
    _record_version(tx, declaration, cents, period, due, context)
    received_on = context.calendar.local_date(context.received_at)
    post(tx, Entry(
        importer_account=account,
        entry_type="assessment" if declaration.version == 1 else declaration.purpose,
        reference=declaration.reference,
        inbox_id=context.inbox_id,
        effective_on=_interest_from(declaration, received_on, context),
        posted_at=context.received_at,
        period=period.name,
        due_date=due,
        legs=(
            Leg(RECEIVABLE, declaration.transaction_number, difference[3]),
            Leg("revenue:duty", declaration.transaction_number, -difference[0]),
            Leg("revenue:excise", declaration.transaction_number, -difference[1]),
            Leg("revenue:gst", declaration.transaction_number, -difference[2]),
        ),
    ))
    settle_credits(tx, account, posted_at=context.received_at, effective_on=received_on,
                   inbox_id=context.inbox_id)
    balance = balance_cents(tx, account)
    return HandlerResult("accepted", tuple(problems), assessment=totals,
                         balance=from_cents(balance), payment_due=due)


def _interest_from(declaration: Declaration, received_on: date,
                   context: HandlerContext) -> date:
    """When the posted difference starts to count for interest: an adjustment bears interest
    from the due date of the original release's period (interest runs from the day after),
    which is not its first version's when that version was billed in the period of receipt."""
    if declaration.purpose != "adjustment":
        return received_on
    return payment_due(period_of(declaration.release_date), context.calendar,
                       context.billing.due_skips_holidays)


def _record_version(tx: Tx, declaration: Declaration, cents: tuple[int, int, int, int],
                    period: BillingPeriod, due: date, context: HandlerContext) -> None:
    lines = {str(line.number): _line_fields(line) for line in declaration.lines}
    tx.execute(
        "INSERT INTO declarations (transaction_number, version, importer_account, release_date,"
        " purpose, inbox_id, duty_cents, excise_cents, gst_cents, total_cents, period, due_date,"
        " lines, posted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (declaration.transaction_number, declaration.version, declaration.importer_account,
         declaration.release_date.isoformat(), declaration.purpose, context.inbox_id, *cents,
         period.name, due.isoformat(), json.dumps(lines, sort_keys=True),
         context.received_at.isoformat()),
    )
