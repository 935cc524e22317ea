"""Email delivery on its own: the gateway's outbox path against aiosmtplib's best case.

All three send the same pre-built emails (rendered as the processing stage renders them) to
aiosmtpd in another process, in turn, three rounds (the median of each counts):

- baseline: aiosmtplib over one reused connection, one email after the other;
- the gateway: `Dispatcher` draining email outbox rows from SQLite (synchronous=FULL) through
  `SmtpSender` (its connection pool), marking each row delivered: what the daemon does;
- diagnostic: `SmtpSender.send` alone, no database, to separate the sender from the outbox.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiosmtplib
from figures import Figure, Report
from traffic import Partners

from gateway.codec.messages import Totals
from gateway.config import SmtpSettings
from gateway.delivery.dispatch import Dispatcher
from gateway.delivery.email_content import header_message_id, render_email
from gateway.delivery.senders import PermanentFailure, SmtpSender, TemporaryFailure
from gateway.outcome import Outcome
from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.store.database import open_database
from gateway.store.outbox import Delivery, OutboxRow, enqueue

SENDER_ADDRESS = "carm-gateway@localhost"
INSTANCE = "gw1"
EMAIL_TARGET_RATIO = 0.8
SERVER_START_S = 10.0
DRAIN_BOUND_S = 120.0
ROUNDS = 3
T = TypeVar("T")


def with_accepted(function: Callable[..., T], *args: Any, **options: Any) -> T:
    """Call with the keyword options the function takes (the outbox API is still moving:
    `instance` is newer than this benchmark)."""
    accepted = inspect.signature(function).parameters
    return function(*args, **{key: value for key, value in options.items()
                              if key in accepted})


def build_emails(partners: Partners, count: int) -> list[tuple[str, bytes]]:
    """(recipient, bytes) of `count` acknowledgement emails spread over the senders."""
    zone = BusinessCalendar(CalendarSettings()).zone
    now = datetime.now(UTC)
    emails = []
    for number in range(count):
        sender = partners.senders[number % len(partners.senders)]
        outcome = Outcome(
            acknowledgement_id=f"gw1-{number:012d}", ref_message_id=f"{sender.id}-M{number}",
            sender=sender.id, kind="declaration", reference=f"{number:014d}/1",
            status="accepted", test=False, received_at=now, respond_by=now,
            assessment=Totals(Decimal("599.46"), Decimal("12.34"), Decimal("481.27"),
                              Decimal("1093.07")),
            balance=Decimal("1093.07"), payment_due=date(2026, 12, 31),
            importer_account=sender.accounts[0],
        )
        message_id = header_message_id("bench", sender.id, str(number), "accepted",
                                       sender.email, "localhost")
        payload = render_email(outcome, sender_address=SENDER_ADDRESS, recipient=sender.email,
                               message_id=message_id, zone=zone, now=now)
        emails.append((sender.email, payload))
    return emails


class MailServer:
    """tests/support/mail.py's aiosmtpd, in a child process."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("mail_server.py")
        self.process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("the mail server did not start")
        self.port = int(line[1])

    def stop(self) -> int:
        self.process.terminate()
        output, _ = self.process.communicate(timeout=SERVER_START_S)
        words = output.split()
        return int(words[-1]) if words and words[-1].isdigit() else -1


async def _baseline(port: int, emails: list[tuple[str, bytes]]) -> float:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    started = time.perf_counter()
    for recipient, payload in emails:
        await client.sendmail(SENDER_ADDRESS, [recipient], payload)
    elapsed = time.perf_counter() - started
    await client.quit()
    return elapsed


def _settings(port: int) -> SmtpSettings:
    return SmtpSettings(url=f"smtp://127.0.0.1:{port}", sender=SENDER_ADDRESS, start_tls=False)


async def _sender_alone(port: int, emails: list[tuple[str, bytes]]) -> float:
    sender = SmtpSender(_settings(port))
    rows = [OutboxRow(number, None, "outcome", "email", recipient, payload, None, None, 0)
            for number, (recipient, payload) in enumerate(emails)]
    started = time.perf_counter()
    for row in rows:
        await sender.send(row)
    elapsed = time.perf_counter() - started
    await sender.close()
    return elapsed


async def _dispatcher(port: int, emails: list[tuple[str, bytes]], directory: Path) -> float:
    database = open_database(f"sqlite:///{directory / 'email.db'}")
    now = datetime.now(UTC)
    deliveries = [Delivery("email", recipient, payload) for recipient, payload in emails]
    await database.transaction(lambda tx: with_accepted(
        enqueue, tx, None, False, deliveries, now, instance=INSTANCE))
    sender = SmtpSender(_settings(port))
    dispatcher = with_accepted(
        Dispatcher, database, "email", sender, attempts=5, backoff_s_max=1.0,
        now=lambda: datetime.now(UTC), temporary=TemporaryFailure, permanent=PermanentFailure,
        instance=INSTANCE)
    started = time.perf_counter()
    await asyncio.wait_for(dispatcher.drain_once(), timeout=DRAIN_BOUND_S)
    elapsed = time.perf_counter() - started
    left = await database.transaction(lambda tx: tx.one(
        "SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'"))
    await sender.close()
    await database.close()
    if left and left[0]:
        raise RuntimeError(f"{left[0]} email rows were not delivered")
    return elapsed


def run_email_benchmark(report: Report, partners: Partners, count: int, directory: Path,
                        rounds: int = ROUNDS) -> None:
    """The three contenders in turn, `rounds` times; the median rate of each."""
    emails = build_emails(partners, count)
    size = sum(len(payload) for _, payload in emails) // len(emails)
    rates: dict[str, list[float]] = {"baseline": [], "alone": [], "dispatcher": []}
    server = MailServer()
    try:
        for number in range(rounds):
            os.sync()  # what earlier phases left to write back must not slow the commits
            rates["baseline"].append(count / asyncio.run(_baseline(server.port, emails)))
            rates["alone"].append(count / asyncio.run(_sender_alone(server.port, emails)))
            round_directory = directory / f"round-{number}"
            round_directory.mkdir(parents=True, exist_ok=True)
            rates["dispatcher"].append(count / asyncio.run(
                _dispatcher(server.port, emails, round_directory)))
    finally:
        received = server.stop()
    if received != 3 * rounds * count:
        report.note(f"the mail server received {received} emails of {3 * rounds * count} sent")
    baseline = statistics.median(rates["baseline"])
    report.add(Figure(f"email delivery, outbox -> SmtpSender ({count} x {size:,} B)",
                      statistics.median(rates["dispatcher"]), "mails/s", baseline,
                      "aiosmtplib, one reused connection, pre-built emails",
                      target=f"ratio >= {EMAIL_TARGET_RATIO}"))
    report.add(Figure("  diagnostic: SmtpSender.send alone, no outbox",
                      statistics.median(rates["alone"]), "mails/s", baseline,
                      "aiosmtplib, one reused connection"))
