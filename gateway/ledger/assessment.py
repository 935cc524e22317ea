"""Assessment arithmetic (CONTRACT section 4): duty, excise and GST of a declaration."""

import threading
from dataclasses import dataclass
from decimal import Decimal, localcontext

from gateway.codec.messages import Declaration, DeclarationLine, Totals
from gateway.money import round_cents

HUNDRED = Decimal(100)
ARITHMETIC_PRECISION_DIGITS = 80
"""Enough for the schema's largest amounts times its largest rates without a hidden rounding:
only the contract's roundings to cents happen."""


@dataclass(frozen=True)
class LineAssessment:
    number: int
    value_for_duty: Decimal
    duty: Decimal
    excise_tax: Decimal
    value_for_tax: Decimal
    gst: Decimal


def assess_line(line: DeclarationLine, exchange_rate: Decimal) -> LineAssessment:
    with localcontext(prec=ARITHMETIC_PRECISION_DIGITS):
        return LineAssessment(line.number, *_line_amounts(line, exchange_rate))


def _line_amounts(line: DeclarationLine,
                  exchange_rate: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """Value for duty, duty, excise tax, value for tax and GST of one line."""
    value_for_duty = round_cents(line.value * exchange_rate)
    duty = round_cents(value_for_duty * line.duty_rate / HUNDRED)
    excise_tax = round_cents(line.excise_tax)
    value_for_tax = value_for_duty + duty + excise_tax
    gst = round_cents(value_for_tax * line.gst_rate / HUNDRED)
    return value_for_duty, duty, excise_tax, value_for_tax, gst


_LAST = threading.local()
"""The last declaration assessed on this thread and its totals: the stateless rules (DEC001)
and then the handler assess the same message one after the other."""


def assess(declaration: Declaration) -> Totals:
    """Totals over the lines; Total = Duty + ExciseTax + GST, the amount owed."""
    last: tuple[Declaration, Totals] | None = getattr(_LAST, "pair", None)
    if last is not None and last[0] is declaration:  # a frozen message: the same totals
        return last[1]
    duty = excise_tax = gst = Decimal("0.00")
    exchange_rate = declaration.exchange_rate
    with localcontext(prec=ARITHMETIC_PRECISION_DIGITS):
        for line in declaration.lines:
            _, line_duty, line_excise_tax, _, line_gst = _line_amounts(line, exchange_rate)
            duty += line_duty
            excise_tax += line_excise_tax
            gst += line_gst
    totals = Totals(duty=duty, excise_tax=excise_tax, gst=gst, total=duty + excise_tax + gst)
    _LAST.pair = (declaration, totals)
    return totals
