"""Draining the outbox, one loop per channel: first come first served, retried, never stuck.

Due rows are grouped by recipient; each recipient's rows go in order, and up to
`concurrency` recipients are served at once, so one partner's backlog or one stalled
conversation does not hold the others.

The deliveries of a drain are recorded in the transaction of the loop's next read (`Read`),
or within RECORD_LATER_S when no read comes: under traffic a delivery costs no transaction
of its own.
"""

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from gateway import metrics
from gateway.faults import crash_point
from gateway.store.database import Database, Tx
from gateway.store.outbox import Channel, OutboxRow, backoff, due_rows, mark_delivered, mark_failed

log = structlog.get_logger("gateway.delivery")
IDLE_WAKE_S = 5.0
"""Rows written by commands (case steps) are picked up within this time."""
RECIPIENTS_AT_ONCE = 4
MARK_BATCH_ROWS = 100
RECORD_LATER_S = 0.05
"""The longest a drain's last deliveries wait for the loop's next read to record them; then
the loop reads, and records them, on its own."""


class Sender(Protocol):
    async def ready(self) -> None: ...

    async def send(self, row: OutboxRow) -> None: ...

    async def flush(self) -> None:
        """Make what `send` delivered durable; deliveries are recorded after it returns."""


Due = tuple[list[OutboxRow], datetime | None, bool]
"""What `due_rows` reads: rows to send now, when the next falls due, whether there are more."""
DeadHook = Callable[[Tx, OutboxRow, str, datetime], None]


@dataclass(frozen=True)
class Delivered:
    """A row the sender delivered (and made durable) at `at`, to be recorded as such."""

    row: OutboxRow
    at: datetime


class Read:
    """A read of a channel's due rows, as a transaction's work, which first records the
    deliveries made since the loop's last read. A row delivered and not yet recorded is
    still pending in the database: every later read is of a later transaction (one thread,
    in order), so none finds it due again; if this one fails, they go again (at least once).
    """

    def __init__(self, dispatcher: "Dispatcher", delivered: list[Delivered]) -> None:
        self.dispatcher = dispatcher
        self.delivered = delivered
        self.drains = dispatcher.drains
        """The loop's drains begun when the read was made: a read handed over (`take`) is
        stale once another drain has begun."""

    def __call__(self, tx: Tx) -> Due:
        _mark_delivered(self.delivered, tx)
        return self.dispatcher.read_due(tx)


def _mark_delivered(deliveries: list[Delivered], tx: Tx) -> None:
    for delivery in deliveries:
        mark_delivered(tx, delivery.row.id, delivery.at)


def _no_hook(tx: Tx, row: OutboxRow, error: str, now: datetime) -> None:
    return None


class Dispatcher:
    def __init__(self, database: Database, channel: Channel, sender: Sender, *,
                 attempts: int, backoff_s_max: float, now: Callable[[], datetime],
                 temporary: type[Exception], permanent: type[Exception],
                 instance: str, on_dead: DeadHook = _no_hook,
                 concurrency: int = RECIPIENTS_AT_ONCE, gather_s: float = 0.0) -> None:
        self.database = database
        self.channel = channel
        self.sender = sender
        self.attempts = attempts
        self.backoff_s_max = backoff_s_max
        self.now = now
        self.temporary = temporary
        self.permanent = permanent
        self.instance = instance
        self.on_dead = on_dead
        self.concurrency = asyncio.Semaphore(concurrency)
        self.gather_s = gather_s
        """After a wakeup, wait this long so that one drain sends what several wakeups queued
        (fewer transactions per row when messages trickle in)."""
        self.wakeup = asyncio.Event()
        self._earliest_retry: datetime | None = None
        self._waiting = False
        """The loop waits for a wakeup: nothing of its last drain is under way."""
        self._between_drains = asyncio.Event()
        """Set while the loop waits with no read for its next drain (`_reads_ahead`)."""
        self._read_ahead: asyncio.Future[Due] | None = None
        """The next drain's read, started by `due` or handed over by `take`."""
        self.drains = 0
        """Drains begun (see `Read.drains`)."""
        self._unrecorded: list[Delivered] = []
        """Deliveries of the last drain, for the next read to record."""

    def _reads_ahead(self) -> bool:
        """The loop waits, does not gather, and has no read for its next drain yet."""
        return self._waiting and self.gather_s == 0 and self._read_ahead is None

    def _next_read(self) -> Read:
        delivered, self._unrecorded = self._unrecorded, []
        return Read(self, delivered)

    def _submit(self, read: Read) -> asyncio.Future[Due]:
        started = self.database.submit(read)
        if read.delivered:
            def committed(done: asyncio.Future[Due]) -> None:
                if not done.cancelled() and done.exception() is None:
                    self._recorded(read.delivered)

            started.add_done_callback(committed)
        return started

    async def between_drains(self, bound_s: float) -> None:
        """Wait, at most `bound_s`, until the loop waits between drains with no read for its
        next drain, when a read can be handed over to it (`hand_over`)."""
        if self.gather_s == 0 and not self._reads_ahead():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._between_drains.wait(), bound_s)

    def hand_over(self) -> Read | None:
        """When the loop waits, its next read, for a transaction the caller is about to
        submit (`take` then gives the loop what it read); None otherwise."""
        return self._next_read() if self._reads_ahead() else None

    def take(self, read: Read, due: Due) -> None:
        """What a read from `hand_over` found, in a transaction that committed: the loop's
        next read, if no drain has begun since (the rows it holds may have gone meanwhile)."""
        self._recorded(read.delivered)
        self.wakeup.set()
        if self._reads_ahead() and self.drains == read.drains:
            self._read_ahead = asyncio.get_running_loop().create_future()
            self._read_ahead.set_result(due)
            self._between_drains.clear()

    def due(self) -> None:
        """Rows of this channel were committed: wake the loop, and when it is waiting (and
        does not gather), start its read at once.

        The read is then the next job of the database thread, ahead of the transaction that
        the caller goes on to submit (the next arrivals' journal commit): the loop's own read
        would run after it, and the answer would wait for that commit's disk flush
        (docs/performance.md). A read started while the loop waits is the read its next drain
        would make: none of its deliveries is under way, and it records those not recorded
        yet."""
        self.wakeup.set()
        if self._reads_ahead():
            self._read_ahead = self._submit(self._next_read())
            self._between_drains.clear()

    def read_due(self, tx: Tx) -> Due:
        return due_rows(tx, self.channel, self.now(), self.instance)

    async def run(self) -> None:
        while True:
            next_due = await self._drain()
            timeout = IDLE_WAKE_S
            if next_due is not None:
                timeout = min(IDLE_WAKE_S, max(0.05, (next_due - self.now()).total_seconds()))
            if self._unrecorded:
                timeout = min(timeout, RECORD_LATER_S)
            self._waiting = True
            if self._reads_ahead():
                self._between_drains.set()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=timeout)
            finally:
                self._waiting = False
                self._between_drains.clear()
            if self.wakeup.is_set() and self.gather_s > 0:
                await asyncio.sleep(self.gather_s)
            self.wakeup.clear()

    async def drain_once(self) -> datetime | None:
        """Send every due row and record the deliveries; when the next held-back or failed
        row falls due, or None. (The loop leaves a drain's last deliveries to its next
        read.)"""
        next_due = await self._drain()
        deliveries, self._unrecorded = self._unrecorded, []
        await self._record(deliveries)
        return next_due

    async def _drain(self) -> datetime | None:
        """Send every due row; when the next held-back or failed row falls due, or None.

        It reads again only when its read was full: rows committed meanwhile come with a
        wakeup, and a row that failed here says itself when it is due."""
        self.drains += 1
        while True:
            read = self._read_ahead or self._submit(self._next_read())
            self._read_ahead = None
            rows, next_due, more = await read
            if not rows:
                return next_due
            self._earliest_retry = None
            by_recipient: dict[str, list[OutboxRow]] = {}
            for row in rows:
                by_recipient.setdefault(row.recipient, []).append(row)
            await self.sender.ready()
            async with asyncio.TaskGroup() as group:
                for recipient, queue in by_recipient.items():
                    group.create_task(self._serve(queue), name=f"deliver-{recipient}")
            if not more:
                return min((at for at in (next_due, self._earliest_retry) if at is not None),
                           default=None)

    async def _serve(self, queue: list[OutboxRow]) -> None:
        """One recipient's rows in order; a failure holds the rest until its retry.

        Deliveries are recorded in batches (one commit for many rows), the last one by the
        loop's next read: after a crash the unrecorded ones go again, with the same bytes and
        Message-ID (at least once).
        """
        delivered: list[OutboxRow] = []
        async with self.concurrency:
            try:
                for row in queue:
                    if not await self._deliver(row, delivered):
                        return
                    if len(delivered) >= MARK_BATCH_ROWS:
                        await self._record_delivered(delivered)
            finally:
                await asyncio.shield(self._record_delivered(delivered, later=True))

    async def _record_delivered(self, delivered: list[OutboxRow], *, later: bool = False
                                ) -> None:
        """Record sent rows as delivered, once the sender made them durable (one flush of a
        Maildir's `new/` for the batch), now or (`later`) in the loop's next read; a failed
        flush is a failed attempt of each row."""
        if not delivered:
            return
        rows, delivered[:] = list(delivered), []
        try:
            await self.sender.flush()
        except self.temporary as error:
            for row in rows:
                await self._failed(row, str(error), dead=row.attempts + 1 >= self.attempts)
            return
        now = self.now()
        deliveries = [Delivered(row, now) for row in rows]
        if later:
            self._unrecorded.extend(deliveries)
        else:
            await self._record(deliveries)

    async def _record(self, deliveries: list[Delivered]) -> None:
        if deliveries:
            await self.database.transaction(functools.partial(_mark_delivered, deliveries))
            self._recorded(deliveries)

    def _recorded(self, deliveries: list[Delivered]) -> None:
        for delivery in deliveries:
            metrics.DELIVERIES.labels(self.channel, "delivered").inc()
            log.info("delivered", channel=self.channel, outbox_id=delivery.row.id,
                     attempt=delivery.row.attempts + 1)

    async def _deliver(self, row: OutboxRow, delivered: list[OutboxRow]) -> bool:
        try:
            await self.sender.send(row)
            if self.channel == "email":
                crash_point("in-smtp-conversation")
        except self.permanent as error:
            await self._failed(row, str(error), dead=True)
            return True
        except self.temporary as error:
            dead = row.attempts + 1 >= self.attempts
            await self._failed(row, str(error), dead=dead)
            return dead
        delivered.append(row)
        return True

    async def _failed(self, row: OutboxRow, error: str, *, dead: bool) -> None:
        now = self.now()
        retry_at = now + backoff(row.attempts, self.backoff_s_max, random.random())  # noqa: S311
        if not dead:
            self._earliest_retry = min(retry_at, self._earliest_retry or retry_at)

        def record(tx: Tx) -> None:
            mark_failed(tx, row.id, error, dead=dead, retry_at=retry_at)
            if dead:
                self.on_dead(tx, row, error, now)

        await self.database.transaction(record)
        metrics.DELIVERIES.labels(self.channel, "dead" if dead else "retry").inc()
        if dead:
            log.error("delivery dead", channel=self.channel, outbox_id=row.id,
                      recipient=row.recipient, attempt=row.attempts + 1, error=error)
        else:
            metrics.RETRIES.inc()
            log.warning("delivery failed, will retry", channel=self.channel, outbox_id=row.id,
                        attempt=row.attempts + 1, error=error, retry_at=retry_at.isoformat())
