"""REMADV (directories D96B and D21A, the same segments) to and from the Payment of CONTRACT
section 2.2. docs/edifact.md has the mapping table; in short:

    BGM+481+{PaymentReference}+9'
    DTM+138:{ReceivedOn}:102'
    PAI+::{payment means: 2 EFT, 30 WIRE, 49 PAD, 68 ONLINE_BANKING, 54 CREDIT_CARD, 20 CHEQUE}'
    NAD+IM+{ImporterAccount}'
    [CUX+2:CAD']
    per allocation: DOC+929+{TransactionNumber}'  MOA+12:{Amount}'
    UNS+S'
    MOA+12:{Amount}'
"""

from collections.abc import Sequence

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
from gateway.codec.messages import Allocation, Header, Payment

DOCUMENT_CODE = "481"
"""BGM 1001: remittance advice."""
ALLOCATED_DOCUMENT_CODE = "929"
"""DOC 1001 of an allocation: the goods declaration the payment is for."""
METHOD_OF_MEANS = {
    "2": "EFT",
    "30": "WIRE",
    "49": "PAD",
    "68": "ONLINE_BANKING",
    "54": "CREDIT_CARD",
    "20": "CHEQUE",
}
"""PAI 4461 payment means code to Method: automated clearing house credit, credit transfer,
direct debit, online payment service, credit card, cheque."""
MEANS_OF_METHOD = {method: code for code, method in METHOD_OF_MEANS.items()}
REMITTED = "12"
"""MOA 5025: amount remitted."""


def _split(body: Sequence[Segment]) -> tuple[list[Segment], list[Segment]]:
    """The segments before the UNS, and after it (the summary)."""
    segments = list(body)
    index = next((i for i, segment in enumerate(segments) if segment.tag == "UNS"), None)
    if index is None:
        return segments, []
    return segments[:index], segments[index + 1:]


def _allocations(reader: Reader, head: list[Segment]) -> tuple[Allocation, ...] | None:
    allocations = []
    complete = True
    for index, document in enumerate(every(head, "DOC"), start=1):
        base = f"/Allocation[{index}]"
        reader.at(base, document)
        reader.at(base + "/TransactionNumber", document)
        transaction = reader.text(document, 2, 1, "Allocation TransactionNumber", "[0-9]{14}")
        amount_segment = following(head, document, "MOA")
        amount = None
        if amount_segment is None or amount_segment.component(1, 1) != REMITTED:
            reader.missing("MOA", f"amount remitted (MOA+12) of allocation {index}",
                           document.number)
        else:
            reader.at(base + "/Amount", amount_segment)
            amount = reader.number(amount_segment, 1, 2, "Allocation Amount", "positive-amount")
        if transaction is None or amount is None:
            complete = False
        else:
            allocations.append(Allocation(transaction, amount))
    return tuple(allocations) if complete else None


def read_payment(body: Sequence[Segment], header: Header | None, reader: Reader,
                 unt_line: int) -> Payment | None:
    """The Payment in the segments between UNH and UNT, or None with SCH001 problems."""
    head, summary = _split(body)
    bgm = first(head, "BGM")
    reference = None
    if bgm is None:
        reader.missing("BGM", "PaymentReference", unt_line)
    else:
        reader.at("/PaymentReference", bgm)
        reference = reader.text(bgm, 2, 1, "PaymentReference", r"\S([ \S]{0,33}\S)?")
    received_on = required_date(reader, head, "138", "ReceivedOn", unt_line)
    method = _method(reader, head, unt_line)
    account = importer_account(reader, head, unt_line)
    currencies = first(head, "CUX")
    if currencies is not None and currencies.component(1, 2) != "CAD":
        reader.invalid(currencies, 1, 2, f"payment currency {currencies.component(1, 2)!r} "
                                         "is not CAD")
    remitted = first(summary, "MOA", REMITTED)
    amount = None
    if remitted is None:
        reader.missing("MOA", "Amount (MOA+12 after UNS)", unt_line)
    else:
        reader.at("/Amount", remitted)
        amount = reader.number(remitted, 1, 2, "Amount", "positive-amount")
    allocations = _allocations(reader, head)
    if (header is None or reader.problems or reference is None or received_on is None
            or method is None or account is None or amount is None or allocations is None):
        return None
    return Payment(
        header=header, payment_reference=reference, importer_account=account, amount=amount,
        method=method, received_on=received_on, allocations=allocations,
        source_lines=reader.lines,
    )


def _method(reader: Reader, head: list[Segment], line: int) -> str | None:
    instructions = first(head, "PAI")
    if instructions is None:
        reader.missing("PAI", "Method (PAI payment means)", line)
        return None
    reader.at("/Method", instructions)
    means = instructions.component(1, 3)
    method = METHOD_OF_MEANS.get(means)
    if method is None:
        codes = ", ".join(f"{code} {name}" for code, name in METHOD_OF_MEANS.items())
        reader.invalid(instructions, 1, 3, f"payment means {means!r} is not one of {codes}")
    return method


def write_payment(payment: Payment) -> list[Segment]:
    """The segments between UNH and UNT for a Payment."""
    segments = [
        Segment.of("BGM", DOCUMENT_CODE, payment.payment_reference, "9"),
        Segment.of("DTM", ("138", payment.received_on.strftime("%Y%m%d"), "102")),
        Segment.of("PAI", ("", "", MEANS_OF_METHOD[payment.method])),
        Segment.of("NAD", "IM", payment.importer_account),
        Segment.of("CUX", ("2", "CAD")),
    ]
    for allocation in payment.allocations:
        segments.append(Segment.of("DOC", ALLOCATED_DOCUMENT_CODE,
                                   allocation.transaction_number))
        segments.append(Segment.of("MOA", (REMITTED, plain(allocation.amount))))
    segments.append(Segment.of("UNS", "S"))
    segments.append(Segment.of("MOA", (REMITTED, plain(payment.amount))))
    return segments

