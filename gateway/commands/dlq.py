"""`carm-gateway dlq list|show ID|replay ID|replay --all|discard ID --reason TEXT`.

A replay puts the message back in the journal's queue with its original bytes and ReceivedAt;
the running daemon takes it through the whole pipeline again (within a few seconds). A replay
of a message that is no longer dead-lettered does nothing.
"""

import base64
import json
from datetime import UTC, datetime

from gateway.commands import EXIT_FAILED, EXIT_OK
from gateway.commands.cases import operator
from gateway.commands.ledger import open_existing_database
from gateway.config import Config
from gateway.store.database import Tx

_LIST = (
    "SELECT d.inbox_id, i.sender, i.kind, i.message_id, i.received_at, d.created_at,"
    " d.attempts, d.error, d.resolved_at, d.resolution, i.status FROM dead_letters d"
    " JOIN inbox i ON i.id = d.inbox_id"
)


def _row_json(row: tuple[object, ...]) -> dict[str, object]:
    keys = ("id", "sender", "kind", "message_id", "received_at", "dead_since", "attempts",
            "error", "resolved_at", "resolution", "journal_status")
    return dict(zip(keys, row, strict=True))


def list_dead(config: Config, as_json: bool, include_resolved: bool) -> int:
    database = open_existing_database(config)
    try:
        rows = database.read_sync(lambda tx: tx.all(
            _LIST + " WHERE (? = 1 OR d.resolved_at IS NULL) ORDER BY d.inbox_id",
            (int(include_resolved),)))
    finally:
        database.close_sync()
    if as_json:
        print(json.dumps([_row_json(row) for row in rows], indent=2))
        return EXIT_OK
    print(f"{'id':>6} {'sender':<12} {'kind':<16} {'message id':<28} {'attempts':>8}  error")
    for row in rows:
        state = f" [{row[9]}]" if row[8] else ""
        print(f"{row[0]:>6} {row[1]!s:<12} {row[2]!s:<16} {(row[3] or '-')!s:<28} "
              f"{row[6]:>8}  {str(row[7])[:60]}{state}")
    return EXIT_OK


def show_dead(config: Config, inbox_id: int, as_json: bool) -> int:
    database = open_existing_database(config)
    try:
        row, attempts, payload = database.read_sync(lambda tx: (
            tx.one(_LIST + " WHERE d.inbox_id = ?", (inbox_id,)),
            tx.all("SELECT attempt, at, error FROM dead_letter_attempts WHERE inbox_id = ?"
                   " ORDER BY at, attempt", (inbox_id,)),
            tx.one("SELECT payload FROM inbox WHERE id = ?", (inbox_id,)),
        ))
    finally:
        database.close_sync()
    if row is None:
        print(f"no dead letter {inbox_id}")
        return EXIT_FAILED
    data = bytes(payload[0]) if payload and payload[0] is not None else b""
    if as_json:
        print(json.dumps({**_row_json(row), "attempts_log": [
            {"attempt": a[0], "at": a[1], "error": a[2]} for a in attempts],
            "payload_base64": base64.b64encode(data).decode()}, indent=2))
        return EXIT_OK
    for key, value in _row_json(row).items():
        print(f"{key + ':':<15}{value if value is not None else '-'}")
    print("attempts:")
    for attempt in attempts:
        print(f"  {attempt[1]}  #{attempt[0]}  {attempt[2]}")
    print("payload:")
    print(data.decode("utf-8", "replace"))
    return EXIT_OK


def _replay(tx: Tx, ids: list[int], who: str, now: datetime) -> list[int]:
    replayed = []
    for inbox_id in ids:
        open_letter = tx.one("SELECT 1 FROM dead_letters WHERE inbox_id = ? AND"
                             " resolved_at IS NULL", (inbox_id,))
        if open_letter is None:
            continue
        tx.execute("UPDATE dead_letters SET resolved_at = ?, resolution = ? WHERE inbox_id = ?",
                   (now.isoformat(), f"replayed by {who}", inbox_id))
        tx.execute("UPDATE inbox SET status = 'pending' WHERE id = ? AND status = 'deferred'",
                   (inbox_id,))
        replayed.append(inbox_id)
    return replayed


def replay(config: Config, inbox_id: int | None, replay_all: bool) -> int:
    database = open_existing_database(config)
    now = datetime.now(UTC)
    who = operator()
    try:
        def work(tx: Tx) -> list[int]:
            if replay_all:
                ids = [int(r[0]) for r in tx.all(
                    "SELECT inbox_id FROM dead_letters WHERE resolved_at IS NULL"
                    " ORDER BY inbox_id")]
            else:
                ids = [inbox_id] if inbox_id is not None else []
            return _replay(tx, ids, who, now)

        replayed = database.transaction_sync(work)
    finally:
        database.close_sync()
    if not replayed and not replay_all:
        print(f"{inbox_id} is not an open dead letter: nothing replayed")
        return EXIT_FAILED
    print(f"queued for replay: {', '.join(map(str, replayed)) or 'nothing'}; the running "
          "daemon processes them within seconds")
    return EXIT_OK


def discard(config: Config, inbox_id: int, reason: str) -> int:
    database = open_existing_database(config)
    now = datetime.now(UTC).isoformat()
    who = operator()
    try:
        found = database.transaction_sync(lambda tx: tx.one(
            "UPDATE dead_letters SET resolved_at = ?, resolution = ? WHERE inbox_id = ?"
            " AND resolved_at IS NULL RETURNING inbox_id",
            (now, f"discarded by {who}: {reason}", inbox_id)))
    finally:
        database.close_sync()
    if found is None:
        print(f"{inbox_id} is not an open dead letter: nothing discarded")
        return EXIT_FAILED
    print(f"{inbox_id} discarded; its outcome stays deferred")
    return EXIT_OK
