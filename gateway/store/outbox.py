"""The transactional outbox: rows written with the outcome, drained by the delivery loops."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from gateway.store.database import Tx

Channel = Literal["mqtt", "email"]
Purpose = Literal["outcome", "alert", "case-step", "statement"]
FETCH_LIMIT_ROWS = 200
FETCH_PAGES = 50
"""A read looks at most this many pages of pending rows for due ones (10,000 rows)."""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    outcome_id: int | None
    purpose: Purpose
    channel: Channel
    recipient: str
    payload: bytes
    correlation_data: bytes | None
    header_message_id: str | None
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """One row to write: where an outcome goes and the bytes that go there."""

    channel: Channel
    recipient: str
    payload: bytes
    correlation_data: bytes | None = None
    header_message_id: str | None = None


def enqueue(tx: Tx, outcome_id: int | None, final: bool, deliveries: list[Delivery],
            now: datetime, *, instance: str, purpose: Purpose = "outcome") -> None:
    """Queue deliveries; `final` says whether delivering them stops the message's clock.
    The instance that queues a row delivers it (instances never race for one row)."""
    if not deliveries:
        return
    at = now.isoformat()
    rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)"] * len(deliveries))
    tx.execute(  # one statement for all of them; only placeholders are joined into the text
        "INSERT INTO outbox (outcome_id, purpose, channel, recipient, payload,"  # noqa: S608
        " correlation_data, header_message_id, final, status, next_attempt_at, created_at,"
        f" instance) VALUES {rows}",
        [value for delivery in deliveries
         for value in (outcome_id, purpose, delivery.channel, delivery.recipient,
                       delivery.payload, delivery.correlation_data, delivery.header_message_id,
                       int(final), at, at, instance)],
    )


def due_rows(tx: Tx, channel: Channel, now: datetime,
             instance: str) -> tuple[list[OutboxRow], datetime | None, bool]:
    """Rows to send now, first come first served per recipient; when the next falls due; and
    whether more pending rows may lie beyond what was read.

    A recipient whose oldest pending row waits for a retry holds its later rows back (its
    order is kept); other recipients are not held by it, even behind thousands of its rows:
    the read goes on past held rows, a page at a time, until it has a page of due rows or
    FETCH_PAGES pages.
    """
    waiting: set[str] = set()
    due: list[OutboxRow] = []
    next_due: datetime | None = None
    after = 0
    for _ in range(FETCH_PAGES):
        rows = tx.all(
            "SELECT id, outcome_id, channel, recipient, payload, correlation_data,"
            " header_message_id, attempts, next_attempt_at, purpose FROM outbox"
            " WHERE status = 'pending' AND channel = ? AND instance = ? AND id > ?"
            " ORDER BY id LIMIT ?",
            (channel, instance, after, FETCH_LIMIT_ROWS),
        )
        for row in rows:
            recipient = str(row[3])
            at = datetime.fromisoformat(str(row[8]))
            if recipient in waiting:
                continue
            if at > now:
                waiting.add(recipient)
                next_due = at if next_due is None else min(next_due, at)
                continue
            due.append(OutboxRow(
                id=int(row[0]), outcome_id=None if row[1] is None else int(row[1]),
                purpose=row[9], channel=channel, recipient=recipient,
                payload=bytes(row[4]),
                correlation_data=None if row[5] is None else bytes(row[5]),
                header_message_id=None if row[6] is None else str(row[6]),
                attempts=int(row[7]),
            ))
        if len(rows) < FETCH_LIMIT_ROWS:
            return due, next_due, False
        if len(due) >= FETCH_LIMIT_ROWS:
            break
        after = int(rows[-1][0])
    return due, next_due, True


def mark_delivered(tx: Tx, outbox_id: int, now: datetime) -> None:
    """Delivered; the first delivery of a final outcome stops the message's clock."""
    tx.execute(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1"
        " WHERE id = ?", (now.isoformat(), outbox_id),
    )
    tx.execute(
        "UPDATE inbox SET clock_stopped_at = ? WHERE clock_stopped_at IS NULL AND id = ("
        "  SELECT outcomes.inbox_id FROM outbox JOIN outcomes ON outcomes.id = outbox.outcome_id"
        "  WHERE outbox.id = ? AND outbox.final = 1)",
        (now.isoformat(), outbox_id),
    )


def mark_failed(tx: Tx, outbox_id: int, error: str, *, dead: bool, retry_at: datetime) -> None:
    status = "dead" if dead else "pending"
    tx.execute(
        "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?,"
        " next_attempt_at = ? WHERE id = ?",
        (status, error[:500], retry_at.isoformat(), outbox_id),
    )


def backoff(attempts: int, cap_s: float, jitter: float) -> timedelta:
    """Capped exponential backoff; `jitter` in [0, 1) spreads retries of many rows."""
    base = min(cap_s, 2.0 ** attempts)
    return timedelta(seconds=base * (0.5 + jitter / 2))
