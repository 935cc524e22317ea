"""The journal writer: commits arrivals in batches (group commit), then acknowledges them.

Nothing is acknowledged to the broker that is not journalled; a commit that fails is retried
with backoff while the broker keeps the messages.
"""

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime

import structlog

from gateway.codec.messages import Kind
from gateway.config import Config, StandardsSettings
from gateway.faults import crash_point
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.store.database import Database, StoreUnavailable, Tx
from gateway.store.journal import Arrival, Journalled, journal
from gateway.transport.mqtt import AckHandle

log = structlog.get_logger("gateway.journal")
JOURNAL_BATCH_MAX = 500
JOURNAL_RETRY_S_MAX = 10.0


class JournalWriter:
    def __init__(self, database: Database, config: Config, calendar: BusinessCalendar,
                 standards: Callable[[], StandardsSettings], journalled: asyncio.Event) -> None:
        self.database = database
        self.config = config
        self.calendar = calendar
        self.standards = standards
        self.journalled = journalled
        self.open = True
        """Cleared when the daemon drains: later arrivals stay unacknowledged at the broker."""
        self.queue: asyncio.Queue[tuple[Arrival, AckHandle]] = asyncio.Queue(
            maxsize=config.mqtt.receive_maximum
        )

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
        while True:
            batch = [await self.queue.get()]
            while len(batch) < JOURNAL_BATCH_MAX and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            arrivals = [arrival for arrival, _ in batch]
            results = await self._commit(arrivals)
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
            self.journalled.set()

    async def _commit(self, arrivals: list[Arrival]) -> list[Journalled]:
        wait_s = 0.1
        batch = functools.partial(self._journal_batch, arrivals=arrivals, retrying=False)
        while True:
            try:
                return await self.database.transaction(batch)
            except StoreUnavailable as error:
                log.warning("journal commit failed, retrying", error=str(error), retry_in_s=wait_s)
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, JOURNAL_RETRY_S_MAX)
                batch = functools.partial(self._journal_batch, arrivals=arrivals, retrying=True)
