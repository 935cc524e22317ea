"""EDIFACT through the pipeline: CONTRL for the interchange, each message its own outcome
answered as CUSRES or APERAK, duplicates on the UNB reference, the same assessment as XML."""

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.pipeline import REPO, Harness, example

from gateway.codec.edifact import Separators, serialize, tokenize
from gateway.ledger.verify import verify

EDIFACT = REPO / "examples" / "edifact"


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def edi(name: str) -> bytes:
    return (EDIFACT / name).read_bytes()


def answers(harness: Harness) -> list[tuple[str, bytes]]:
    """(kind of entry, MQTT payload) in the order they were queued."""
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT i.role, b.payload FROM outbox b JOIN outcomes o ON o.id = b.outcome_id"
        " JOIN inbox i ON i.id = o.inbox_id WHERE b.channel = 'mqtt' ORDER BY b.id"))
    return [(str(r[0]), bytes(r[1])) for r in rows]


def message_type(payload: bytes) -> str:
    unh = next(s for s in tokenize(payload).segments if s.tag == "UNH")
    return unh.elements[1][0]


def process(harness: Harness, payload: bytes) -> None:
    harness.submit(payload)  # the interchange; its parts are processed in the same run


def test_cusdec_is_answered_with_contrl_then_cusres(harness: Harness) -> None:
    """A sound CUSDEC: a CONTRL (UCI action 7) for the interchange, then a CUSRES for the
    declaration, which is posted exactly as its XML twin would be."""
    process(harness, edi("declaration-d96b.edi"))
    sent = answers(harness)
    assert [message_type(payload) for _, payload in sent] == ["CONTRL", "CUSRES"]
    assert b"UCI+" in sent[0][1] and b"+7'" in sent[0][1].replace(b"\r\n", b"")
    part = harness.outcome(2)
    assert part.status == "accepted" and part.assessment is not None
    assert part.assessment.total == Decimal("1093.07")
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1
    assert harness.database.transaction_sync(verify) == []
    emails = harness.scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'email'")
    assert emails == 1, "the declaration is emailed; the CONTRL is not"


def test_remadv_is_answered_with_aperak(harness: Harness) -> None:
    """A REMADV after its declaration: an APERAK carrying the payment's outcome."""
    harness.submit(example("declaration.xml"))
    process(harness, edi("payment-remadv.edi"))
    types = [message_type(payload) for role, payload in answers(harness) if role != "original"
             or payload.startswith((b"UNA", b"UNB"))]
    assert types[-2:] == ["CONTRL", "APERAK"]
    assert harness.outcome(3).status == "accepted"


def test_broken_interchange_gets_contrl_action_4_only(harness: Harness) -> None:
    """An envelope error (UNZ count) rejects the interchange: CONTRL with UCI action 4, a
    rejection email, no message processed."""
    process(harness, edi("invalid-edi002-unz-count.edi"))
    sent = answers(harness)
    assert len(sent) == 1 and message_type(sent[0][1]) == "CONTRL"
    outcome = harness.outcome(1)
    assert outcome.status == "rejected" and [p.code for p in outcome.problems] == ["EDI002"]
    assert harness.scalar("SELECT COUNT(*) FROM inbox WHERE role = 'part'") == 0


def test_one_broken_message_of_two(harness: Harness) -> None:
    """UCM action 4 for the broken message (no APERAK for it), the other goes on."""
    harness.submit(example("declaration.xml"))
    process(harness, edi("invalid-edi002-one-of-two-messages.edi"))
    outcomes = [harness.outcome(i) for i in (3, 4)]
    assert sorted(o.status for o in outcomes) == ["accepted", "rejected"]
    types = [message_type(payload) for _, payload in answers(harness)[1:]]
    assert types == ["CONTRL", "APERAK"]
    assert harness.database.transaction_sync(verify) == []


def test_business_rules_as_for_xml(harness: Harness) -> None:
    """The DEC001 twin is rejected with the same codes as the XML example."""
    process(harness, edi("invalid-dec001-declared-totals.edi"))
    part = harness.outcome(2)
    assert part.status == "rejected" and {p.code for p in part.problems} == {"DEC001"}
    assert all(p.line for p in part.problems), "lines are segment numbers"


def test_resend_and_conflict_on_the_unb_reference(harness: Harness) -> None:
    """The same bytes again: the original responses, the CUSRES carrying DUP001, nothing
    posted twice; other bytes under the same UNB reference: CONTRL action 4 with DUP002."""
    payload = edi("declaration-d96b.edi")
    process(harness, payload)
    process(harness, payload)
    resent_part = harness.outcome(4)
    assert [p.code for p in resent_part.problems][-1] == "DUP001"
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1
    changed = payload.replace(b"Portable", b"Portablez")
    assert changed != payload
    process(harness, changed)
    conflict = harness.outcome(5)
    assert [p.code for p in conflict.problems] == ["DUP002"]
    last = answers(harness)[-1][1]
    assert message_type(last) == "CONTRL" and b"26" in last


def test_resend_and_conflict_under_the_service_characters_of_the_una(harness: Harness) -> None:
    """Duplicates are found on the UNB reference whatever separators the UNA declares: the
    same bytes again are DUP001, other bytes under the same reference DUP002, posted once."""
    custom = Separators(component="#", element="*", decimal=".", release="!", terminator="~")

    def rewritten(payload: bytes) -> bytes:
        return serialize(tokenize(payload), custom, una=True, line_break=True)

    payload = rewritten(edi("declaration-d96b.edi"))
    assert payload.startswith(b"UNA#*.! ~") and b"BRK42E000101~" in payload
    process(harness, payload)
    assert harness.outcome(2).status == "accepted"
    process(harness, payload)
    assert [p.code for p in harness.outcome(4).problems][-1] == "DUP001"
    changed = rewritten(edi("declaration-d96b.edi").replace(b"Portable", b"Portablez"))
    process(harness, changed)
    conflict = harness.outcome(5)
    assert conflict.status == "rejected" and [p.code for p in conflict.problems] == ["DUP002"]
    roles = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT role FROM inbox WHERE role <> 'part' ORDER BY id"))
    assert [str(row[0]) for row in roles] == ["original", "resend", "conflict"]
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1
    last = answers(harness)[-1][1]
    assert message_type(last) == "CONTRL"
    uci = next(s for s in tokenize(last).segments if s.tag == "UCI")
    assert uci.elements[0] == ("BRK42E000101",) and uci.elements[3:5] == (("4",), ("26",))


def test_a_run_that_journals_messages_says_more_is_pending(harness: Harness) -> None:
    """The daemon reads the journal again at once only when the last run may have left work:
    an interchange's messages are journalled by the run that answers it (no wakeup comes for
    them), while a run that took every pending message leaves nothing."""
    harness.journal(edi("declaration-d96b.edi"))
    assert asyncio.run(harness.processor.run_pending()) == 1
    assert harness.processor.more_pending
    assert asyncio.run(harness.processor.run_pending()) == 1  # the CUSDEC message
    assert not harness.processor.more_pending
    assert asyncio.run(harness.processor.run_pending()) == 0


@pytest.mark.parametrize("blanks", [0, 5000], ids=["at-once", "after-5000-blanks"])
def test_an_interchange_over_the_size_limit_is_answered_with_a_contrl(harness: Harness,
                                                                       blanks: int) -> None:
    """An interchange over max_message_bytes keeps only its first bytes (from its first
    non-blank byte); it is answered in its own syntax: a CONTRL from its envelope, UCI action 4
    with 0085 code 18, addressed back to its UNB sender under its control reference, and the
    XML003 rejection by email. The same bytes again get the same CONTRL."""
    original = edi("declaration-d96b.edi")
    unz = original.rindex(b"UNZ+")
    padding = b"FTX+AAI+++" + b"A" * 500 + b"'\n"
    payload = b" " * blanks + original[:unz] + padding * (1_048_576 // len(padding) + 1) + \
        original[unz:]
    assert len(payload) > 1_048_576
    outcome = harness.submit(payload)
    assert (outcome.status, [p.code for p in outcome.problems]) == ("rejected", ["XML003"])
    stored = harness.scalar("SELECT LENGTH(payload) FROM inbox WHERE id = 1")
    assert isinstance(stored, int) and stored <= 4096
    [(_, answer)] = answers(harness)
    interchange = tokenize(answer)
    assert interchange.sound and message_type(answer) == "CONTRL"
    request = tokenize(original)
    assert (interchange.recipient, interchange.sender) == (request.sender, request.recipient)
    uci = next(s for s in interchange.segments if s.tag == "UCI")
    assert uci.elements[0][0] == request.control_reference
    assert [element[0] for element in uci.elements[3:5]] == ["4", "18"]
    assert not any(s.tag == "UCM" for s in interchange.segments)
    emails = harness.scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'email'")
    assert emails == 1
    again = harness.submit(payload)
    assert [p.code for p in again.problems] == ["XML003", "DUP001"]
    assert answers(harness)[-1][1].split(b"UCI+")[1] == answer.split(b"UCI+")[1]


def many_messages(interchange: bytes, count: int) -> bytes:
    """The interchange with its one message repeated `count` times under references 1, 2..
    (its UNZ count left as it was)."""
    start, unz = interchange.index(b"UNH+"), interchange.rindex(b"UNZ+")
    message = interchange[start:unz]
    copies = [message.replace(b"UNH+1+", b"UNH+%d+" % number)
              .replace(b"UNT+11+1'", b"UNT+11+%d'" % number) for number in range(1, count + 1)]
    return interchange[:start] + b"".join(copies) + interchange[unz:]


def test_a_resend_of_a_rejected_interchange_whose_bytes_retention_dropped(
        database_url: str, tmp_path: Path) -> None:
    """A rejected interchange over `[retention] rejected_payload_bytes_max` keeps only its
    envelope, like one over the size limit: the same bytes sent again are answered with the
    original CONTRL's rejection (UCI action 4, the UNZ count's 0085 code 29), addressed back to
    the sender, and with DUP001 in the outcome; nothing goes to the dead-letter store."""
    opened = Harness.open(database_url, tmp_path / "state",
                          sections={"retention": {"rejected_payload_bytes_max": 200}})
    try:
        payload = many_messages(edi("invalid-edi002-unz-count.edi"), 30)
        assert len(payload) > 4096
        first = opened.submit(payload)
        assert first.status == "rejected" and [p.code for p in first.problems] == ["EDI002"]
        assert opened.scalar("SELECT LENGTH(payload) FROM inbox WHERE id = 1") == 4096
        again = opened.submit(payload)
        assert again.status == "rejected"
        assert [p.code for p in again.problems] == ["EDI002", "DUP001"]
        assert opened.scalar("SELECT COUNT(*) FROM dead_letters") == 0
        [(_, original), (_, resent)] = answers(opened)
        request = tokenize(payload)
        for answer in (original, resent):
            contrl = tokenize(answer)
            assert contrl.sound and message_type(answer) == "CONTRL"
            assert (contrl.recipient, contrl.sender) == (request.sender, request.recipient)
            uci = next(s for s in contrl.segments if s.tag == "UCI")
            assert uci.elements[0] == (request.control_reference,)
            assert uci.elements[3:5] == (("4",), ("29",))
    finally:
        opened.close()


def test_a_resent_message_of_a_deferred_interchange_stops_its_own_clock(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message whose handling keeps failing is deferred; the partner re-sends the
    interchange, and the re-sent message is answered with that `deferred` outcome and DUP001.
    Its own clock stops with that answer (the original's replay answers the message); the
    original message's clock runs on."""
    from gateway import routing  # noqa: PLC0415
    from gateway.store.database import StoreUnavailable  # noqa: PLC0415

    def broken(*_: object) -> None:
        raise StoreUnavailable("injected: database locked")

    monkeypatch.setitem(routing.ROUTES, "declaration", broken)
    payload = edi("declaration-d96b.edi")
    harness.submit(payload)
    harness.submit(payload)
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT i.role, (SELECT p.role FROM inbox p WHERE p.id = i.original_id), o.status,"
        " b.final FROM inbox i JOIN outcomes o ON o.inbox_id = i.id AND o.superseded = 0"
        " JOIN outbox b ON b.outcome_id = o.id AND b.channel = 'mqtt'"
        " WHERE i.role = 'part' ORDER BY i.id"))
    assert [tuple(row) for row in rows] == [("part", "original", "deferred", 0),
                                            ("part", "resend", "deferred", 1)]
