"""Draining the outbox, one loop per channel: first come first served, retried, never stuck."""

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import structlog

from gateway.store.database import Database
from gateway.store.outbox import Channel, OutboxRow, backoff, due_rows, mark_delivered, mark_failed

log = structlog.get_logger("gateway.delivery")
IDLE_WAKE_S = 60.0


class Sender(Protocol):
    async def ready(self) -> None: ...

    async def send(self, row: OutboxRow) -> None: ...


class Dispatcher:
    def __init__(self, database: Database, channel: Channel, sender: Sender, *,
                 attempts: int, backoff_s_max: float, now: Callable[[], datetime],
                 temporary: type[Exception], permanent: type[Exception]) -> None:
        self.database = database
        self.channel = channel
        self.sender = sender
        self.attempts = attempts
        self.backoff_s_max = backoff_s_max
        self.now = now
        self.temporary = temporary
        self.permanent = permanent
        self.wakeup = asyncio.Event()

    async def run(self) -> None:
        while True:
            next_due = await self.drain_once()
            if next_due is None:
                timeout = IDLE_WAKE_S
            else:
                timeout = max(0.05, (next_due - self.now()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=timeout)
            self.wakeup.clear()

    async def drain_once(self) -> datetime | None:
        """Send every due row; when the next held-back row falls due, or None."""
        while True:
            rows, next_due = await self.database.transaction(
                lambda tx: due_rows(tx, self.channel, self.now())
            )
            if not rows:
                return next_due
            for row in rows:
                await self.sender.ready()
                await self._deliver(row)

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            await self.sender.send(row)
        except self.permanent as error:
            await self._failed(row, str(error), dead=True)
            return
        except self.temporary as error:
            await self._failed(row, str(error), dead=row.attempts + 1 >= self.attempts)
            return
        now = self.now()
        await self.database.transaction(lambda tx: mark_delivered(tx, row.id, now))
        log.info("delivered", channel=self.channel, outbox_id=row.id, attempt=row.attempts + 1)

    async def _failed(self, row: OutboxRow, error: str, *, dead: bool) -> None:
        retry_at = self.now() + backoff(row.attempts, self.backoff_s_max, random.random())  # noqa: S311
        await self.database.transaction(
            lambda tx: mark_failed(tx, row.id, error, dead=dead, retry_at=retry_at)
        )
        event = "delivery dead" if dead else "delivery failed, will retry"
        log.warning(event, channel=self.channel, outbox_id=row.id, attempt=row.attempts + 1,
                    error=error)
