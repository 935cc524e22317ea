"""One EDIFACT message never blocks the messages behind it (CONTRACT sections 1, 3 and 5):
bad input gets a coded rejection and a record, a failure while recording a deferral does not
fail the same way again, and an interchange is tokenized once, not once per message."""

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support.pipeline import REPO, Harness

import gateway.answers
import gateway.edifact_flow
import gateway.processing
import gateway.store.journal
from gateway.codec.edifact import Interchange, tokenize
from gateway.outcome import Outcome
from gateway.store.database import Tx
from gateway.store.journal import (
    JournalEntry,
    StoredBytes,
    content_hash,
    entry_by_id,
    stored_bytes,
)

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


def interchange_of(reference: bytes, count: int) -> bytes:
    """An interchange of `count` minimal REMADV messages (each a rejection: it is the
    processing of many messages that is under test, not their content)."""
    messages = b"".join(b"UNH+%d+REMADV:D:96B:UN'UNT+2+%d'" % (i, i)
                        for i in range(1, count + 1))
    return (b"UNB+UNOA:3+BRK42+CARMGW+261123:1405+" + reference + b"'" + messages +
            b"UNZ+%d+" % count + reference + b"'")


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
    real_renderer = gateway.answers.renderer
    poisoned = with_reference(edi("payment-remadv.edi"), b"BRK42E000201", b"BRK42E000999")

    def failing_renderer(payload: bytes, *args: object,
                         **options: object) -> Callable[[Outcome], bytes] | None:
        if b"BRK42E000999" in payload:
            raise ValueError("cannot render this interchange")
        return real_renderer(payload, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(gateway.answers, "renderer", failing_renderer)
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
    harness.journal(interchange_of(b"MANY1", count))
    drain(harness)
    assert harness.scalar("SELECT COUNT(*) FROM outcomes") == count + 1
    assert len(calls) == 1


def test_two_interchanges_journalled_together_are_tokenized_twice_each(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """One tokenized interchange is kept: two that arrive together are each tokenized for
    themselves and once more for their messages, which follow both, not once per message."""
    calls: list[bytes] = []

    def counted(payload: bytes) -> Interchange:
        calls.append(payload)
        return tokenize(payload)

    monkeypatch.setattr(gateway.edifact_flow, "tokenize", counted)
    gateway.edifact_flow.tokenized.cache_clear()
    count = 30
    payloads = [interchange_of(b"PAIR1", count), interchange_of(b"PAIR2", count)]
    for payload in payloads:
        harness.journal(payload)
    drain(harness)
    assert harness.scalar("SELECT COUNT(*) FROM outcomes") == 2 * (count + 1)
    assert calls == payloads + payloads


def test_an_interchange_is_read_from_the_database_once_for_all_its_messages(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of 120 messages needs its interchange's bytes twice (check and answer); they come
    from the interchange processed just before, not from a copy read per message."""
    reads: list[int] = []

    def counted(tx: Tx, entry: JournalEntry) -> bytes | None:
        reads.append(entry.id)
        return stored_bytes(tx, entry)

    monkeypatch.setattr(gateway.store.journal, "stored_bytes", counted)
    count = 120
    harness.journal(interchange_of(b"MANY2", count))
    drain(harness)
    assert harness.scalar("SELECT COUNT(*) FROM outcomes") == count + 1
    assert reads == []


def test_kept_bytes_answer_only_for_the_same_entry_and_content(harness: Harness) -> None:
    """An entry that got the id of a purged one (SQLite reuses the highest id) is answered
    with its own bytes, found by the content hash; other entries with theirs."""
    first = harness.journal(edi("payment-remadv.edi"))
    other = harness.journal(edi("declaration-d96b.edi"))
    assert first is not None and other is not None
    entries = harness.database.transaction_sync(
        lambda tx: [entry_by_id(tx, first), entry_by_id(tx, other)])
    parent, unrelated = entries
    assert parent is not None and unrelated is not None
    part = replace(parent, id=99, role="part", original_id=parent.id, payload=None,
                   part_index=0)
    kept = StoredBytes()
    read = harness.database.transaction_sync
    assert read(lambda tx: kept(tx, parent)) == edi("payment-remadv.edi")
    assert read(lambda tx: kept(tx, unrelated)) == edi("declaration-d96b.edi")
    assert read(lambda tx: kept(tx, part)) == edi("payment-remadv.edi")  # read again

    replaced = b"UNB+UNOA:3+BRK42+CARMGW+261123:1405+OTHER1'UNZ+0+OTHER1'"
    read(lambda tx: tx.execute("UPDATE inbox SET payload = ?, content_hash = ? WHERE id = ?",
                               (replaced, content_hash(replaced), parent.id)))
    assert read(lambda tx: kept(tx, part)) == edi("payment-remadv.edi")  # kept: not read
    assert read(lambda tx: kept(tx, replace(part, content_hash=content_hash(replaced)))) \
        == replaced
