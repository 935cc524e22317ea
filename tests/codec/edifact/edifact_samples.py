"""Shared by the EDIFACT tests: the example folder, and the inputs the response examples in
examples/edifact/ (and docs/edifact.md) were written from."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from gateway.codec.edifact import Interchange, aperak, contrl, cusres, tokenize
from gateway.codec.messages import Totals
from gateway.outcome import Outcome
from gateway.validation.problems import problem

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
EDIFACT_EXAMPLES = EXAMPLES / "edifact"
DOCS = ROOT / "docs" / "edifact.md"

NOW = datetime(2026, 11, 23, 19, 6, tzinfo=UTC)
"""When the responses were written: 14:06 Eastern."""
RECEIVED_AT = datetime(2026, 11, 23, 19, 5, tzinfo=UTC)
RESPOND_BY = datetime(2026, 11, 25, 19, 5, tzinfo=UTC)

DECLARATION_ACCEPTED = Outcome(
    acknowledgement_id="gw1-000000000042", ref_message_id="BRK42E000101/1", sender="BRK42",
    kind="declaration", reference="12345000001235/1", status="accepted", test=False,
    received_at=RECEIVED_AT, respond_by=RESPOND_BY,
    assessment=Totals(Decimal("599.46"), Decimal("12.34"), Decimal("481.27"),
                      Decimal("1093.07")),
    balance=Decimal("1093.07"), payment_due=date(2026, 12, 1),
)
DECLARATION_REJECTED = Outcome(
    acknowledgement_id="gw1-000000000043", ref_message_id="BRK42E000507/1", sender="BRK42",
    kind="declaration", reference="12345000004007/1", status="rejected", test=False,
    received_at=RECEIVED_AT, respond_by=RESPOND_BY,
    problems=(
        problem("DEC001", "declared 481.72, computed 481.27", "/Declaration/DeclaredTotals/GST",
                40),
        problem("DEC001", "declared 1093.52, computed 1093.07",
                "/Declaration/DeclaredTotals/Total", 42),
    ),
)
PAYMENT_ACCEPTED = Outcome(
    acknowledgement_id="gw1-000000000044", ref_message_id="BRK42E000201/1", sender="BRK42",
    kind="payment", reference="PAY-2026-000045", status="accepted", test=False,
    received_at=RECEIVED_AT, respond_by=RESPOND_BY, balance=Decimal("-141.49"),
)


def read(name: str) -> Interchange:
    return tokenize((EDIFACT_EXAMPLES / name).read_bytes())


@dataclass(frozen=True)
class ResponseExample:
    file: str
    write: Callable[[], bytes]


RESPONSE_EXAMPLES = (
    ResponseExample("contrl-accepted.edi", lambda: contrl(
        read("declaration-d96b.edi"), {}, reference="CARMGW000001", now=NOW)),
    ResponseExample("contrl-rejected-interchange.edi", lambda: contrl(
        read("invalid-edi002-unz-reference.edi"), {}, reference="CARMGW000002", now=NOW)),
    ResponseExample("contrl-rejected-message.edi", lambda: contrl(
        read("invalid-edi002-one-of-two-messages.edi"), {}, reference="CARMGW000003",
        now=NOW)),
    ResponseExample("cusres-accepted.edi", lambda: cusres(
        read("declaration-d96b.edi"), read("declaration-d96b.edi").messages[0],
        DECLARATION_ACCEPTED, reference="CARMGW000004", now=NOW)),
    ResponseExample("cusres-rejected.edi", lambda: cusres(
        read("invalid-dec001-declared-totals.edi"),
        read("invalid-dec001-declared-totals.edi").messages[0], DECLARATION_REJECTED,
        reference="CARMGW000005", now=NOW)),
    ResponseExample("aperak-accepted.edi", lambda: aperak(
        read("payment-remadv.edi"), read("payment-remadv.edi").messages[0], PAYMENT_ACCEPTED,
        reference="CARMGW000006", now=NOW)),
)
"""Each response example and how it is written again (the tests compare the bytes)."""
