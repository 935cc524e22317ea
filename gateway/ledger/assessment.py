"""Assessment arithmetic (CONTRACT section 4): duty, excise and GST of a declaration."""

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from gateway.codec.messages import Declaration, DeclarationLine, Totals
from gateway.money import CENT

PERCENT = Decimal("0.01")
ARITHMETIC_PRECISION_DIGITS = 80
"""Enough for the schema's largest amounts times its largest rates without a hidden rounding:
only the contract's roundings to cents happen."""


def _arithmetic() -> AbstractContextManager[Context]:
    """The context of the arithmetic: exact at this precision, so its rounding mode, half up
    (CONTRACT section 4), applies only to the roundings to cents, `quantize(CENT)`: a rounding
    mode of the context is several times cheaper than one passed to each `quantize`."""
    return localcontext(prec=ARITHMETIC_PRECISION_DIGITS, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAssessment:
    number: int
    value_for_duty: Decimal
    duty: Decimal
    excise_tax: Decimal
    value_for_tax: Decimal
    gst: Decimal


def assess_line(line: DeclarationLine, exchange_rate: Decimal) -> LineAssessment:
    with _arithmetic():
        return LineAssessment(line.number, *_line_amounts(line, exchange_rate))


def _line_amounts(line: DeclarationLine,
                  exchange_rate: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """Value for duty, duty, excise tax, value for tax and GST of one line, in `_arithmetic()`
    (the rates are percentages: times 0.01 is exact, like a division by 100, and cheaper)."""
    value_for_duty = (line.value * exchange_rate).quantize(CENT)
    duty = (value_for_duty * line.duty_rate * PERCENT).quantize(CENT)
    excise_tax = line.excise_tax.quantize(CENT)
    value_for_tax = value_for_duty + duty + excise_tax
    gst = (value_for_tax * line.gst_rate * PERCENT).quantize(CENT)
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
    with _arithmetic():
        for line in declaration.lines:
            _, line_duty, line_excise_tax, _, line_gst = _line_amounts(line, exchange_rate)
            duty += line_duty
            excise_tax += line_excise_tax
            gst += line_gst
    totals = Totals(duty=duty, excise_tax=excise_tax, gst=gst, total=duty + excise_tax + gst)
    _LAST.pair = (declaration, totals)
    return totals
