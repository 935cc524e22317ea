"""Cases move only along the case table; each step is journalled, emailed and has its effect."""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from support.pipeline import Harness, declaration, example, payment

from gateway.appeals.cases import CaseDesk, CaseError, StepRequest, case_steps, find_case
from gateway.appeals.states import STEPS, IllegalStep, next_state
from gateway.ledger.verify import verify
from gateway.store.database import Tx
from gateway.store.outbox import mark_delivered


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def desk(harness: Harness) -> CaseDesk:
    return CaseDesk(harness.config, harness.registry, harness.processor.calendar)


def step(harness: Harness, case: str, name: str, now: datetime, case_type: str = "appeal",
         **options: object) -> object:
    request = StepRequest(case, name, "operator:test", **options)  # type: ignore[arg-type]
    return harness.database.transaction_sync(
        lambda tx: desk(harness).take(tx, request, now, case_type))


def open_appeal(harness: Harness) -> str:
    harness.submit(example("declaration.xml"))
    outcome = harness.submit(example("appeal.xml"))
    assert outcome.status == "received" and outcome.case_number
    return outcome.case_number


LEGAL = [(state, name) for state, steps in STEPS.items() for name in steps]
ILLEGAL = [("received", "review"), ("received", "decide"), ("acknowledged", "decide"),
           ("under_review", "acknowledge"), ("awaiting_information", "decide"),
           ("decided", "withdraw"), ("withdrawn", "resume"), ("decided", "review")]


@pytest.mark.parametrize(("state", "name"), LEGAL)
def test_every_legal_step(state: str, name: str) -> None:
    """Each step of the case table leads where the contract says."""
    assert next_state(state, name) == STEPS[state][name]


@pytest.mark.parametrize(("state", "name"), ILLEGAL)
def test_illegal_steps_are_refused(state: str, name: str) -> None:
    """Anything not in the table is refused with the steps that are possible."""
    with pytest.raises(IllegalStep, match="cannot"):
        next_state(state, name)


def test_appeal_through_to_decision_credits_the_account(harness: Harness) -> None:
    """acknowledge (stops the 10-day clock) -> review -> decide allowed with an amount: the
    amount is credited and offset against the debt; every step is journalled and emailed to
    the sender and the importer."""
    case = open_appeal(harness)
    opened = find_case_now(harness, case)
    step(harness, case, "acknowledge", opened.opened_at + timedelta(days=2), note="seen")
    acknowledged = find_case_now(harness, case)
    assert acknowledged.clock_stopped_at == opened.opened_at + timedelta(days=2)
    assert harness.scalar("SELECT clock_stopped_at FROM inbox WHERE id = ?",
                          opened.inbox_id) is not None
    step(harness, case, "review", opened.opened_at + timedelta(days=3))
    step(harness, case, "decide", opened.opened_at + timedelta(days=20), note="agreed",
         outcome="partly", amount=Decimal("250.00"))
    decided = find_case_now(harness, case)
    assert decided.status == "decided" and decided.decided_amount == Decimal("250.00")
    assert harness.scalar("SELECT SUM(amount_cents) FROM balances") == 109307 - 25000
    assert harness.database.transaction_sync(verify) == []
    steps = harness.database.transaction_sync(lambda tx: case_steps(tx, case))
    assert [s.step for s in steps] == ["received", "acknowledge", "review", "decide"]
    assert steps[-1].actor == "operator:test" and steps[-1].note == "agreed"
    emails = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT recipient FROM outbox WHERE purpose = 'case-step' ORDER BY id"))
    assert [r[0] for r in emails] == ["edi@broker42.example", "accounts@importer.example"] * 3
    with pytest.raises(CaseError, match="decided cannot withdraw"):
        step(harness, case, "withdraw", opened.opened_at + timedelta(days=21), note="late")


def find_case_now(harness: Harness, case: str):  # type: ignore[no-untyped-def]
    found = harness.database.transaction_sync(lambda tx: find_case(tx, case))
    assert found is not None
    return found


def test_request_info_pauses_an_account_request_clock(harness: Harness) -> None:
    """request-info pauses the 10-business-day clock and gives the client 30 calendar days;
    resume moves RespondBy by the business time that passed while paused."""
    harness.clock[0] = at("2026-11-23T10:00:00-05:00")
    outcome = harness.submit(example("account-request.xml"))
    case = outcome.case_number
    assert case is not None
    before = find_case_now(harness, case).respond_by
    assert before == at("2026-12-07T10:00:00-05:00")
    step(harness, case, "acknowledge", at("2026-11-23T11:00:00-05:00"), "account-request")
    step(harness, case, "review", at("2026-11-23T12:00:00-05:00"), "account-request")
    step(harness, case, "request-info", at("2026-11-24T10:00:00-05:00"), "account-request",
         note="send the bank statement")
    paused = find_case_now(harness, case)
    assert paused.client_answer_due == at("2026-12-24T10:00:00-05:00")
    assert not paused.overdue(at("2026-12-20T10:00:00-05:00")), "a paused clock is not late"
    step(harness, case, "resume", at("2026-11-26T10:00:00-05:00"), "account-request")
    assert find_case_now(harness, case).respond_by == at("2026-12-09T10:00:00-05:00")
    stored = harness.scalar("SELECT respond_by FROM inbox WHERE id = ?", paused.inbox_id)
    assert datetime.fromisoformat(str(stored)) == at("2026-12-09T10:00:00-05:00")


def test_refund_decision_pays_out_the_credit_only(harness: Harness) -> None:
    """A refund request's allowed amount reduces the credit standing, never by more than it;
    while the request is open no offset happens, after the decision offsetting resumes."""
    harness.submit(declaration(message_id="a"))
    harness.submit(payment(message_id="p", reference="P1", amount="302.50"))
    case = harness.submit(example("account-request.xml")).case_number
    assert case is not None
    now = harness.clock[0]
    for name in ("acknowledge", "review"):
        step(harness, case, name, now, "account-request")
    with pytest.raises(CaseError, match="more than the credit standing"):
        step(harness, case, "decide", now, "account-request", note="x", outcome="allowed",
             amount=Decimal("300.00"))
    step(harness, case, "decide", now, "account-request", note="ok", outcome="partly",
         amount=Decimal("120.00"))
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ''") == -8000
    assert harness.database.transaction_sync(verify) == []


def test_unknown_case_and_bad_decisions_are_refused(harness: Harness) -> None:
    """Clear refusals: an unknown case, a denied decision with an amount, a bad outcome."""
    with pytest.raises(CaseError, match="no appeal case APL-2026-999999"):
        step(harness, "APL-2026-999999", "acknowledge", harness.clock[0])
    case = open_appeal(harness)
    now = harness.clock[0]
    step(harness, case, "acknowledge", now)
    step(harness, case, "review", now)
    with pytest.raises(CaseError, match="denied case takes no --amount"):
        step(harness, case, "decide", now, note="no", outcome="denied", amount=Decimal(5))
    with pytest.raises(CaseError, match="--outcome must be one of"):
        step(harness, case, "decide", now, note="no", outcome="maybe")
    with pytest.raises(CaseError, match="no account-request case"):
        step(harness, case, "acknowledge", now, "account-request")


def test_withdrawn_appeal_can_be_filed_again(harness: Harness) -> None:
    """APL002 only while the earlier appeal of the decision is not withdrawn."""
    case = open_appeal(harness)
    step(harness, case, "withdraw", harness.clock[0], note="filed in error")
    again = example("appeal.xml").replace(b"BRK42-2026-000301", b"BRK42-2026-000399")
    assert harness.submit(again).status == "received"


def test_overdue_list_shows_unacknowledged_appeals(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """`appeals list --overdue`: an appeal not acknowledged within 10 calendar days."""
    from gateway.commands.cases import list_command  # noqa: PLC0415

    case = open_appeal(harness)
    opened = find_case_now(harness, case).opened_at
    capsys.readouterr()
    list_command(harness.config, "appeals", None, True, True, now=opened + timedelta(days=9))
    assert capsys.readouterr().out.strip() == "[]"
    list_command(harness.config, "appeals", None, True, True, now=opened + timedelta(days=11))
    listed = json.loads(capsys.readouterr().out)
    assert [item["case"] for item in listed] == [case]
    assert listed[0]["age_days"] == 11 and listed[0]["overdue"] is True


def deliver_everything(harness: Harness, now: datetime) -> None:
    def deliver(tx: Tx) -> None:
        for (outbox_id,) in tx.all("SELECT id FROM outbox WHERE status = 'pending'"):
            mark_delivered(tx, outbox_id, now)

    harness.database.transaction_sync(deliver)


def test_a_received_answer_with_no_case_of_its_own_stops_its_clock(harness: Harness) -> None:
    """A Test appeal opens no case and a re-send's case is its original's: nothing but the
    delivery of their `received` answer can stop their clocks. The original's clock waits for
    its case to be acknowledged."""
    harness.submit(example("declaration.xml"))
    appeal = example("appeal.xml")
    test = appeal.replace(b"</SentAt>", b"</SentAt><Test>true</Test>").replace(
        b"<MessageID>", b"<MessageID>T")
    request = example("account-request.xml").replace(b"</SentAt>", b"</SentAt><Test>true</Test>")
    assert harness.submit(test).case_number is None
    assert harness.submit(request).case_number is None
    case = harness.submit(appeal).case_number
    resend = harness.submit(appeal)
    assert resend.case_number == case and [p.code for p in resend.problems] == ["DUP001"]
    deliver_everything(harness, harness.clock[0] + timedelta(minutes=1))
    open_clocks = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT kind, message_id, role FROM inbox WHERE clock_stopped_at IS NULL"))
    assert [tuple(row) for row in open_clocks] == [("appeal", "BRK42-2026-000301", "original")]


def test_withdrawing_a_refund_request_lets_the_credit_pay_the_debts(harness: Harness) -> None:
    """Offsetting waits while a refund request is open; once it is withdrawn, the credit of
    200.00 (302.50 paid against 102.50) pays the 102.50 debt posted meanwhile."""
    harness.submit(declaration(message_id="a"))
    harness.submit(payment(message_id="p", reference="P1", amount="302.50"))
    case = harness.submit(example("account-request.xml")).case_number
    assert case is not None
    harness.submit(declaration(message_id="b", transaction="12345000003009"))
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ''") == -20000
    step(harness, case, "withdraw", harness.clock[0], "account-request", note="not needed")
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ''") == -9750
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ?",
                          "12345000003009") == 0
    assert harness.database.transaction_sync(verify) == []


@pytest.mark.parametrize(("case_type", "sample"), [("appeal", None),
                                                   ("account-request", "account-request.xml")])
def test_an_allowed_decision_needs_its_amount(harness: Harness, case_type: str,
                                              sample: str | None) -> None:
    """`--amount X` for allowed or partly allowed outcomes (CONTRACT section 8): what an
    appeal credits, what a refund request pays out."""
    case = open_appeal(harness) if sample is None else harness.submit(example(sample)).case_number
    assert case is not None
    for name in ("acknowledge", "review"):
        step(harness, case, name, harness.clock[0], case_type)
    for outcome in ("allowed", "partly"):
        with pytest.raises(CaseError, match="needs --amount"):
            step(harness, case, "decide", harness.clock[0], case_type, note="x", outcome=outcome)
    step(harness, case, "decide", harness.clock[0], case_type, note="no", outcome="denied")


def test_a_pause_moves_respond_by_at_most_30_days_and_never_after_it(harness: Harness) -> None:
    """An account request (10 business days, RespondBy 2026-12-07 10:00) paused 2026-11-24
    10:00 for 90 days: on resume RespondBy moves by the client's 30 calendar days only, the 9
    business days left then counting from 2026-12-24 10:00 (12-25, 12-28 and 01-01 are
    holidays; 12-24 10:00 to 12-29 10:00 is the first): 2027-01-11 10:00. A second request
    paused only after its RespondBy keeps it."""
    harness.clock[0] = at("2026-11-23T10:00:00-05:00")
    long_pause = harness.submit(example("account-request.xml")).case_number
    late_pause = harness.submit(example("account-request.xml").replace(
        b"BRK42-2026-000401", b"BRK42-2026-000402")).case_number
    assert long_pause is not None and late_pause is not None
    for case, paused, resumed in ((long_pause, "2026-11-24T10:00:00-05:00",
                                   "2027-02-22T10:00:00-05:00"),
                                  (late_pause, "2026-12-08T10:00:00-05:00",
                                   "2026-12-10T10:00:00-05:00")):
        for name in ("acknowledge", "review"):
            step(harness, case, name, at("2026-11-23T11:00:00-05:00"), "account-request")
        step(harness, case, "request-info", at(paused), "account-request", note="invoice")
        step(harness, case, "resume", at(resumed), "account-request")
    assert find_case_now(harness, long_pause).respond_by == at("2027-01-11T10:00:00-05:00")
    assert find_case_now(harness, late_pause).respond_by == at("2026-12-07T10:00:00-05:00")
