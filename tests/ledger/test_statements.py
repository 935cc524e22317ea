"""Statements end to end on SQLite and PostgreSQL: which items a statement charges interest on,
summaries that reconcile in every format, and statement runs that catch up on the periods the
daemon was down for.

Every scenario: one line with 0 % duty and 100 % GST, so the Total is the line's value;
interest at the default 10 % a year, compounded daily: B x ((1 + 0.10/365)^n - 1) for B
overdue n days.
"""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from support.billing import ACCOUNT, HEADER, TRANSACTION, at, charged, issue, pay, version
from support.pipeline import REPO, Harness

from gateway.appeals.cases import CaseDesk, StepRequest
from gateway.ledger import statement_run
from gateway.ledger.statement_render import as_html, as_pdf, as_text, as_xml
from gateway.ledger.statements import Statement, build_statement
from gateway.ledger.verify import verify


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def appeal(message_id: str) -> bytes:
    return f"""<Appeal xmlns="urn:carm-gateway:message:1">
  {HEADER.format(message_id=message_id)}
  <Type>redetermination</Type><ImporterAccount>{ACCOUNT}</ImporterAccount>
  <TransactionNumber>{TRANSACTION}</TransactionNumber><DecisionDate>2026-11-24</DecisionDate>
  <DisputedAmount>150.00</DisputedAmount><Grounds>Wrong classification</Grounds>
</Appeal>""".encode()


def refund_request(message_id: str, amount: str) -> bytes:
    return f"""<AccountRequest xmlns="urn:carm-gateway:message:1">
  {HEADER.format(message_id=message_id)}
  <Type>refund</Type><ImporterAccount>{ACCOUNT}</ImporterAccount><Amount>{amount}</Amount>
  <Details>Please refund the credit</Details></AccountRequest>""".encode()


def decide(harness: Harness, case: str, case_type: str, when: str, amount: str) -> None:
    """Acknowledge, review and allow a case with `amount`, on the day `when`."""
    desk = CaseDesk(harness.config, harness.registry, harness.processor.calendar)
    day = when[:10]
    for step, hour, extra in (("acknowledge", "09", {}), ("review", "10", {}),
                              ("decide", "11", {"note": "allowed", "outcome": "allowed",
                                                "amount": Decimal(amount)})):
        request = StepRequest(case, step, "operator:test", **extra)  # type: ignore[arg-type]
        harness.database.transaction_sync(lambda tx, r=request, h=hour: desk.take(
            tx, r, at(f"{day}T{h}:00:00-05:00"), case_type))


def statement(harness: Harness, period: str) -> Statement:
    account = harness.registry.account(ACCOUNT)
    return harness.database.transaction_sync(lambda tx: build_statement(
        tx, ACCOUNT, period, harness.processor.calendar, harness.config.billing, account))


# 1. Which items a statement charges


def test_adjustment_interest_on_the_statement_before_the_first_debit_is_due(
        harness: Harness) -> None:
    """Release 2026-11-10 (period 2026-11, due 2026-12-01); v1 1000.00 received 2026-11-26 is
    billed in 2026-12, due 2026-12-31. The adjustment to 1500.00 received 12-10 bears interest
    on its 500.00 from 12-02, the day after the release period's due date.

    2026-12-25: 500.00, 12-02 to 12-25, 24 days: 500 x ((1 + 0.10/365)^24 - 1) = 3.298 ->
    3.30 (before the fix 0.00: the item was picked by v1's due date, 12-31).
    2027-01-25: 1000.00 from 01-01 to 01-25, 25 days: 6.872; 500.00 from 12-26, 31 days:
    4.264; together 11.136 -> 11.14 (before: 500.00 over all 55 days, 7.59, + 6.87 = 14.46).
    """
    harness.submit(version(1, "original", "1000.00", "2026-11-10"),
                   at=at("2026-11-26T10:00:00-05:00"))
    adjusted = harness.submit(version(2, "adjustment", "1500.00", "2026-11-10"),
                              at=at("2026-12-10T10:00:00-05:00"))
    assert adjusted.status == "accepted"
    assert issue(harness, "2026-12-25T12:00:00-05:00") == [ACCOUNT]
    assert charged(harness, "2026-12") == Decimal("3.30")
    assert issue(harness, "2027-01-25T12:00:00-05:00") == [ACCOUNT]
    assert charged(harness, "2027-01") == Decimal("11.14")
    assert harness.database.transaction_sync(verify) == []


def test_a_debit_billed_in_a_later_period_is_charged_by_its_own_statement_only(
        harness: Harness) -> None:
    """v1 1000.00, release 2026-10-20 (period 2026-11, due 2026-12-01), paid 2026-11-26. The
    adjustment to 1100.00 received 2026-12-20 is billed in 2027-01 and bears interest on its
    100.00 from 12-02.

    2026-12-25: 0.00 (before the fix the 2026-12 statement charged the 100.00 for 12-02 to
    12-25, 0.66, and the 2027-01 statement the same days again).
    2027-01-25: 12-02 to 01-25, 55 days: 100 x ((1 + 0.10/365)^55 - 1) = 1.518 -> 1.52.
    """
    harness.submit(version(1, "original", "1000.00", "2026-10-20"),
                   at=at("2026-10-21T10:00:00-04:00"))
    issue(harness, "2026-11-25T12:00:00-05:00")
    harness.submit(pay("P1", "1000.00", "2026-11-26"), at=at("2026-11-26T10:00:00-05:00"))
    harness.submit(version(2, "adjustment", "1100.00", "2026-10-20"),
                   at=at("2026-12-20T10:00:00-05:00"))
    issue(harness, "2026-12-25T12:00:00-05:00")
    assert charged(harness, "2026-12") == Decimal("0.00")
    issue(harness, "2027-01-25T12:00:00-05:00")
    assert charged(harness, "2027-01") == Decimal("1.52")


# 2. Summaries


def summary_in_every_format(built: Statement) -> dict[str, list[str]]:
    """The summary amounts as each format shows them, in order."""
    labels = ["Charges", "Interest charged", "Payments received", "Credits", "Refunds",
              "Closing balance"]
    text = as_text(built).splitlines()
    from_text = [next(line.split()[-1] for line in text if line.startswith(label))
                 for label in labels]
    html = as_html(built)
    from_html = [html.split(f"<tr><td>{label}", 1)[1].split("<td class=n>", 1)[1]
                 .split("<", 1)[0] for label in labels[:5]]
    from_html.append(html.split("<b>Closing balance</b></td><td class=n><b>")[1].split("<")[0])
    root = etree.fromstring(as_xml(built))
    namespace = "{urn:carm-gateway:statement:1}"
    from_xml = [root.findtext(namespace + name) or "" for name in
                ("Charges", "Interest", "Payments", "Credits", "Refunds", "ClosingBalance")]
    pdf = as_pdf(built)
    from_pdf = [next(line.rsplit(b") Tj", 1)[0].split()[-1].decode() for line in pdf.splitlines()
                     if line.startswith(b"(" + label.encode())) for label in labels]
    return {"text": from_text, "html": from_html, "xml": from_xml, "pdf": from_pdf}


def test_summary_reconciles_with_credits_and_refunds_in_every_format(harness: Harness) -> None:
    """Period 2026-12 (2026-11-18 to 12-17): v1 1000.00 (release 2026-11-20) received 11-20,
    paid 1000.00 on 11-25; corrected down to 800.00 on 11-30 (-200.00, a credit); an appeal
    allowed 150.00 on 12-05 (a credit); 300.00 of the 350.00 credit refunded on 12-10.

    Charges 1000.00, interest 0.00, payments 1000.00, credits 200.00 + 150.00 = 350.00,
    refunds 300.00: 0.00 + 1000.00 + 0.00 - 1000.00 - 350.00 + 300.00 = -50.00, the closing
    balance. Before the fix Charges was 1300.00 (it counted the refund), the credits were on
    no line, and 0 + 1300 - 1000 = 300.00, not -50.00.
    """
    harness.submit(version(1, "original", "1000.00", "2026-11-20"),
                   at=at("2026-11-20T10:00:00-05:00"))
    harness.submit(pay("P1", "1000.00", "2026-11-25"), at=at("2026-11-25T10:00:00-05:00"))
    lowered = harness.submit(version(2, "correction", "800.00", "2026-11-20"),
                             at=at("2026-11-30T10:00:00-05:00"))
    assert lowered.balance == Decimal("-200.00")
    case = harness.submit(appeal("A1"), at=at("2026-12-01T10:00:00-05:00")).case_number
    assert case is not None
    decide(harness, case, "appeal", "2026-12-05", "150.00")
    request = harness.submit(refund_request("R1", "300.00"),
                             at=at("2026-12-07T10:00:00-05:00")).case_number
    assert request is not None
    decide(harness, request, "account-request", "2026-12-10", "300.00")

    built = statement(harness, "2026-12")
    summary = built.summary
    assert (summary.charges, summary.interest, summary.payments, summary.credits,
            summary.refunds) == (Decimal("1000.00"), 0, Decimal("1000.00"), Decimal("350.00"),
                                 Decimal("300.00"))
    assert built.closing == Decimal("-50.00") == built.opening + summary.change()
    expected = ["1000.00", "0.00", "1000.00", "350.00", "300.00", "-50.00"]
    assert summary_in_every_format(built) == {
        "text": expected, "html": expected, "xml": expected, "pdf": expected}
    schema = etree.XMLSchema(etree.parse(str(REPO / "schemas" / "statement.xsd")))
    document = etree.fromstring(as_xml(built))
    schema.assertValid(document)
    for added in ("Credits", "Refunds"):  # a statement written before they were added
        document.remove(document.find("{urn:carm-gateway:statement:1}" + added))
    schema.assertValid(document)


def test_interest_offset_from_the_periods_credit_is_on_its_statement(harness: Harness) -> None:
    """v1 1000.00 (release 2026-10-20, due 2026-12-01) paid with 1500.00 received 2026-12-10
    (period 2026-12): 500.00 credit. The 2026-12-25 statement charges 12-02 to 12-09, 8 days:
    1000 x ((1 + 0.10/365)^8 - 1) = 2.194 -> 2.19, which the credit pays at once.

    The offset is billed in 2026-12 like the interest, so that statement owes nothing on the
    interest item: closing 0.00 + 1000.00 + 2.19 - 1500.00 = -497.81, all of it credit (before
    the fix the offset went to 2027-01 and the statement listed 2.19 owing beside a credit of
    500.00). The text wraps the offset's 31-character reference instead of cutting it.
    """
    harness.submit(version(1, "original", "1000.00", "2026-10-20"),
                   at=at("2026-10-21T10:00:00-04:00"))
    issue(harness, "2026-11-25T12:00:00-05:00")
    harness.submit(pay("P1", "1500.00", "2026-12-10"), at=at("2026-12-10T10:00:00-05:00"))
    issue(harness, "2026-12-25T12:00:00-05:00")
    built = statement(harness, "2026-12")
    assert built.interest == Decimal("2.19")
    assert built.closing == Decimal("-497.81")
    assert built.owing_by_item == (("credit", Decimal("-497.81")),)
    assert [line.entry_type for line in built.lines][-2:] == ["interest", "offset"]
    text = as_text(built)
    assert f"Offset of credit    interest:{TRANSACTION}:" in text
    assert "\n" + " " * 31 + "2026-12\n" in text
    assert statement(harness, "2027-01").lines == ()


def test_interest_offset_from_a_later_credit_is_in_the_later_period(harness: Harness) -> None:
    """As above, but the 1500.00 is received 2026-12-20, in period 2027-01: 2026-12 had no
    credit. The 2026-12-25 statement charges 12-02 to 12-19, 18 days: 1000 x ((1 +
    0.10/365)^18 - 1) = 4.943 -> 4.94 and closes at 1004.94 owing; the offset of the 4.94
    is billed in 2027-01 with the payment, which closes at 1004.94 - 1500.00 = -495.06."""
    harness.submit(version(1, "original", "1000.00", "2026-10-20"),
                   at=at("2026-10-21T10:00:00-04:00"))
    issue(harness, "2026-11-25T12:00:00-05:00")
    harness.submit(pay("P1", "1500.00", "2026-12-20"), at=at("2026-12-20T10:00:00-05:00"))
    issue(harness, "2026-12-25T12:00:00-05:00")
    december = statement(harness, "2026-12")
    assert december.interest == Decimal("4.94")
    assert december.closing == Decimal("1004.94")
    assert "offset" not in [line.entry_type for line in december.lines]
    january = statement(harness, "2027-01")
    assert [line.entry_type for line in january.lines] == ["payment", "offset"]
    assert january.closing == Decimal("-495.06")


# 3. Catching up


def test_a_run_after_downtime_issues_every_missed_period_oldest_first(
        harness: Harness) -> None:
    """v1 1000.00 (release 2026-11-02, due 2026-12-01), 2026-11 statement issued; the daemon
    is down from 2026-12-24 to 2027-01-26. The run on 01-26 issues 2026-12, then 2027-01.

    2026-12: 12-02 to 12-25, 24 days: 1000 x ((1 + 0.10/365)^24 - 1) = 6.596 -> 6.60;
    closing 1006.60 (before the fix: never issued, no closing for the security check).
    2027-01: 1000.00 from 12-26 to 01-25, 31 days: 8.528; 6.60 from 01-01 (due 12-31) to
    01-25, 25 days: 0.045; 8.573 -> 8.57 + 0.05 = 8.58 (rounded per item); closing 1015.18.
    Before: 2027-01 charged 1000.00 over all 55 days, 15.18.
    """
    harness.submit(version(1, "original", "1000.00", "2026-11-02"),
                   at=at("2026-11-04T10:00:00-05:00"))
    assert issue(harness, "2026-11-25T06:00:00-05:00") == [ACCOUNT]
    assert issue(harness, "2027-01-26T06:00:00-05:00") == [ACCOUNT, ACCOUNT]
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT period, closing_cents FROM statements_issued ORDER BY period"))
    assert [(str(r[0]), int(r[1])) for r in rows] == [
        ("2026-11", 100000), ("2026-12", 100660), ("2027-01", 101518)]
    assert statement(harness, "2026-12").interest == Decimal("6.60")
    assert statement(harness, "2027-01").interest == Decimal("8.58")
    subjects = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT payload FROM outbox WHERE purpose = 'statement' ORDER BY id"))
    periods = [period for row in subjects for period in ("2026-11", "2026-12", "2027-01")
               if f"Statement of account {ACCOUNT} for {period}".encode() in bytes(row[0])]
    assert periods == ["2026-11", "2026-12", "2027-01"]
    assert issue(harness, "2027-01-26T07:00:00-05:00") == []


def test_a_run_issues_at_most_its_limit_of_periods_the_rest_next_time(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a limit of one period per run, the run on 2027-01-26 issues 2026-12 (6.60 as
    above) and the next run 2027-01 (8.58): the same figures as in one run."""
    monkeypatch.setattr(statement_run, "CATCH_UP_PERIODS_PER_RUN_MAX", 1)
    harness.submit(version(1, "original", "1000.00", "2026-11-02"),
                   at=at("2026-11-04T10:00:00-05:00"))
    issue(harness, "2026-11-25T06:00:00-05:00")
    assert issue(harness, "2027-01-26T06:00:00-05:00") == [ACCOUNT]
    assert statement(harness, "2026-12").interest == Decimal("6.60")
    assert statement(harness, "2027-01").issued_at is None
    assert issue(harness, "2027-01-26T07:00:00-05:00") == [ACCOUNT]
    assert statement(harness, "2027-01").interest == Decimal("8.58")
