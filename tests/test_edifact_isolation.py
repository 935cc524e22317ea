"""One EDIFACT message never blocks the messages behind it (CONTRACT sections 1, 3 and 5):
bad input gets a coded rejection and a record, a failure while recording a deferral does not
fail the same way again, and an interchange is tokenized once, not once per message."""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.pipeline import REPO, Harness

import gateway.edifact_flow
import gateway.processing
from gateway.codec.edifact import Interchange, tokenize
from gateway.outcome import Outcome

EDIFACT = REPO / "examples" / "edifact"
HUGE = b"9" * 5000
"""More digits than Python's `int` converts from text (4,300)."""


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def edi(name: str) -> bytes:
    return (EDIFACT / name).read_bytes()


def with_reference(payload: bytes, old: bytes, new: bytes) -> bytes:
    """The interchange under another UNB reference (a different interchange for dedup)."""
    return payload.replace(b"+" + old + b"'", b"+" + new + b"'")


def statuses(harness: Harness) -> list[tuple[int, str, list[str]]]:
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT inbox_id FROM outcomes WHERE superseded = 0 ORDER BY inbox_id"))
    found = []
    for (inbox_id,) in rows:
        outcome = harness.outcome(int(inbox_id))
        found.append((int(inbox_id), outcome.status, [p.code for p in outcome.problems]))
    return found


def drain(harness: Harness) -> None:
    asyncio.run(harness.drain())


def test_a_5000_digit_unz_count_is_rejected_and_the_next_message_goes_on(
        harness: Harness) -> None:
    """A UNZ count of 5,000 digits (beyond `int`'s limit) used to crash the daemon while it
    recorded the deferral, and again at every restart. It is EDI002 with a CONTRL, and the
    interchange journalled behind it is processed."""
    poisoned = with_reference(edi("payment-remadv.edi"), b"BRK42E000201", b"BRK42E000999")
    poisoned = poisoned.replace(b"UNZ+1+", b"UNZ+" + HUGE + b"+")
    harness.journal(poisoned)
    harness.journal(edi("declaration-d96b.edi"))
    drain(harness)
    assert statuses(harness) == [
        (1, "rejected", ["EDI002"]),
        (2, "accepted", []),
        (3, "accepted", []),
    ]
    contrl = harness.database.transaction_sync(lambda tx: tx.one(
        "SELECT b.payload FROM outbox b JOIN outcomes o ON o.id = b.outcome_id"
        " WHERE o.inbox_id = 1 AND b.channel = 'mqtt'"))
    assert contrl is not None and b"UCI+" in bytes(contrl[0])
    assert harness.scalar("SELECT COUNT(*) FROM dead_letters") == 0


def test_a_5000_digit_line_number_is_sch001_not_deferred(harness: Harness) -> None:
    """A CST goods item number of 5,000 digits is SCH001, not GW001 for ever."""
    harness.journal(edi("declaration-d96b.edi").replace(b"CST+1+", b"CST+" + HUGE + b"+"))
    drain(harness)
    assert statuses(harness) == [(1, "accepted", []), (2, "rejected", ["SCH001"])]


def test_a_deferral_is_recorded_even_when_its_answer_cannot_be_rendered(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """An input whose answer cannot be rendered fails every attempt; its deferral is then
    recorded without the MQTT answer (GW001, dead letter, email) instead of failing the same
    way and taking the processing loop down. The message behind it is processed."""
    real_renderer = gateway.processing.renderer
    poisoned = with_reference(edi("payment-remadv.edi"), b"BRK42E000201", b"BRK42E000999")

    def failing_renderer(payload: bytes, *args: object,
                         **options: object) -> Callable[[Outcome], bytes] | None:
        if b"BRK42E000999" in payload:
            raise ValueError("cannot render this interchange")
        return real_renderer(payload, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(gateway.processing, "renderer", failing_renderer)
    harness.journal(poisoned)
    harness.journal(edi("declaration-d96b.edi"))
    drain(harness)
    assert statuses(harness) == [
        (1, "deferred", ["GW001"]),
        (2, "accepted", []),
        (3, "accepted", []),
    ]
    assert harness.scalar("SELECT COUNT(*) FROM dead_letters WHERE inbox_id = 1") == 1
    channels = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT b.channel FROM outbox b JOIN outcomes o ON o.id = b.outcome_id"
        " WHERE o.inbox_id = 1"))
    assert [str(row[0]) for row in channels] == ["email"]


def test_an_interchange_is_tokenized_once_for_all_its_messages(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking and answering each of 120 messages (three batches) reuses one tokenization:
    tokenizing per message made an interchange cost its message count times its size."""
    calls: list[int] = []

    def counted(payload: bytes) -> Interchange:
        calls.append(len(payload))
        return tokenize(payload)

    monkeypatch.setattr(gateway.edifact_flow, "tokenize", counted)
    gateway.edifact_flow.tokenized.cache_clear()
    count = 120
    messages = b"".join(b"UNH+%d+REMADV:D:96B:UN'UNT+2+%d'" % (i, i)
                        for i in range(1, count + 1))
    harness.journal(b"UNB+UNOA:3+BRK42+CARMGW+261123:1405+MANY1'" + messages +
                    b"UNZ+%d+MANY1'" % count)
    drain(harness)
    assert harness.scalar("SELECT COUNT(*) FROM outcomes") == count + 1
    assert len(calls) == 1
