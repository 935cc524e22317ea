"""CUSDEC (directories D96B and D21A, the same segments) to and from the Declaration of
CONTRACT section 2.1. docs/edifact.md has the mapping table; in short:

    BGM+929+{TransactionNumber}+{9 original | 5 correction | 4 adjustment}'
    DTM+58:{ReleaseDate}:102'
    RFF+AAE:{TransactionNumber}::{Version}'
    NAD+IM+{ImporterAccount}'
    MOA+39:{sum of line values}:{Currency}'      (informational)
    CUX+2:{Currency}+3:CAD+{ExchangeRate}'
    UNS+D'
    per line: CST+{Number}+{HSCode}+{TariffTreatment}'  FTX+AAA+++{Description}'
              [FTX+ACD++{ReasonCode}']  LOC+27+{CountryOfOrigin}'  MEA+AAE++{unit}:{Quantity}'
              MOA+38:{Value}'  TAX+1+CUD+++:::{DutyRate}'  [TAX+1+EXC' MOA+161:{ExciseTax}']
              [TAX+1+GST+++:::{GSTRate}']
    UNS+S'
    [TAX+3+CUD' MOA+161:{Duty}' TAX+3+EXC' MOA+161:{ExciseTax}' TAX+3+GST' MOA+161:{GST}'
     TAX+4+TOT' MOA+161:{Total}']                (DeclaredTotals)
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from gateway.codec.edifact._values import (
    Reader,
    every,
    first,
    following,
    importer_account,
    plain,
    required_date,
)
from gateway.codec.edifact.tokenizer import Segment
from gateway.codec.messages import Declaration, DeclarationLine, Header, Totals

Purpose = Literal["original", "correction", "adjustment"]

DOCUMENT_CODE = "929"
"""BGM 1001: goods declaration for importation."""
PURPOSE_OF_FUNCTION: dict[str, Purpose] = {"9": "original", "5": "correction", "4": "adjustment"}
"""BGM 1225 message function code to Purpose."""
FUNCTION_OF_PURPOSE = {purpose: code for code, purpose in PURPOSE_OF_FUNCTION.items()}
DESCRIPTION_CHUNK = 70
"""FTX 4440 is an..70 in D96B: a longer description spans several components."""
MAX_LINES = 999
DEFAULT_GST_RATE = Decimal(5)
TOTALS = (("3", "CUD", "Duty"), ("3", "EXC", "ExciseTax"), ("3", "GST", "GST"),
          ("4", "TOT", "Total"))
"""DeclaredTotals: TAX 5283 function, 5153 type, and the element of section 2."""


@dataclass
class _Sections:
    header: list[Segment] = field(default_factory=list)
    items: list[list[Segment]] = field(default_factory=list)
    summary: list[Segment] = field(default_factory=list)
    detail_seen: bool = False


def _sections(body: Sequence[Segment]) -> _Sections:
    """Header up to the first UNS, goods items (each from a CST) up to the next UNS, summary."""
    sections = _Sections()
    state = "header"
    for segment in body:
        if segment.tag == "UNS":
            section = segment.component(1, 1)
            state = "summary" if section == "S" or state == "detail" else "detail"
            sections.detail_seen = sections.detail_seen or state == "detail"
        elif state == "header":
            sections.header.append(segment)
        elif state == "summary":
            sections.summary.append(segment)
        elif segment.tag == "CST" or not sections.items:
            sections.items.append([segment])
        else:
            sections.items[-1].append(segment)
    return sections


def _tax(segments: list[Segment], function: str, tax_type: str) -> Segment | None:
    return next((segment for segment in every(segments, "TAX", function)
                 if segment.component(2, 1) == tax_type), None)


def _line(reader: Reader, item: list[Segment], index: int,
          currency: str | None) -> DeclarationLine | None:
    cst = item[0]
    base = f"/Line[{index}]"
    if cst.tag != "CST":
        reader.missing("CST", f"goods item number of line {index}", cst.number)
        return None
    for path in ("", "/Number", "/HSCode", "/TariffTreatment"):
        reader.at(base + path, cst)
    number = reader.integer(cst, 1, 1, "goods item number (Line/Number)", MAX_LINES)
    hs_code = reader.text(cst, 2, 1, "HSCode", "[0-9]{10}")
    treatment = reader.text(cst, 3, 1, "TariffTreatment", "[A-Z0-9]{1,5}")
    description = _description(reader, item, base, cst.number)
    reason = first(item, "FTX", "ACD")
    reason_code = None
    if reason is not None:
        reader.at(base + "/ReasonCode", reason)
        reason_code = reader.text(reason, 3, 1, "ReasonCode", "[A-Z0-9]{1,8}")
    country = _required(reader, item, "LOC", "27", "CountryOfOrigin", base, cst.number)
    origin = reader.text(country, 2, 1, "CountryOfOrigin", "[A-Z]{2}") if country else None
    measure = _required(reader, item, "MEA", "AAE", "Quantity", base, cst.number)
    unit = reader.text(measure, 3, 1, "Quantity unit", "[A-Z0-9]{1,3}") if measure else None
    quantity = reader.number(measure, 3, 2, "Quantity", "quantity") if measure else None
    amount = _required(reader, item, "MOA", "38", "Value", base, cst.number)
    value = reader.number(amount, 1, 2, "Value", "amount") if amount else None
    if amount is not None and amount.component(1, 3) not in ("", currency or ""):
        reader.invalid(amount, 1, 3, f"Value currency {amount.component(1, 3)!r} differs from "
                                     f"the declared currency {currency!r}")
    duty_tax = _tax(item, "1", "CUD")
    duty_rate = None
    if duty_tax is None:
        reader.missing("TAX", f"customs duty rate (TAX+1+CUD) of line {index}", cst.number)
    else:
        reader.at(base + "/DutyRate", duty_tax)
        duty_rate = reader.number(duty_tax, 5, 4, "DutyRate", "rate")
    excise = _excise(reader, item, base)
    gst_rate = _gst_rate(reader, item, base)
    if (number is None or hs_code is None or treatment is None or description is None
            or origin is None or unit is None or quantity is None or value is None
            or duty_rate is None or excise is None or gst_rate is None):
        return None
    return DeclarationLine(
        number=number, hs_code=hs_code, description=description, country_of_origin=origin,
        tariff_treatment=treatment, quantity=quantity, unit=unit, value=value,
        duty_rate=duty_rate, excise_tax=excise, gst_rate=gst_rate, reason_code=reason_code,
    )


def _required(reader: Reader, item: list[Segment], tag: str, qualifier: str, name: str,
              base: str, line: int) -> Segment | None:
    segment = first(item, tag, qualifier)
    if segment is None:
        reader.missing(tag, f"{name} ({tag}+{qualifier}) of line {base[6:-1]}", line)
    else:
        reader.at(f"{base}/{name}", segment)
    return segment


def _description(reader: Reader, item: list[Segment], base: str, line: int) -> str | None:
    text = first(item, "FTX", "AAA")
    if text is None:
        reader.missing("FTX", f"Description (FTX+AAA) of line {base[6:-1]}", line)
        return None
    reader.at(base + "/Description", text)
    description = "".join(text.elements[3]).strip() if len(text.elements) > 3 else ""
    if not 1 <= len(description) <= 256:
        reader.invalid(text, 4, 1, f"Description must have 1 to 256 characters, it has "
                                   f"{len(description)}")
        return None
    return description


def _excise(reader: Reader, item: list[Segment], base: str) -> Decimal | None:
    tax = _tax(item, "1", "EXC")
    if tax is None:
        return Decimal(0)
    amount = following(item, tax, "MOA")
    if amount is None:
        reader.missing("MOA", f"ExciseTax amount after TAX+1+EXC of line {base[6:-1]}",
                       tax.number)
        return None
    reader.at(base + "/ExciseTax", amount)
    return reader.number(amount, 1, 2, "ExciseTax", "amount")


def _gst_rate(reader: Reader, item: list[Segment], base: str) -> Decimal | None:
    tax = _tax(item, "1", "GST")
    if tax is None:
        return DEFAULT_GST_RATE
    reader.at(base + "/GSTRate", tax)
    return reader.number(tax, 5, 4, "GSTRate", "rate")


def _totals(reader: Reader, summary: list[Segment], line: int) -> Totals | None:
    found: dict[str, Decimal | None] = {}
    for function, tax_type, name in TOTALS:
        tax = _tax(summary, function, tax_type)
        amount = following(summary, tax, "MOA") if tax is not None else None
        if amount is not None:
            if not found:
                reader.at("/DeclaredTotals", tax)
            reader.at(f"/DeclaredTotals/{name}", amount)
            found[name] = reader.number(amount, 1, 2, f"DeclaredTotals/{name}", "amount")
    if not found:
        return None
    absent = [name for _, _, name in TOTALS if name not in found]
    if absent:
        reader.missing("TAX", "DeclaredTotals " + ", ".join(absent) +
                       " (all four or none)", line)
        return None
    duty, excise, gst, total = (found[name] for _, _, name in TOTALS)
    if duty is None or excise is None or gst is None or total is None:
        return None
    return Totals(duty=duty, excise_tax=excise, gst=gst, total=total)


def read_declaration(body: Sequence[Segment], header: Header | None, reader: Reader,
                     unt_line: int) -> Declaration | None:
    """The Declaration in the segments between UNH and UNT, or None with SCH001 problems."""
    sections = _sections(body)
    head = sections.header
    bgm = first(head, "BGM")
    if bgm is None:
        reader.missing("BGM", "TransactionNumber", unt_line)
    else:
        reader.at("/TransactionNumber", bgm)
        reader.at("/Purpose", bgm)
    transaction = reader.text(bgm, 2, 1, "TransactionNumber", "[0-9]{14}") if bgm else None
    function = bgm.component(3, 1) if bgm else ""
    purpose: Purpose | None = None
    if bgm is not None and function not in PURPOSE_OF_FUNCTION:
        reader.invalid(bgm, 3, None, f"message function {function!r} is not 9 (original), "
                                     "5 (correction) or 4 (adjustment)")
    elif bgm is not None:
        purpose = PURPOSE_OF_FUNCTION[function]
    version = _version(reader, head, transaction, unt_line)
    release_date = required_date(reader, head, "58", "ReleaseDate", unt_line)
    account = importer_account(reader, head, unt_line)
    currency, rate = _currency(reader, head, unt_line)
    lines = _lines(reader, sections, currency, unt_line)
    totals = _totals(reader, sections.summary, unt_line)
    if (header is None or reader.problems or transaction is None or purpose is None
            or version is None or release_date is None or account is None or currency is None
            or rate is None or lines is None):
        return None
    return Declaration(
        header=header, transaction_number=transaction, version=version, purpose=purpose,
        importer_account=account, release_date=release_date, currency=currency,
        exchange_rate=rate, lines=lines, declared_totals=totals, source_lines=reader.lines,
    )


def _version(reader: Reader, head: list[Segment], transaction: str | None,
             line: int) -> int | None:
    reference = first(head, "RFF", "AAE")
    if reference is None:
        reader.missing("RFF", "Version (RFF+AAE:{TransactionNumber}::{Version})", line)
        return None
    reader.at("/Version", reference)
    if transaction is not None and reference.component(1, 2) != transaction:
        reader.invalid(reference, 1, 2, f"RFF+AAE names {reference.component(1, 2)!r}, BGM "
                                        f"the transaction {transaction}")
    return reader.integer(reference, 1, 4, "Version", 9999)


def _currency(reader: Reader, head: list[Segment],
              line: int) -> tuple[str | None, Decimal | None]:
    currencies = first(head, "CUX")
    if currencies is None:
        reader.missing("CUX", "Currency and ExchangeRate", line)
        return None, None
    reader.at("/Currency", currencies)
    reader.at("/ExchangeRate", currencies)
    currency = reader.text(currencies, 1, 2, "Currency", "[A-Z]{3}")
    rate = reader.number(currencies, 3, 1, "ExchangeRate", "exchange-rate")
    return currency, rate


def _lines(reader: Reader, sections: _Sections, currency: str | None,
           line: int) -> tuple[DeclarationLine, ...] | None:
    if not sections.detail_seen:
        reader.missing("UNS", "start of the goods items (UNS+D)", line)
        return None
    if not sections.items or len(sections.items) > MAX_LINES:
        reader.missing("CST", f"goods items (1 to {MAX_LINES})", line)
        return None
    lines = [_line(reader, item, index, currency)
             for index, item in enumerate(sections.items, start=1)]
    numbers: dict[int, int] = {}
    for index, (item, found) in enumerate(zip(sections.items, lines, strict=True), start=1):
        if found is not None and found.number in numbers:
            reader.invalid(item[0], 1, 1, f"line number {found.number} of line {index} is "
                                          f"used by line {numbers[found.number]}")
        elif found is not None:
            numbers[found.number] = index
    if any(found is None for found in lines):
        return None
    return tuple(found for found in lines if found is not None)


def write_declaration(declaration: Declaration) -> list[Segment]:
    """The segments between UNH and UNT for a Declaration."""
    total_value = sum((line.value for line in declaration.lines), Decimal(0))
    segments = [
        Segment.of("BGM", DOCUMENT_CODE, declaration.transaction_number,
                   FUNCTION_OF_PURPOSE[declaration.purpose]),
        Segment.of("DTM", ("58", declaration.release_date.strftime("%Y%m%d"), "102")),
        Segment.of("RFF", ("AAE", declaration.transaction_number, "", str(declaration.version))),
        Segment.of("NAD", "IM", declaration.importer_account),
        Segment.of("MOA", ("39", plain(total_value), declaration.currency)),
        Segment.of("CUX", ("2", declaration.currency), ("3", "CAD"),
                   plain(declaration.exchange_rate)),
        Segment.of("UNS", "D"),
    ]
    for line in declaration.lines:
        segments.extend(_write_line(line))
    segments.append(Segment.of("UNS", "S"))
    totals = declaration.declared_totals
    if totals is not None:
        amounts = (totals.duty, totals.excise_tax, totals.gst, totals.total)
        for (function, tax_type, _), amount in zip(TOTALS, amounts, strict=True):
            segments.append(Segment.of("TAX", function, tax_type))
            segments.append(Segment.of("MOA", ("161", plain(amount))))
    return segments


def _write_line(line: DeclarationLine) -> list[Segment]:
    description = line.description
    chunks = tuple(description[start:start + DESCRIPTION_CHUNK]
                   for start in range(0, len(description), DESCRIPTION_CHUNK))
    segments = [
        Segment.of("CST", str(line.number), line.hs_code, line.tariff_treatment),
        Segment.of("FTX", "AAA", "", "", chunks),
    ]
    if line.reason_code is not None:
        segments.append(Segment.of("FTX", "ACD", "", line.reason_code))
    segments += [
        Segment.of("LOC", "27", line.country_of_origin),
        Segment.of("MEA", "AAE", "", (line.unit, plain(line.quantity))),
        Segment.of("MOA", ("38", plain(line.value))),
        Segment.of("TAX", "1", "CUD", "", "", ("", "", "", plain(line.duty_rate))),
    ]
    if line.excise_tax:
        segments.append(Segment.of("TAX", "1", "EXC"))
        segments.append(Segment.of("MOA", ("161", plain(line.excise_tax))))
    segments.append(Segment.of("TAX", "1", "GST", "", "", ("", "", "", plain(line.gst_rate))))
    return segments
