"""The inbox journal: what arrived, in order, keyed for dedup (CONTRACT section 3)."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from gateway.codec.classify import (
    scan_head,
    scan_interchange_reference,
    scan_kind,
    scan_message_id,
    syntax_of,
)
from gateway.codec.messages import Kind
from gateway.store.database import StoreUnavailable, Tx

Role = Literal["original", "resend", "conflict", "part"]
STORED_BYTES_HOPS_MAX = 3
"""A part of a re-sent interchange -> the re-send -> the original: where the bytes are."""



def stored_time(moment: datetime) -> str:
    """Stored times are UTC ISO text, so that comparing and ordering them as text is by time."""
    return moment.astimezone(UTC).isoformat()

@dataclass(frozen=True)
class Arrival:
    """A message as the transport delivered it."""

    topic_sender: str
    topic: str
    payload: bytes
    received_at: datetime
    broker_redelivery: bool = False
    correlation_data: bytes | None = None
    response_topic: str | None = None


@dataclass(frozen=True)
class Journalled:
    """What the journal did with an arrival: a new row, or nothing (a broker redelivery)."""

    inbox_id: int | None
    role: Role | None


@dataclass(frozen=True)
class JournalEntry:
    id: int
    sender: str
    message_key: str
    message_id: str | None
    role: Role
    original_id: int | None
    kind: Kind
    syntax: str
    part_index: int | None
    payload: bytes | None
    payload_bytes: int
    topic: str
    correlation_data: bytes | None
    response_topic: str | None
    received_at: datetime
    respond_by: datetime
    status: str
    content_hash: str
    """Of the bytes as they arrived; a part has its interchange's."""


def content_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def message_key(payload: bytes, digest: str) -> str:
    """(sender, MessageID) when one is found, (sender, UNB reference) for an EDIFACT
    interchange; else the hash of the bytes."""
    interchange = scan_interchange_reference(payload)
    if interchange is not None:
        return f"UNB:{interchange}"
    message_id = scan_message_id(payload)
    return message_id if message_id is not None else f"sha256:{digest}"


def oversize_head(payload: bytes, syntax: str) -> bytes | None:
    """What is kept of a payload not stored whole (over the size limit, or rejected and over
    `[retention] rejected_payload_bytes_max`): nothing of an XML document; the first bytes of
    an EDIFACT interchange (UNA and UNB), so that its CONTRL, and that of a re-send of it,
    can be addressed (from its first non-blank byte, as they are scanned)."""
    return scan_head(payload) if syntax == "edifact" else None


def journal(tx: Tx, arrival: Arrival, *, instance: str, max_payload_bytes: int,
            respond_by: Callable[[Kind, datetime], datetime],
            retrying: bool = False) -> Journalled:
    """Append one arrival; a broker redelivery of a journalled message adds nothing.

    `retrying`: an earlier commit of this arrival failed, perhaps only in its reply (PostgreSQL
    can commit and then lose the connection): if its row is there, it is the answer."""
    digest = content_hash(arrival.payload)
    key = message_key(arrival.payload, digest)
    if retrying:
        journalled = _journalled_before(tx, arrival, key, digest)
        if journalled is not None:
            return journalled
    for _ in range(2):
        journalled = _append(tx, arrival, key, digest, instance=instance,
                             max_payload_bytes=max_payload_bytes, respond_by=respond_by)
        if journalled is not None:
            return journalled
    raise StoreUnavailable(f"message key {key} of {arrival.topic_sender} taken concurrently")


def _append(tx: Tx, arrival: Arrival, key: str, digest: str, *, instance: str,
            max_payload_bytes: int,
            respond_by: Callable[[Kind, datetime], datetime]) -> Journalled | None:
    """One attempt; None when another instance journalled the same key as an original since
    this one looked (gateways sharing a PostgreSQL subscription): a second look sees it."""
    existing = tx.one(
        "SELECT id, content_hash FROM inbox WHERE sender = ? AND message_key = ?"
        " AND role = 'original'",
        (arrival.topic_sender, key),
    )
    role: Role = "original"
    original_id = None
    if existing is not None:
        same_bytes = existing[1] == digest
        if arrival.broker_redelivery and (same_bytes or _conflict_journalled(
                tx, int(existing[0]), digest)):
            return Journalled(None, None)
        role = "resend" if same_bytes else "conflict"
        original_id = int(existing[0])
    kind = scan_kind(arrival.payload)
    syntax = syntax_of(arrival.payload)
    # a re-send's bytes are the original's: stored once
    stored = None
    if role != "resend":
        stored = (arrival.payload if len(arrival.payload) <= max_payload_bytes
                  else oversize_head(arrival.payload, syntax))
    row = tx.one(
        "INSERT INTO inbox (sender, message_key, message_id, content_hash, role, original_id,"
        " kind, syntax, payload, payload_bytes, topic, correlation_data, response_topic,"
        " received_at, respond_by, status, instance)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)"
        " ON CONFLICT (sender, message_key) WHERE role = 'original' DO NOTHING RETURNING id",
        (arrival.topic_sender, key, scan_message_id(arrival.payload), digest, role, original_id,
         kind, syntax, stored, len(arrival.payload), arrival.topic,
         arrival.correlation_data, arrival.response_topic, stored_time(arrival.received_at),
         stored_time(respond_by(kind, arrival.received_at)), instance),
    )
    return None if row is None else Journalled(int(row[0]), role)


def _journalled_before(tx: Tx, arrival: Arrival, key: str, digest: str) -> Journalled | None:
    """The row of this very arrival (same key, bytes and moment of receipt), if a commit that
    looked failed had written it: the original, found along `inbox_key`, or one of its copies
    (a re-send or a conflict), along `inbox_copies`."""
    stamp = stored_time(arrival.received_at)
    original = tx.one(
        "SELECT id, content_hash, received_at FROM inbox WHERE sender = ? AND message_key = ?"
        " AND role = 'original'", (arrival.topic_sender, key))
    if original is None:
        return None
    if original[1] == digest and str(original[2]) == stamp:
        return Journalled(int(original[0]), "original")
    row = tx.one(
        "SELECT id, role FROM inbox WHERE original_id = ? AND role IN ('resend', 'conflict')"
        " AND content_hash = ? AND received_at = ?", (int(original[0]), digest, stamp))
    return None if row is None else Journalled(int(row[0]), row[1])


def _conflict_journalled(tx: Tx, original_id: int, digest: str) -> bool:
    """Whether these bytes are journalled already as a conflict (DUP002) of the original."""
    return tx.one("SELECT 1 FROM inbox WHERE original_id = ? AND role IN ('resend', 'conflict')"
                  " AND content_hash = ?", (original_id, digest)) is not None


_ENTRY_COLUMNS = (
    "id, sender, message_key, message_id, role, original_id, kind, payload, payload_bytes, topic,"
    " correlation_data, response_topic, received_at, respond_by, status, syntax, part_index,"
    " content_hash"
)


def _entry(row: tuple[object, ...]) -> JournalEntry:
    return JournalEntry(
        id=int(row[0]),  # type: ignore[call-overload]
        sender=str(row[1]),
        message_key=str(row[2]),
        message_id=None if row[3] is None else str(row[3]),
        role=row[4],  # type: ignore[arg-type]
        original_id=None if row[5] is None else int(row[5]),  # type: ignore[call-overload]
        kind=row[6],  # type: ignore[arg-type]
        payload=None if row[7] is None else bytes(row[7]),  # type: ignore[call-overload]
        payload_bytes=int(row[8]),  # type: ignore[call-overload]
        topic=str(row[9]),
        correlation_data=None if row[10] is None else bytes(row[10]),  # type: ignore[call-overload]
        response_topic=None if row[11] is None else str(row[11]),
        received_at=datetime.fromisoformat(str(row[12])),
        respond_by=datetime.fromisoformat(str(row[13])),
        status=str(row[14]),
        syntax=str(row[15]),
        part_index=None if row[16] is None else int(row[16]),  # type: ignore[call-overload]
        content_hash=str(row[17]),
    )


def pending_entries(tx: Tx, instance: str, limit: int) -> list[JournalEntry]:
    """The oldest unprocessed messages this instance journalled, first come first served
    (each instance of a scale-out processes what the broker gave it)."""
    rows = tx.all(
        f"SELECT {_ENTRY_COLUMNS} FROM inbox WHERE status = 'pending'"  # noqa: S608
        " AND instance = ? ORDER BY id LIMIT ?",
        (instance, limit),
    )
    return [_entry(row) for row in rows]


def entry_by_id(tx: Tx, inbox_id: int) -> JournalEntry | None:
    row = tx.one(f"SELECT {_ENTRY_COLUMNS} FROM inbox WHERE id = ?", (inbox_id,))  # noqa: S608
    return None if row is None else _entry(row)


def add_part(tx: Tx, parent: JournalEntry, index: int, message_key: str, kind: Kind,
             respond_by: datetime) -> int:
    """One message of an EDIFACT interchange, journalled as its own entry: it gets its own
    outcome, deadline and email. Its bytes are the parent's."""
    return tx.insert(
        "INSERT INTO inbox (sender, message_key, message_id, content_hash, role, original_id,"
        " part_index, kind, syntax, payload, payload_bytes, topic, correlation_data,"
        " response_topic, received_at, respond_by, status, instance)"
        " SELECT sender, ?, ?, content_hash, 'part', id, ?, ?, syntax, NULL, payload_bytes,"
        " topic, correlation_data, response_topic, received_at, ?, 'pending', instance"
        " FROM inbox WHERE id = ? RETURNING id",
        (message_key, message_key, index, kind, stored_time(respond_by), parent.id),
    )


def parent_role_of(tx: Tx, entry: JournalEntry) -> str | None:
    """The role of the entry an EDIFACT message part belongs to."""
    if entry.role != "part" or entry.original_id is None:
        return None
    row = tx.one("SELECT role FROM inbox WHERE id = ?", (entry.original_id,))
    return None if row is None else str(row[0])


def stored_bytes(tx: Tx, entry: JournalEntry) -> bytes | None:
    """The bytes of an entry; for a re-send or an EDIFACT message part, those of the entry it
    repeats or belongs to (bytes are stored once)."""
    if entry.payload is not None:
        return entry.payload
    current = entry.original_id
    for _ in range(STORED_BYTES_HOPS_MAX):
        if current is None:
            return None
        row = tx.one("SELECT payload, original_id FROM inbox WHERE id = ?", (current,))
        if row is None:
            return None
        if row[0] is not None:
            return bytes(row[0])
        current = None if row[1] is None else int(row[1])
    return None


class StoredBytes:
    """`stored_bytes` that keeps the last bytes it gave. The messages of an interchange are
    processed one after another, right after the interchange itself, and each needs its bytes
    twice (to check it and to answer it): read from the database every time, a 1 MB
    interchange was copied out twice per message, and compared byte for byte with the copy
    its tokenization is cached under (`tokenized`). Kept by the id of the entry holding or
    leading to them and by their content hash, so an entry that got a purged entry's id
    (SQLite reuses the highest) is never answered with the old bytes."""

    def __init__(self) -> None:
        self._kept: tuple[int, str, bytes] | None = None

    def __call__(self, tx: Tx, entry: JournalEntry) -> bytes | None:
        if entry.payload is not None:
            self._kept = (entry.id, entry.content_hash, entry.payload)
            return entry.payload
        through = entry.original_id
        kept = self._kept
        if kept is not None and (kept[0], kept[1]) == (through, entry.content_hash):
            return kept[2]
        payload = stored_bytes(tx, entry)
        if payload is not None and through is not None:
            self._kept = (through, entry.content_hash, payload)
        return payload


def finish(tx: Tx, inbox_id: int, status: str) -> None:
    tx.execute("UPDATE inbox SET status = ? WHERE id = ?", (status, inbox_id))
