"""Reading the values of CONTRACT section 2 out of EDIFACT data elements.

A missing mandatory value or one that breaks the section 2 value types is SCH001, with the
segment number as its line and the EDIFACT position as its path. Both decimal marks are read.
"""

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from gateway.codec.edifact._characters import quoted, whole_number
from gateway.codec.edifact.tokenizer import Segment
from gateway.validation.problems import Problem, problem

NumberKind = Literal["amount", "positive-amount", "rate", "exchange-rate", "quantity"]

_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")


@dataclass(frozen=True)
class _Limits:
    low: Decimal
    low_inclusive: bool
    high: Decimal | None
    fraction_digits: int | None
    total_digits: int | None
    wording: str


_LIMITS: dict[NumberKind, _Limits] = {
    "amount": _Limits(Decimal(0), True, None, 2, 15,
                      "an amount of 0 or more with at most 2 decimals and 15 digits"),
    "positive-amount": _Limits(Decimal(0), False, None, 2, 15,
                               "an amount greater than 0 with at most 2 decimals and 15 "
                               "digits"),
    "rate": _Limits(Decimal(0), True, Decimal(100), 4, None,
                    "a rate of 0 to 100 with at most 4 decimals"),
    "exchange-rate": _Limits(Decimal(0), False, None, 6, 15,
                             "a rate greater than 0 with at most 6 decimals and 15 digits"),
    "quantity": _Limits(Decimal(0), False, None, None, 18,
                        "a quantity greater than 0 with at most 18 digits"),
}


def _digits(text: str) -> tuple[int, int]:
    """Fraction and total digits of the value a number matching `_NUMBER` writes (not of the
    writing: 1.50 has one decimal, 007 one digit), as the schema's fractionDigits and
    totalDigits count them. Counted on the text, exactly: `Decimal.normalize` would round to
    the context's 28 digits first, and let 1.00000000000000000000000000001 pass as 1."""
    whole, _mark, fraction = text.lstrip("-").replace(",", ".").partition(".")
    fraction = fraction.rstrip("0")
    significant = (whole + fraction).lstrip("0")
    return len(fraction), max(len(significant), len(fraction))


def _fits_digits(text: str, limits: _Limits) -> bool:
    fraction, total = _digits(text)
    if limits.fraction_digits is not None and fraction > limits.fraction_digits:
        return False
    return limits.total_digits is None or total <= limits.total_digits


def _fits_range(value: Decimal, limits: _Limits) -> bool:
    if value < limits.low or (value == limits.low and not limits.low_inclusive):
        return False
    return limits.high is None or value <= limits.high


def position(segment: Segment, element: int, component: int | None = None) -> str:
    """The EDIFACT path of a data element or component: `TAG+e` or `TAG+e:c`."""
    return f"{segment.tag}+{element}" if component is None else \
        f"{segment.tag}+{element}:{component}"


@dataclass
class Reader:
    """Reads values out of one message, collecting SCH001 problems and source lines."""

    root: str
    """Declaration or Payment: the root of the source line paths."""
    problems: list[Problem] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def at(self, path: str, segment: Segment | None) -> None:
        """Record where the element at an XML-style path comes from."""
        if segment is not None:
            self.lines[f"/{self.root}{path}"] = segment.number

    def missing(self, tag: str, what: str, line: int) -> None:
        text = f"missing {tag} segment with the {what}"
        self.problems.append(problem("SCH001", text, tag, line))

    def invalid(self, segment: Segment, element: int, component: int | None, text: str) -> None:
        self.problems.append(problem("SCH001", text, position(segment, element, component),
                                     segment.number))

    def text(self, segment: Segment, element: int, component: int, name: str,
             pattern: str | None = None) -> str | None:
        """A mandatory text value, optionally of a pattern (e.g. `[0-9]{14}`)."""
        value = segment.component(element, component)
        if not value:
            self.invalid(segment, element, component, f"{name} is missing")
            return None
        if pattern is not None and re.fullmatch(pattern, value) is None:
            self.invalid(segment, element, component,
                         f"{name} {value!r} does not match {pattern}")
            return None
        return value

    def number(self, segment: Segment, element: int, component: int, name: str,
               kind: NumberKind) -> Decimal | None:
        """A mandatory number of a section 2 value type; '.' and ',' are both decimal marks."""
        value = segment.component(element, component)
        limits = _LIMITS[kind]
        if not value:
            self.invalid(segment, element, component, f"{name} is missing")
            return None
        if _NUMBER.fullmatch(value) is None:
            self.invalid(segment, element, component, f"{name} {quoted(value)} is not a number")
            return None
        if not _fits_digits(value, limits):  # before any arithmetic, which would round
            self.invalid(segment, element, component,
                         f"{name} {quoted(value)} is not {limits.wording}")
            return None
        number = Decimal(value.replace(",", "."))
        if not _fits_range(number, limits):
            self.invalid(segment, element, component,
                         f"{name} {quoted(value)} is not {limits.wording}")
            return None
        return number

    def integer(self, segment: Segment, element: int, component: int, name: str,
                high: int) -> int | None:
        """A mandatory whole number from 1 to `high`."""
        value = segment.component(element, component)
        number = whole_number(value, len(str(high)))
        if number is None or not 1 <= number <= high:
            self.invalid(segment, element, component,
                         f"{name} {quoted(value)} is not a whole number from 1 to {high}")
            return None
        return number

    def date(self, segment: Segment, name: str) -> date | None:
        """The date of a DTM segment: C507 value in format 102 (CCYYMMDD), years 1900-2999."""
        value, form = segment.component(1, 2), segment.component(1, 3)
        if form not in ("", "102"):
            self.invalid(segment, 1, 3, f"{name} format {form!r} is not 102 (CCYYMMDD)")
            return None
        if re.fullmatch(r"(19|2[0-9])[0-9]{6}", value) is None:
            self.invalid(segment, 1, 2, f"{name} {value!r} is not a CCYYMMDD date")
            return None
        try:
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            self.invalid(segment, 1, 2, f"{name} {value!r} is not a calendar date")
            return None


def first(segments: Iterable[Segment], tag: str, qualifier: str | None = None,
          element: int = 1, component: int = 1) -> Segment | None:
    """The first segment with the tag (and the qualifier at the given position)."""
    return next(iter(every(segments, tag, qualifier, element, component)), None)


def every(segments: Iterable[Segment], tag: str, qualifier: str | None = None,
          element: int = 1, component: int = 1) -> Iterator[Segment]:
    return (
        segment for segment in segments
        if segment.tag == tag
        and (qualifier is None or segment.component(element, component) == qualifier)
    )


def following(segments: list[Segment], anchor: Segment, tag: str) -> Segment | None:
    """The segment right after `anchor` when it has the tag (a group's dependent segment)."""
    index = next(i for i, segment in enumerate(segments) if segment is anchor)
    if index + 1 < len(segments) and segments[index + 1].tag == tag:
        return segments[index + 1]
    return None


def plain(number: Decimal) -> str:
    """A decimal as EDIFACT writes it: no exponent, '.' as the decimal mark."""
    return f"{number:f}"


def required_date(reader: Reader, head: Sequence[Segment], qualifier: str, name: str,
                  unt_line: int) -> date | None:
    """A header DTM with its qualifier (e.g. 58 ReleaseDate, 138 ReceivedOn), or SCH001."""
    segment = first(head, "DTM", qualifier)
    if segment is None:
        reader.missing("DTM", f"{name} (DTM+{qualifier})", unt_line)
        return None
    reader.at(f"/{name}", segment)
    return reader.date(segment, name)


def importer_account(reader: Reader, head: Sequence[Segment], unt_line: int) -> str | None:
    """The importer account of NAD+IM, or SCH001 (its format and check digit come later)."""
    party = first(head, "NAD", "IM")
    if party is None:
        reader.missing("NAD", "ImporterAccount (NAD+IM)", unt_line)
        return None
    reader.at("/ImporterAccount", party)
    return reader.text(party, 2, 1, "ImporterAccount", "[A-Za-z0-9]{1,32}")
