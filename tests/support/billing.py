"""Billing scenarios of the ledger tests: one account, one transaction whose line has 0 % duty
and 100 % GST (so the Total is the line's value), payments, and statement runs."""

from datetime import datetime
from decimal import Decimal

from support.pipeline import Harness, declaration

from gateway.ledger.statement_run import issue_due_statements

ACCOUNT = "123456782RM0001"
TRANSACTION = "12345000001235"
LINE = """
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Taxed</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>{value}</Value><DutyRate>0</DutyRate>
    <GSTRate>100</GSTRate>{reason}</Line>"""
HEADER = """<Header><MessageID>{message_id}</MessageID><Sender>BRK42</Sender>
    <SentAt>2026-11-23T14:05:00-05:00</SentAt></Header>"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def version(number: int, purpose: str, value: str, release: str = "2026-10-20") -> bytes:
    """Version `number` of TRANSACTION, its one line worth `value`."""
    reason = "<ReasonCode>CL01</ReasonCode>" if number > 1 else ""
    return declaration(message_id=f"v{number}", version=number, purpose=purpose,
                       release=release, lines=LINE.format(value=value, reason=reason))


def pay(reference: str, amount: str, received_on: str) -> bytes:
    return f"""<Payment xmlns="urn:carm-gateway:message:1">
  {HEADER.format(message_id=reference)}
  <PaymentReference>{reference}</PaymentReference>
  <ImporterAccount>{ACCOUNT}</ImporterAccount>
  <Amount>{amount}</Amount><Method>EFT</Method><ReceivedOn>{received_on}</ReceivedOn>
</Payment>""".encode()


def issue(harness: Harness, when: str) -> list[str]:
    """The daemon's statement run at `when`: the accounts issued."""
    return harness.database.transaction_sync(lambda tx: issue_due_statements(
        tx, harness.config, harness.registry, harness.processor.calendar, at(when)))


def charged(harness: Harness, period: str, item: str = TRANSACTION) -> Decimal:
    """Interest charged on `item` by the statement of `period` (0 when none)."""
    cents = harness.scalar("SELECT amount_cents FROM interest_charges WHERE importer_account = ?"
                           " AND item = ? AND period = ?", ACCOUNT, item, period)
    return Decimal(int(cents or 0)) / 100  # type: ignore[call-overload]
