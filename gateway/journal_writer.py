"""The journal writer: commits arrivals in batches (group commit), then acknowledges them.

Nothing is acknowledged to the broker that is not journalled; a commit that fails is retried
with backoff while the broker keeps the messages. When traffic is light (a small batch, and
processing idle) the batch is processed in the same transaction (`Processor.with_journal`).
"""

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime

import structlog

from gateway.codec.messages import Kind
from gateway.config import Config, StandardsSettings
from gateway.delivery.dispatch import Dispatcher, Due
from gateway.faults import crash_point
from gateway.processing import Batch, Processor
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.store.database import Database, StoreUnavailable, Tx
from gateway.store.journal import Arrival, Journalled, journal
from gateway.transport.mqtt import AckHandle

log = structlog.get_logger("gateway.journal")
JOURNAL_BATCH_MAX = 500
JOURNAL_RETRY_S_MAX = 10.0
JOINED_ARRIVALS_MAX = 16
"""Batches up to this size are processed in their journal transaction when processing is idle:
a larger one is a burst, whose acknowledgements to the broker must not wait for processing."""
HAND_OVER_WAIT_S = 0.002
"""How long a joined transaction waits for the MQTT loop to finish a drain (an answer's
publish and the broker's PUBACK), so that it can make the loop's next read: the loop's own
read would cost a transaction, and queue behind this one (docs/performance.md)."""


class JournalWriter:
    def __init__(self, database: Database, config: Config, calendar: BusinessCalendar,
                 standards: Callable[[], StandardsSettings], journalled: asyncio.Event,
                 processor: Processor | None = None,
                 processed: Callable[[], None] | None = None,
                 answers: Dispatcher | None = None) -> None:
        self.database = database
        self.processor = processor
        """Processes small batches in their journal transaction, when given."""
        self.processed = processed
        """Called after such a transaction (the deliveries it queued are due)."""
        self.answers = answers
        """The MQTT loop: when it waits, a joined transaction makes its next read (recording
        its last deliveries, reading its due rows), so that the answers go out without a read
        queued behind the next journal commit, and a delivery costs no commit of its own."""
        self.config = config
        self.calendar = calendar
        self.standards = standards
        self.journalled = journalled
        self.open = True
        """Cleared when the daemon drains: later arrivals stay unacknowledged at the broker."""
        self.queue: asyncio.Queue[tuple[Arrival, AckHandle]] = asyncio.Queue(
            maxsize=config.mqtt.receive_maximum
        )
        self.taken = 0
        """Arrivals taken off the queue and not yet acknowledged (a batch being committed)."""

    def idle(self) -> bool:
        """Nothing waits to be journalled or acknowledged."""
        return self.queue.empty() and not self.taken

    async def put(self, arrival: Arrival, handle: AckHandle) -> None:
        if self.open:
            await self.queue.put((arrival, handle))

    def _respond_by(self, kind: Kind, received_at: datetime) -> datetime:
        return respond_by(self.calendar, self.standards().for_kind(kind), received_at)

    def _journal_batch(self, tx: Tx, arrivals: list[Arrival],
                       retrying: bool = False) -> list[Journalled]:
        results = [
            journal(tx, arrival, instance=self.config.gateway.id,
                    max_payload_bytes=self.config.gateway.max_message_bytes,
                    respond_by=self._respond_by, retrying=retrying)
            for arrival in arrivals
        ]
        crash_point("before-journal-commit")
        return results

    async def run(self) -> None:
        self.taken = 0  # a batch of a run that failed is not acknowledged: the broker has it
        while True:
            batch = [await self.queue.get()]
            while len(batch) < JOURNAL_BATCH_MAX and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self.taken = len(batch)
            arrivals = [arrival for arrival, _ in batch]
            tried, joined = await self._joined(arrivals)
            results = joined[0] if joined is not None else await self._commit(
                arrivals, retrying=tried)
            if tried and self.processed is not None:
                self.processed()  # first: the answers' read goes ahead of the next commit
            log.debug("journal committed", mids=[handle.mid for _, handle in batch])
            crash_point("after-journal-commit")
            for (arrival, handle), result in zip(batch, results, strict=True):
                log.info("message journalled", inbox_id=result.inbox_id, role=result.role,
                         sender=arrival.topic_sender, bytes=len(arrival.payload),
                         redelivery=arrival.broker_redelivery)
                handle.ack()
                log.debug("acknowledged to broker", mid=handle.mid)
            for _ in batch:
                self.queue.task_done()
            self.taken = 0
            if joined is not None and self.processor is not None:
                self.processor.settle_joined(joined[1])
                if self.processor.more_pending or self.processor.carried:
                    self.journalled.set()
            else:
                self.journalled.set()

    async def _joined(self, arrivals: list[Arrival]
                      ) -> tuple[bool, tuple[list[Journalled], Batch] | None]:
        """The batch journalled and processed in one transaction: whether that was tried, and
        what it gave if it committed. After a failure it may have committed all the same (a
        lost reply from PostgreSQL): the journal alone then looks for its arrivals first."""
        processor = self.processor
        if processor is None or not self._may_join(processor, arrivals):
            return False, None
        answers = self.answers
        if answers is not None:
            await answers.between_drains(HAND_OVER_WAIT_S)
            if not self._may_join(processor, arrivals):
                return False, None
        read = None if answers is None else answers.hand_over()
        found: list[Due] = []  # what the MQTT loop's next read finds, after processing
        try:
            joined = await processor.with_journal(
                functools.partial(self._journal_batch, arrivals=arrivals, retrying=False),
                None if read is None else lambda tx: found.append(read(tx)))
            if answers is not None and read is not None and found:
                answers.take(read, found[0])
            return True, joined
        except Exception as error:  # rolled back, or lost: the journal goes alone at once
            log.warning("journal commit failed, retrying", error=f"{type(error).__name__}: "
                        f"{error}"[:200], retry_in_s=0, with_processing=True)
            return True, None

    def _may_join(self, processor: Processor, arrivals: list[Arrival]) -> bool:
        """A small batch, and processing idle with no work it has not taken up yet."""
        return len(arrivals) <= JOINED_ARRIVALS_MAX and processor.idle() \
            and not self.journalled.is_set()

    async def _commit(self, arrivals: list[Arrival], *, retrying: bool = False
                      ) -> list[Journalled]:
        """Journal alone, retried until it commits. `retrying`: a transaction holding these
        arrivals may have committed already (its reply was lost), so look for them first."""
        wait_s = 0.1
        batch = functools.partial(self._journal_batch, arrivals=arrivals, retrying=retrying)
        while True:
            try:
                return await self.database.transaction(batch)
            except StoreUnavailable as error:
                log.warning("journal commit failed, retrying", error=str(error), retry_in_s=wait_s)
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, JOURNAL_RETRY_S_MAX)
                batch = functools.partial(self._journal_batch, arrivals=arrivals, retrying=True)
