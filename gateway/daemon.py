"""The daemon: one TaskGroup owning ingress, journal, processing, delivery and the loops.

Ingress hands each message to the journal writer, which commits in batches and only then
acknowledges; processing takes journalled messages in order; the delivery loops drain the
outbox. SIGTERM drains (intake closes, in-flight work finishes, the outbox is flushed for a
bounded time); a second SIGTERM or SIGINT exits at once; SIGHUP reloads the partner registry
and the service standards, keeping the old ones when the new files are bad.
"""

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from gateway.config import Config, ConfigError, StandardsSettings, load_config
from gateway.delivery.alerts import queue_alert
from gateway.delivery.dispatch import Dispatcher
from gateway.delivery.senders import (
    MaildirSender,
    MqttSender,
    PermanentFailure,
    SmtpSender,
    TemporaryFailure,
)
from gateway.journal_writer import JournalWriter
from gateway.ledger.statement_run import STATEMENT_CHECK_INTERVAL_S, issue_due_statements
from gateway.observability import MetricsServer, counts, heartbeat
from gateway.partners import Registry, load_registry
from gateway.processing import Processor
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.escalation import ESCALATION_INTERVAL_S, Escalator
from gateway.store.database import StoreUnavailable, Tx, open_database
from gateway.store.outbox import OutboxRow
from gateway.systemd import notify
from gateway.transport.mqtt import Link

log = structlog.get_logger("gateway.daemon")
SHUTDOWN_DRAIN_S = 30.0
"""How long SIGTERM waits for in-flight messages and the outbox (systemd's TimeoutStopSec
is 45 s)."""
DRAIN_POLL_S = 0.1
PROCESS_POLL_S = 5.0
"""Processing also looks for pending work this often: dead letters replayed by a command."""
EMAIL_GATHER_S = 0.1
"""Emails answer within business days; waiting a tenth of a second after a wakeup lets one
drain send the emails of several messages (one read and one delivery record for all of them).
Longer gathers save a little more CPU but write their emails in bursts whose disk flushes
delay the MQTT answers: p99 at 150/s was 36 to 46 ms with 0.5 s, 20 to 25 ms with 0.1 s."""
FORCED_EXIT_STATUS = 1
SUPERVISOR_BACKOFF_S_MIN = 0.2
SUPERVISOR_BACKOFF_S_MAX = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class Gateway:
    def __init__(self, config: Config, registry: Registry,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.registry = registry
        self.now = now
        self.calendar = BusinessCalendar(config.calendar)
        self.database = open_database(config.database_url, temporary_in_memory=True)
        self.link = Link(config.mqtt, f"carm-gateway-{config.gateway.id}", now)
        self.journalled = asyncio.Event()
        self.processor = Processor(self.database, config, lambda: self.registry, self.calendar,
                                   now)
        retries = config.retries
        self.mqtt_dispatcher = Dispatcher(
            self.database, "mqtt", MqttSender(self.link), attempts=retries.attempts,
            backoff_s_max=retries.backoff_s_max, now=now, temporary=TemporaryFailure,
            permanent=PermanentFailure, on_dead=self._alert_dead_delivery,
            instance=config.gateway.id,
        )
        self.journal_writer = JournalWriter(self.database, config, self.calendar,
                                            lambda: self.config.standards, self.journalled,
                                            self.processor, self._wake_delivery,
                                            self.mqtt_dispatcher)
        self.email_sender = (SmtpSender(config.smtp) if config.smtp.url
                             else MaildirSender(mail_directory(config)))
        self.email_dispatcher = Dispatcher(
            self.database, "email", self.email_sender, attempts=retries.attempts,
            backoff_s_max=retries.backoff_s_max, now=now, temporary=TemporaryFailure,
            permanent=PermanentFailure, on_dead=self._alert_dead_delivery,
            instance=config.gateway.id, gather_s=EMAIL_GATHER_S,
        )
        self.escalator = Escalator(config, self.calendar)
        self.metrics_server = MetricsServer(config.metrics_listen, self.ready)

    def ready(self) -> bool:
        """Subscribed to the broker (the database opened when the gateway was made)."""
        return self.link.subscribed.is_set()

    def _wake_delivery(self) -> None:
        self.mqtt_dispatcher.due()
        self.email_dispatcher.due()

    async def _process_loop(self) -> None:
        self.journalled.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.journalled.wait(), timeout=PROCESS_POLL_S)
            self.journalled.clear()
            while await self.processor.run_pending():
                self._wake_delivery()
                if not self.processor.more_pending:
                    break

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
        log.info("gateway ready", instance=self.config.gateway.id)

    def reload(self, registry: Registry, standards: StandardsSettings) -> None:
        """New partner registry and service standards, effective for the next message."""
        self.registry = registry
        self.config = dataclasses.replace(self.config, standards=standards)
        self.escalator.config = self.config
        self.processor.config = self.config  # the RespondBy of the EDIFACT messages it adds

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(_supervised(name, loop), name=name)
                    for name, loop in (
                        ("ingress", lambda: self.link.receive(self.journal_writer.put)),
                        ("journal", self.journal_writer.run),
                        ("processing", self._process_loop),
                        ("delivery-mqtt", self.mqtt_dispatcher.run),
                        ("delivery-email", self.email_dispatcher.run),
                        ("escalation", self._escalation_loop),
                        ("statements", self._statement_loop),
                        ("heartbeat", lambda: heartbeat(self.database, self.config.gateway.id,
                                                        self.link.connected.is_set)),
                        ("metrics", self.metrics_server.serve),
                        ("ready", self._announce_ready),
                    )
                ]
                await stop.wait()
                await self._drain()
                for task in tasks:
                    task.cancel()
        finally:
            await asyncio.shield(self._close())

    async def _drain(self) -> None:
        """Stop intake, then wait (bounded) for the journal, processing and the outbox."""
        notify("STOPPING=1")
        self.journal_writer.open = False
        log.info("gateway draining", timeout_s=SHUTDOWN_DRAIN_S)
        instance = self.config.gateway.id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_DRAIN_S
        while loop.time() < deadline:
            found = await self.database.transaction(lambda tx: counts(tx, instance))
            outbox_due = await self.database.transaction(
                lambda tx: _outbox_due_now(tx, instance))
            if self.journal_writer.idle() and found.journal == 0 and outbox_due == 0:
                log.info("gateway drained")
                return
            self.journalled.set()
            self._wake_delivery()
            await asyncio.sleep(DRAIN_POLL_S)
        log.warning("drain timed out; what is left is journalled and resumes at the next start")

    async def _close(self) -> None:
        await self.email_sender.close()
        await self.database.close()
        log.info("gateway stopped")


async def _supervised(name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a loop; when the database is unavailable for a while, start it again after a
    capped backoff instead of taking the daemon down (its work is all in the database)."""
    wait_s = SUPERVISOR_BACKOFF_S_MIN
    while True:
        try:
            await loop()
            return
        except* StoreUnavailable as failures:  # also from a loop's own task group
            log.warning("loop interrupted by the database, restarting", loop=name,
                        error=str(failures.exceptions[0]), retry_in_s=wait_s)
        await asyncio.sleep(wait_s)
        wait_s = min(wait_s * 2, SUPERVISOR_BACKOFF_S_MAX)


def _outbox_due_now(tx: Tx, instance: str) -> int:
    """This instance's pending outbox rows that are not waiting for a retry."""
    row = tx.one("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts = 0"
                 " AND instance = ?", (instance,))
    return int(row[0]) if row else 0


def mail_directory(config: Config) -> Path:
    return config.gateway.state_directory / "mail"


async def serve(config: Config, config_option: str | None = None) -> None:
    """Run until SIGTERM or SIGINT (a second one exits at once)."""
    registry = load_registry(config.partners_file)
    config.gateway.state_directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    gateway = Gateway(config, registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_stop_signal() -> None:
        if stop.is_set():
            log.warning("second stop signal: exiting at once")
            os._exit(FORCED_EXIT_STATUS)
        stop.set()

    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, on_stop_signal)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload(gateway, config_option))
    await gateway.run(stop)


def _reload(gateway: Gateway, config_option: str | None) -> None:
    """Re-read the configuration's standards and the partner registry; all or nothing."""
    try:
        fresh = load_config(config_option)
        registry = load_registry(fresh.partners_file)
    except ConfigError as error:
        log.error("reload refused; keeping the running registry and standards",
                  error=str(error))
        return
    gateway.reload(registry, fresh.standards)
    log.info("reloaded", senders=len(registry.senders), accounts=len(registry.accounts))
