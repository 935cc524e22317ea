"""Business rules that need no stored state: pure functions from a message to problems."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from gateway.codec.messages import AccountRequest, Appeal, Declaration, Message, Payment
from gateway.ledger.assessment import assess
from gateway.money import format_amount
from gateway.validation.problems import Problem, problem

APPEAL_WINDOW_DAYS = 90


def _at(message: Message, path: str) -> tuple[str, int | None]:
    return path, message.source_lines.get(path)


def declared_totals(declaration: Declaration) -> list[Problem]:
    """DEC001 for each declared total that differs from the computed assessment."""
    declared = declaration.declared_totals
    if declared is None:
        return []
    computed = assess(declaration)
    pairs = (
        ("Duty", declared.duty, computed.duty),
        ("ExciseTax", declared.excise_tax, computed.excise_tax),
        ("GST", declared.gst, computed.gst),
        ("Total", declared.total, computed.total),
    )
    problems = []
    for name, stated, expected in pairs:
        if stated != expected:
            path, line = _at(declaration, f"/Declaration/DeclaredTotals/{name}")
            text = f"declared {format_amount(stated)}, computed {format_amount(expected)}"
            problems.append(problem("DEC001", text, path, line))
    return problems


def cad_exchange_rate(declaration: Declaration) -> list[Problem]:
    """DEC007: amounts in CAD need ExchangeRate 1."""
    if declaration.currency == "CAD" and declaration.exchange_rate != 1:
        path, line = _at(declaration, "/Declaration/ExchangeRate")
        text = f"Currency CAD needs ExchangeRate 1, not {declaration.exchange_rate}"
        return [problem("DEC007", text, path, line)]
    return []


def purpose_fits_version(declaration: Declaration) -> list[Problem]:
    """DEC008 (stateless part): original is Version 1; correction and adjustment come after."""
    original = declaration.purpose == "original"
    if original == (declaration.version == 1):
        return []
    path, line = _at(declaration, "/Declaration/Purpose")
    text = f"Purpose {declaration.purpose} does not fit Version {declaration.version}"
    return [problem("DEC008", text, path, line)]


def reason_codes_present(declaration: Declaration) -> list[Problem]:
    """DEC005 (stateless part): a correction or adjustment needs at least one ReasonCode."""
    if declaration.version == 1 or declaration.purpose == "original":
        return []
    if any(line.reason_code for line in declaration.lines):
        return []
    path, line = _at(declaration, "/Declaration")
    return [problem("DEC005", f"{declaration.purpose} without any ReasonCode", path, line)]


def allocations_within_amount(payment: Payment) -> list[Problem]:
    """PAY001: explicit allocations may not exceed the payment."""
    allocated = sum((item.amount for item in payment.allocations), Decimal(0))
    if allocated <= payment.amount:
        return []
    path, line = _at(payment, "/Payment/Amount")
    text = f"allocations add up to {format_amount(allocated)}, the payment is " \
           f"{format_amount(payment.amount)}"
    return [problem("PAY001", text, path, line)]


def appeal_reference(appeal: Appeal) -> list[Problem]:
    """APL004: redetermination names a TransactionNumber only, penalty a PenaltyNumber only."""
    if appeal.type == "redetermination":
        fits = appeal.transaction_number is not None and appeal.penalty_number is None
        wanted = "a TransactionNumber and no PenaltyNumber"
    else:
        fits = appeal.penalty_number is not None and appeal.transaction_number is None
        wanted = "a PenaltyNumber and no TransactionNumber"
    if fits:
        return []
    path, line = _at(appeal, "/Appeal/Type")
    return [problem("APL004", f"a {appeal.type} appeal needs {wanted}", path, line)]


def appeal_in_time(appeal: Appeal, received_on: date) -> list[Problem]:
    """APL001: more than 90 days from DecisionDate to the Eastern date of receipt."""
    days = (received_on - appeal.decision_date).days
    if days <= APPEAL_WINDOW_DAYS:
        return []
    path, line = _at(appeal, "/Appeal/DecisionDate")
    text = f"filed {days} days after the decision of {appeal.decision_date}; the limit is 90"
    return [problem("APL001", text, path, line)]


def declaration_rules(declaration: Declaration) -> list[Problem]:
    return [
        *declared_totals(declaration),
        *cad_exchange_rate(declaration),
        *purpose_fits_version(declaration),
        *reason_codes_present(declaration),
    ]


def stateless_problems(message: Message, received_on: date,
                       late_check: Callable[[Declaration], list[Problem]]) -> list[Problem]:
    """Stage 8 rules that need no database, for any kind of message."""
    if isinstance(message, Declaration):
        return [*declaration_rules(message), *late_check(message)]
    if isinstance(message, Payment):
        return allocations_within_amount(message)
    if isinstance(message, Appeal):
        return [*appeal_reference(message), *appeal_in_time(message, received_on)]
    if isinstance(message, AccountRequest):
        return []
    raise TypeError(f"not a message: {message!r}")
