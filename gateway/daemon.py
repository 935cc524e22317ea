"""The daemon: one TaskGroup owning ingress, journal, processing and delivery.

Ingress puts each message on a bounded queue; the journal writer commits them in batches and
only then sends the PUBACKs; processing takes journalled messages in order; the delivery loops
drain the outbox.
"""

import asyncio
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from gateway.codec.messages import Kind
from gateway.config import Config
from gateway.delivery.alerts import queue_alert
from gateway.delivery.dispatch import Dispatcher
from gateway.delivery.senders import (
    MaildirSender,
    MqttSender,
    PermanentFailure,
    SmtpSender,
    TemporaryFailure,
)
from gateway.faults import crash_point
from gateway.ledger.statement_run import STATEMENT_CHECK_INTERVAL_S, issue_due_statements
from gateway.partners import Registry, load_registry
from gateway.processing import Processor
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.standards.escalation import ESCALATION_INTERVAL_S, Escalator
from gateway.store.database import Database, StoreUnavailable, Tx, open_database
from gateway.store.journal import Arrival, Journalled, journal
from gateway.store.outbox import OutboxRow
from gateway.systemd import notify
from gateway.transport.mqtt import AckHandle, Link

log = structlog.get_logger("gateway.daemon")
JOURNAL_BATCH_MAX = 500
JOURNAL_RETRY_S_MAX = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class JournalWriter:
    """Commits arrivals in batches (group commit), then acknowledges them to the broker."""

    def __init__(self, database: Database, config: Config, calendar: BusinessCalendar,
                 processed: asyncio.Event) -> None:
        self.database = database
        self.config = config
        self.calendar = calendar
        self.processed = processed
        self.queue: asyncio.Queue[tuple[Arrival, AckHandle]] = asyncio.Queue(
            maxsize=config.mqtt.receive_maximum
        )

    async def put(self, arrival: Arrival, handle: AckHandle) -> None:
        await self.queue.put((arrival, handle))

    def _respond_by(self, kind: Kind, received_at: datetime) -> datetime:
        return respond_by(self.calendar, self.config.standards.for_kind(kind), received_at)

    def _journal_batch(self, tx: Tx, arrivals: list[Arrival]) -> list[Journalled]:
        results = [
            journal(tx, arrival, instance=self.config.gateway.id,
                    max_payload_bytes=self.config.gateway.max_message_bytes,
                    respond_by=self._respond_by)
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
            await self._commit(arrivals)
            crash_point("after-journal-commit")
            for _, handle in batch:
                handle.ack()
            self.processed.set()

    async def _commit(self, arrivals: list[Arrival]) -> list[Journalled]:
        """Commit or keep trying: nothing is acknowledged that is not journalled."""
        wait_s = 0.1
        while True:
            try:
                return await self.database.transaction(
                    lambda tx: self._journal_batch(tx, arrivals)
                )
            except StoreUnavailable as error:
                log.warning("journal commit failed, retrying", error=str(error), retry_in_s=wait_s)
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, JOURNAL_RETRY_S_MAX)


class Gateway:
    def __init__(self, config: Config, registry: Registry,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.registry = registry
        self.now = now
        self.calendar = BusinessCalendar(config.calendar)
        self.database = open_database(config.database_url)
        self.link = Link(config.mqtt, f"carm-gateway-{config.gateway.id}", now)
        self.journalled = asyncio.Event()
        self.journal_writer = JournalWriter(self.database, config, self.calendar, self.journalled)
        self.processor = Processor(self.database, config, lambda: self.registry, self.calendar,
                                   now)
        retries = config.retries
        self.mqtt_dispatcher = Dispatcher(
            self.database, "mqtt", MqttSender(self.link), attempts=retries.attempts,
            backoff_s_max=retries.backoff_s_max, now=now, temporary=TemporaryFailure,
            permanent=PermanentFailure, on_dead=self._alert_dead_delivery,
        )
        email_sender = (SmtpSender(config.smtp) if config.smtp.url
                        else MaildirSender(mail_directory(config)))
        self.email_dispatcher = Dispatcher(
            self.database, "email", email_sender, attempts=retries.attempts,
            backoff_s_max=retries.backoff_s_max, now=now, temporary=TemporaryFailure,
            permanent=PermanentFailure, on_dead=self._alert_dead_delivery,
        )
        self.escalator = Escalator(config, self.calendar)
        self.email_sender = email_sender

    async def _process_loop(self) -> None:
        self.journalled.set()
        while True:
            await self.journalled.wait()
            self.journalled.clear()
            while await self.processor.run_pending():
                self.mqtt_dispatcher.wakeup.set()
                self.email_dispatcher.wakeup.set()

    def _alert_dead_delivery(self, tx: Tx, row: OutboxRow, error: str, now: datetime) -> None:
        """A delivery that will never go is reported to the operators (not an alert itself:
        the log event and the metric are the channel of last resort)."""
        if row.purpose == "alert":
            return
        text = (f"The {row.channel} delivery {row.id} to {row.recipient} is dead after "
                f"{row.attempts + 1} attempts.\nLast error: {error}\n")
        queue_alert(tx, self.config, key=f"dead-delivery:{row.id}",
                    subject=f"Dead {row.channel} delivery to {row.recipient}", text=text, now=now)

    async def _escalation_loop(self) -> None:
        while True:
            await self.database.transaction(lambda tx: self.escalator.escalate(tx, self.now()))
            self.email_dispatcher.wakeup.set()
            await asyncio.sleep(ESCALATION_INTERVAL_S)

    async def _statement_loop(self) -> None:
        while True:
            issued = await self.database.transaction(lambda tx: issue_due_statements(
                tx, self.config, self.registry, self.calendar, self.now()))
            if issued:
                self.email_dispatcher.wakeup.set()
            await asyncio.sleep(STATEMENT_CHECK_INTERVAL_S)

    async def _announce_ready(self) -> None:
        await self.link.subscribed.wait()
        notify("READY=1")
        notify("STATUS=subscribed; processing messages")
        log.info("gateway ready", instance=self.config.gateway.id)

    def reload_registry(self, registry: Registry) -> None:
        self.registry = registry

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self.link.receive(self.journal_writer.put), name="ingress"),
                    group.create_task(self.journal_writer.run(), name="journal"),
                    group.create_task(self._process_loop(), name="processing"),
                    group.create_task(self.mqtt_dispatcher.run(), name="delivery-mqtt"),
                    group.create_task(self.email_dispatcher.run(), name="delivery-email"),
                    group.create_task(self._escalation_loop(), name="escalation"),
                    group.create_task(self._statement_loop(), name="statements"),
                    group.create_task(self._announce_ready(), name="ready"),
                ]
                await stop.wait()
                notify("STOPPING=1")
                log.info("gateway stopping")
                for task in tasks:
                    task.cancel()
        finally:
            await self.email_sender.close()
            await self.database.close()


def mail_directory(config: Config) -> Path:
    return config.gateway.state_directory / "mail"


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT."""
    registry = load_registry(config.partners_file)
    config.gateway.state_directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    gateway = Gateway(config, registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload(gateway, config))
    await gateway.run(stop)


def _reload(gateway: Gateway, config: Config) -> None:
    try:
        gateway.reload_registry(load_registry(config.partners_file))
        log.info("partner registry reloaded")
    except Exception as error:
        log.error("partner registry not reloaded; keeping the old one", error=str(error))
