"""From journal to outcome on SQLite and PostgreSQL: posting, versions, payments, cases, dedup,
test messages and the dead-letter path."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.pipeline import Harness, declaration, example, lose_the_first_commit_reply, payment

from gateway import routing
from gateway.store.database import StoreUnavailable


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def codes(outcome: object) -> list[str]:
    return [p.code for p in outcome.problems]  # type: ignore[attr-defined]


def test_declaration_is_posted_with_balanced_legs(harness: Harness) -> None:
    """An accepted CAD posts its Total to the account; the legs of every entry sum to zero."""
    outcome = harness.submit(example("declaration.xml"))
    assert outcome.status == "accepted"
    assert outcome.assessment is not None
    assert outcome.assessment.total == Decimal("1093.07")
    assert outcome.balance == Decimal("1093.07")
    assert str(outcome.payment_due) == "2026-12-31"
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1
    assert harness.scalar("SELECT SUM(amount_cents) FROM ledger_legs") == 0
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ?",
                          "12345000001235") == 109307
    assert harness.scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'email'") == 1


def test_test_message_is_answered_and_not_posted(harness: Harness) -> None:
    """Header/Test true: validated and answered with the balance it would leave, nothing
    posted."""
    outcome = harness.submit(example("declaration-test.xml"))
    assert outcome.status == "accepted" and outcome.test
    assert outcome.assessment is not None
    assert outcome.balance == Decimal("1093.07")  # the balance it would leave
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 0
    assert harness.scalar("SELECT COUNT(*) FROM declarations") == 0
    harness.submit(example("declaration.xml"))
    again = harness.submit(example("declaration-test.xml").replace(b"</MessageID>",
                                                                   b"-2</MessageID>", 1))
    assert again.balance == Decimal("2186.14")
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1
    assert harness.scalar("SELECT COUNT(*) FROM declarations") == 1


def test_versions_post_the_difference(harness: Harness) -> None:
    """A correction posts the difference of Totals (a credit when it falls); versions must
    come in order and the same number and version cannot be posted twice."""
    harness.submit(declaration(message_id="v1"))
    cheaper = declaration(message_id="v2", version=2, purpose="correction", lines="""
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Laptops</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>800.00</Value><DutyRate>5</DutyRate>
    <ReasonCode>CL01</ReasonCode></Line>""")
    corrected = harness.submit(cheaper)
    assert corrected.status == "accepted", corrected.problems
    assert corrected.balance == Decimal("82.00")
    assert harness.scalar("SELECT SUM(amount_cents) FROM ledger_legs WHERE book = 'receivable'") \
        == 8200
    assert codes(harness.submit(declaration(message_id="v1-again"))) == ["DEC002"]
    skipped = harness.submit(declaration(message_id="v4", version=4, purpose="correction"))
    assert codes(skipped) == ["DEC002"]
    unknown = harness.submit(declaration(message_id="x2", transaction="12345000002001",
                                         version=2, purpose="adjustment"))
    assert codes(unknown) == ["DEC006"]


def test_later_version_may_not_change_account_or_release(harness: Harness) -> None:
    """DEC008 when a later version changes ReleaseDate; DEC005 for a changed line without a
    ReasonCode."""
    harness.submit(declaration(message_id="v1"))
    moved = harness.submit(declaration(message_id="v2", version=2, purpose="correction",
                                       release="2026-11-19"))
    assert codes(moved) == ["DEC008"]
    changed_without_reason = declaration(message_id="v2b", version=2, purpose="correction",
                                         lines="""
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Laptops</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>900.00</Value><DutyRate>5</DutyRate></Line>
  <Line><Number>2</Number><HSCode>8471300000</HSCode><Description>Mice</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>10.00</Value><DutyRate>5</DutyRate>
    <ReasonCode>CL01</ReasonCode></Line>""")
    assert codes(harness.submit(changed_without_reason)) == ["DEC005"]


def test_payment_allocates_explicitly_then_oldest_first(harness: Harness) -> None:
    """Explicit allocations first, the rest to the oldest debt, the remainder a credit;
    PAY003 for a reused reference, PAY002 for an allocation above what is owed."""
    harness.submit(declaration(message_id="a1", transaction="12345000001235"))
    harness.submit(declaration(message_id="b1", transaction="12345000002001"))
    paid = harness.submit(payment(message_id="p1", reference="PAY-1", amount="300.00",
                                  allocations=(("12345000002001", "50.00"),)))
    assert paid.status == "accepted", paid.problems
    assert paid.balance == Decimal("-95.00")
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ?",
                          "12345000001235") == 0
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ?",
                          "12345000002001") == 0
    assert harness.scalar("SELECT amount_cents FROM balances WHERE item = ''") == -9500
    assert codes(harness.submit(payment(message_id="p2", reference="PAY-1",
                                        amount="1.00"))) == ["PAY003"]
    harness.submit(declaration(message_id="c1", transaction="12345000003009"))
    too_much = payment(message_id="p3", reference="PAY-3", amount="200.00",
                       allocations=(("12345000003009", "110.00"),))
    refused = harness.submit(too_much)
    assert codes(refused) == ["PAY002"]
    assert refused.problems[0].text == "12345000003009 owes less than the 110.00 allocated to it"
    assert harness.scalar("SELECT SUM(amount_cents) FROM ledger_legs") == 0


def test_stage_8_reports_stateless_and_stateful_rules_together(harness: Harness) -> None:
    """Stage 8's rules are all reported together (CONTRACT section 3): a declaration whose
    totals are wrong and whose version is taken gets DEC001 and DEC002; a payment allocating
    more than it pays under a used reference gets PAY001 and PAY003. Nothing is written."""
    harness.submit(declaration(message_id="v1"))
    harness.submit(payment(message_id="p1", reference="PAY-1", amount="10.00"))
    entries = harness.scalar("SELECT COUNT(*) FROM ledger_entries")
    wrong_totals = b"</Line><DeclaredTotals><Duty>1.00</Duty><ExciseTax>0.00</ExciseTax>" \
                   b"<GST>0.00</GST><Total>1.00</Total></DeclaredTotals>"
    again = declaration(message_id="v1-again").replace(b"</Line>", wrong_totals)
    assert sorted(set(codes(harness.submit(again)))) == ["DEC001", "DEC002"]
    over = payment(message_id="p2", reference="PAY-1", amount="10.00",
                   allocations=(("12345000001235", "20.00"),))
    assert codes(harness.submit(over)) == ["PAY001", "PAY003"]
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == entries


def test_appeal_opens_a_case_once(harness: Harness) -> None:
    """An accepted appeal is `received` with a case number; a second appeal of the same
    decision is APL002; an appeal of an unknown transaction is APL003."""
    assert codes(harness.submit(example("appeal.xml"))) == ["APL003"]
    harness.submit(example("declaration.xml"))
    appeal = example("appeal.xml").replace(b"BRK42-2026-000301", b"BRK42-2026-000302")
    opened = harness.submit(appeal)
    assert opened.status == "received"
    assert opened.case_number == opened.reference == "APL-2026-000001"
    again = appeal.replace(b"BRK42-2026-000302", b"BRK42-2026-000303")
    refused = harness.submit(again)
    assert codes(refused) == ["APL002"] and refused.reference is None, "no case, no Reference"
    assert "APL-" not in refused.problems[0].text, "the open case may be another sender's"
    request = harness.submit(example("account-request.xml"))
    assert request.status == "received" and request.case_number == "REQ-2026-000001"
    assert request.reference == "REQ-2026-000001", "Reference: the case number (section 3)"
    recipients = harness.scalar(
        "SELECT COUNT(*) FROM outbox JOIN outcomes ON outcomes.id = outbox.outcome_id"
        " WHERE outbox.channel = 'email' AND outcomes.reference = ?", "REQ-2026-000001")
    assert recipients == 2, "a case step goes to the sender and to the importer"


def test_dedup_by_key_and_content(harness: Harness) -> None:
    """Same key and bytes: DUP001 with the original outcome; other bytes: DUP002; a broker
    redelivery of a journalled message adds nothing, of a DUP002 one too."""
    payload = example("declaration.xml")
    original = harness.submit(payload)
    resent = harness.submit(payload)
    assert codes(resent) == ["DUP001"]
    assert resent.acknowledgement_id == original.acknowledgement_id
    assert resent.balance == original.balance
    assert harness.journal(payload, redelivery=True) is None
    other_bytes = payload.replace(b"Portable", b"Portables")
    conflict = harness.submit(other_bytes)
    assert codes(conflict) == ["DUP002"] and conflict.status == "rejected"
    assert harness.journal(other_bytes, redelivery=True) is None, "answered once, not again"
    assert codes(harness.submit(other_bytes)) == ["DUP002"], "a partner's re-send is answered"
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1


def test_messages_without_message_id_dedup_on_the_hash(harness: Harness) -> None:
    """Unreadable input has no MessageID: its key is the hash of its bytes."""
    first = harness.submit(b"not xml at all")
    again = harness.submit(b"not xml at all")
    assert codes(first) == ["XML001"] and first.kind == "unknown"
    assert codes(again) == ["XML001", "DUP001"]


def test_a_batch_whose_commit_reply_is_lost_is_not_processed_again(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL can commit a batch and lose the connection before the reply: the batch
    looks failed. Its messages, retried one by one, keep the outcome they have; they are not
    processed again (a declaration would be answered a second time, rejected with DEC002)."""
    lose_the_first_commit_reply(harness.database, monkeypatch)
    outcome = harness.submit(example("declaration.xml"))
    assert outcome.status == "accepted" and codes(outcome) == []
    assert harness.scalar("SELECT COUNT(*) FROM outcomes") == 1
    assert harness.scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'mqtt'") == 1
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1


def test_internal_failure_is_dead_lettered_as_deferred(harness: Harness,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler that keeps failing ends as `deferred` with GW001 and a dead letter; nothing
    is posted and the clock is not stopped."""
    calls = []

    def broken(*_: object) -> None:
        calls.append(1)
        raise StoreUnavailable("injected: database locked")

    monkeypatch.setitem(routing.ROUTES, "declaration", broken)
    outcome = harness.submit(example("declaration.xml"))
    assert outcome.status == "deferred" and codes(outcome) == ["GW001"]
    assert len(calls) == harness.config.retries.attempts
    assert harness.scalar("SELECT COUNT(*) FROM dead_letters") == 1
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 0
    assert harness.scalar("SELECT status FROM inbox") == "deferred"
    assert harness.scalar("SELECT final FROM outbox WHERE channel = 'mqtt'") == 0
    resent = harness.submit(example("declaration.xml"))
    assert resent.status == "deferred" and codes(resent) == ["GW001", "DUP001"]
    finals = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT inbox.role, outbox.final FROM outbox JOIN outcomes ON outcomes.id ="
        " outbox.outcome_id JOIN inbox ON inbox.id = outcomes.inbox_id"
        " WHERE outbox.channel = 'mqtt' ORDER BY outbox.id"))
    # the message's deadline runs on with the original, which its replay answers; the
    # re-send's own clock stops with the answer it gets
    assert [tuple(row) for row in finals] == [("original", 0), ("resend", 1)]
