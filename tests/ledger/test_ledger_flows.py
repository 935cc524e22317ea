"""The RM account ledger end to end on SQLite and PostgreSQL: versions and the correction
cut-off, offsets, refund requests, interest at the statement, statements and verify."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest
from lxml import etree
from support.pipeline import REPO, Harness, declaration, example, payment

from gateway.ledger.statement_render import as_pdf, as_xml
from gateway.ledger.statement_run import issue_due_statements, period_to_issue
from gateway.ledger.statements import build_statement
from gateway.ledger.verify import verify

ACCOUNT = "123456782RM0001"
LINE_1000 = """
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Taxed</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>1000.00</Value><DutyRate>0</DutyRate>
    <GSTRate>100</GSTRate>{reason}</Line>"""


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def eastern(text: str) -> datetime:
    return datetime.fromisoformat(text)


def codes(outcome: object) -> list[str]:
    return [p.code for p in outcome.problems if p.severity == "error"]  # type: ignore[attr-defined]


def balance_of(harness: Harness, item: str) -> int:
    return int(harness.scalar("SELECT COALESCE(SUM(amount_cents), 0) FROM balances"  # type: ignore[arg-type]
                              " WHERE item = ?", item))


def correction(message_id: str, value: str = "900.00") -> bytes:
    return declaration(message_id=message_id, version=2, purpose="correction", lines=f"""
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Laptops</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>{value}</Value><DutyRate>5</DutyRate>
    <ReasonCode>CL01</ReasonCode></Line>""")


def test_correction_until_2359_eastern_on_the_due_date(harness: Harness) -> None:
    """Release 2026-11-20 is billed in period 2026-12, due 2026-12-31: a correction at 23:59
    Eastern that day is accepted; one a minute past the cut-off is DEC003."""
    harness.submit(declaration(message_id="v1"))
    refused = harness.submit(correction("late"), at=eastern("2027-01-01T00:00:59-05:00"))
    assert codes(refused) == ["DEC003"]
    accepted = harness.submit(correction("ok"), at=eastern("2026-12-31T23:59:00-05:00"))
    assert accepted.status == "accepted"
    assert "DEC004" in [p.code for p in accepted.problems], "late after release: a warning"


def test_adjustment_after_the_cutoff_is_billed_when_processed(harness: Harness) -> None:
    """An adjustment's difference is billed in the period it is processed."""
    harness.submit(declaration(message_id="v1"))
    adjusted = declaration(message_id="v2", version=2, purpose="adjustment", lines=LINE_1000
                           .format(reason="<ReasonCode>AD01</ReasonCode>"))
    outcome = harness.submit(adjusted, at=eastern("2027-01-20T10:00:00-05:00"))
    assert outcome.status == "accepted"
    assert str(outcome.payment_due) == "2027-03-03"  # period 2027-02 (Jan 18 - Feb 17)
    effective = harness.scalar("SELECT effective_on FROM ledger_entries WHERE entry_type = ?",
                               "adjustment")
    assert effective == "2026-12-31", "it bears interest from the original due date"


def test_overpayment_becomes_a_credit_offset_against_the_newest_debt(harness: Harness) -> None:
    """An overpayment leaves a credit; debts posted later are offset from it, newest first,
    and the total owed never changes by an offset."""
    harness.submit(declaration(message_id="a", transaction="12345000001235"))
    paid = harness.submit(payment(message_id="p", reference="P1", amount="150.00"))
    assert paid.balance == Decimal("-47.50")
    later = harness.submit(declaration(message_id="b", transaction="12345000002001"))
    assert later.balance == Decimal("55.00")
    assert balance_of(harness, "") == 0
    assert balance_of(harness, "12345000002001") == 5500
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries WHERE entry_type = 'offset'") == 1
    assert verify_ok(harness)


def test_falling_correction_credits_and_offsets(harness: Harness) -> None:
    """A correction below what was paid turns the difference into a credit, which then pays
    the newest other debt."""
    harness.submit(declaration(message_id="a", transaction="12345000001235"))
    harness.submit(payment(message_id="p", reference="P1", amount="102.50"))
    harness.submit(declaration(message_id="b", transaction="12345000002001"))
    outcome = harness.submit(correction("a2", value="800.00"))
    assert outcome.balance == Decimal("82.00")
    assert balance_of(harness, "12345000001235") == 0
    assert balance_of(harness, "12345000002001") == 8200
    assert verify_ok(harness)


def test_open_refund_request_stops_offsetting(harness: Harness) -> None:
    """While a refund request is open the credit stands; new debts are not offset."""
    harness.submit(declaration(message_id="a", transaction="12345000001235"))
    harness.submit(payment(message_id="p", reference="P1", amount="200.00"))
    assert harness.submit(example("account-request.xml")).status == "received"
    harness.submit(declaration(message_id="b", transaction="12345000002001"))
    assert balance_of(harness, "") == -9750
    assert balance_of(harness, "12345000002001") == 10250


def test_interest_is_charged_at_the_statement(harness: Harness) -> None:
    """A 1,000.00 debt of period 2026-11 (due 2026-12-01) unpaid at the 2026-12-25 statement
    bears 24 days of interest at 10 %, compounded daily, as a debt due 2026-12-31."""
    harness.submit(declaration(message_id="a", release="2026-11-10",
                               lines=LINE_1000.format(reason="")),
                   at=eastern("2026-11-12T10:00:00-05:00"))
    calendar = harness.processor.calendar
    issued = harness.database.transaction_sync(lambda tx: issue_due_statements(
        tx, harness.config, harness.registry, calendar, datetime(2026, 12, 25, 12, tzinfo=UTC)))
    assert issued == [ACCOUNT]
    with localcontext() as context:
        context.prec = 50
        expected = (Decimal(1000) * ((1 + Decimal("0.10") / 365) ** 24 - 1)).quantize(
            Decimal("0.01"), ROUND_HALF_UP)
    interest_item = "interest:12345000001235:2026-12"
    assert balance_of(harness, interest_item) == int(expected * 100)
    assert harness.scalar("SELECT due_date FROM balances WHERE item = ?",
                          interest_item) == "2026-12-31"
    again = harness.database.transaction_sync(lambda tx: issue_due_statements(
        tx, harness.config, harness.registry, calendar, datetime(2026, 12, 26, tzinfo=UTC)))
    assert again == [], "a statement is issued once"
    assert harness.scalar("SELECT COUNT(*) FROM outbox WHERE purpose = 'statement'") == 1
    assert verify_ok(harness)


def test_payment_pays_interest_before_principal(harness: Harness) -> None:
    """After interest is charged, a payment goes to the interest first."""
    test_interest_is_charged_at_the_statement(harness)
    harness.submit(payment(message_id="p", reference="P1", amount="5.00"),
                   at=eastern("2026-12-28T10:00:00-05:00"))
    assert balance_of(harness, "12345000001235") == 100000
    assert balance_of(harness, "interest:12345000001235:2026-12") < 200


def test_statement_renders_and_flags_short_security(harness: Harness) -> None:
    """The statement shows opening and closing balances and every entry; its XML is valid
    against schemas/statement.xsd; the PDF is a PDF; security short of 50 % of the highest
    owing is flagged."""
    big = LINE_1000.replace("1000.00", "60000.00").format(reason="")
    harness.submit(declaration(message_id="a", lines=big))
    harness.submit(payment(message_id="p", reference="P1", amount="100.00"))
    account = harness.registry.account(ACCOUNT)
    statement = harness.database.transaction_sync(lambda tx: build_statement(
        tx, ACCOUNT, "2026-12", harness.processor.calendar, harness.config.billing, account))
    assert statement.opening == 0 and statement.closing == Decimal("59900.00")
    assert [line.entry_type for line in statement.lines] == ["assessment", "payment"]
    assert statement.security is not None and statement.security.short
    assert statement.security.required == Decimal("29950.00")
    schema = etree.XMLSchema(etree.parse(str(REPO / "schemas" / "statement.xsd")))
    schema.assertValid(etree.fromstring(as_xml(statement)))
    assert as_pdf(statement).startswith(b"%PDF-1.4")


def test_period_to_issue() -> None:
    """On or after the 25th the period ending that month; before it, the previous one."""
    assert period_to_issue(date(2026, 12, 25)).name == "2026-12"
    assert period_to_issue(date(2026, 12, 24)).name == "2026-11"
    assert period_to_issue(date(2027, 1, 3)).name == "2026-12"


def test_verify_finds_a_tampered_balance(harness: Harness) -> None:
    """`ledger verify` recomputes balances from the entries and names what differs."""
    harness.submit(example("declaration.xml"))
    assert verify_ok(harness)
    harness.database.transaction_sync(lambda tx: tx.execute(
        "UPDATE balances SET amount_cents = amount_cents + 1"))
    findings = harness.database.transaction_sync(verify)
    assert findings == ["balance 123456782RM0001 12345000001235: stored 1093.08, entries sum "
                        "to 1093.07"]


def test_verify_finds_a_tampered_account_total(harness: Harness) -> None:
    """The account's total, which every Acknowledgement's Balance is read from, is checked
    against the entries too."""
    harness.submit(example("declaration.xml"))
    harness.database.transaction_sync(lambda tx: tx.execute(
        "UPDATE account_totals SET amount_cents = amount_cents - 10000"))
    findings = harness.database.transaction_sync(verify)
    assert findings == ["account total 123456782RM0001: stored 993.07, entries sum to 1093.07"]


def verify_ok(harness: Harness) -> bool:
    findings = harness.database.transaction_sync(verify)
    assert findings == []
    return True
