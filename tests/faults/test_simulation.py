"""A seeded simulation of the core: a fake broker that redelivers, duplicates and reorders,
database faults, crashes, an SMTP peer that fails, and a clock, all from one seed. It checks
the invariants and replays identically from its seed."""

import asyncio
import hashlib
import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import PROFILE, Run
from invariants import check
from traffic import traffic

from gateway.config import build_config
from gateway.delivery.dispatch import Dispatcher
from gateway.delivery.senders import PermanentFailure, TemporaryFailure
from gateway.partners import load_registry
from gateway.processing import Processor
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.store.database import Database, StoreUnavailable, Tx, open_database
from gateway.store.journal import Arrival, journal
from gateway.store.outbox import OutboxRow

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
MESSAGES = 600 if PROFILE == "short" else 3000
START = datetime(2026, 11, 23, 15, tzinfo=UTC)
STEPS_MAX = 50 * MESSAGES
SETTLE_ROUNDS_MAX = 5000


class FaultyDatabase:
    """The real database, failing transactions now and then (as a locked SQLite would)."""

    def __init__(self, inner: Database, rng: random.Random, probability: float) -> None:
        self.inner = inner
        self.rng = rng
        self.probability = probability
        self.dialect = inner.dialect

    async def transaction(self, work: Callable[[Tx], T]) -> T:
        return await self.submit(work)

    def submit(self, work: Callable[[Tx], T]) -> asyncio.Future[T]:
        if self.rng.random() < self.probability:
            failed: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            failed.set_exception(StoreUnavailable("injected: database is locked"))
            return failed
        return self.inner.submit(work)

    def transaction_sync(self, work: Callable[[Tx], T]) -> T:
        return self.inner.transaction_sync(work)

    async def close(self) -> None:
        await self.inner.close()

    def close_sync(self) -> None:
        self.inner.close_sync()


class FakeBroker:
    """Where answers are published; drops the link now and then."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.published = 0

    async def ready(self) -> None:
        return None

    async def send(self, row: OutboxRow) -> None:
        if self.rng.random() < 0.05:
            raise TemporaryFailure("injected: not connected")
        self.published += 1

    async def flush(self) -> None:
        return None


class FlakySmtp:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sent: list[str] = []

    async def ready(self) -> None:
        return None

    async def send(self, row: OutboxRow) -> None:
        if self.rng.random() < 0.15:
            raise TemporaryFailure("injected: 451 try again later")
        self.sent.append(row.header_message_id or "")

    async def flush(self) -> None:
        return None


@dataclass
class Delivery:
    index: int
    redelivery: bool


async def simulate(seed: int, directory: Path) -> tuple[str, list[str], str]:
    """Run one simulation; (database url, published message ids, digest of the outcome)."""
    rng = random.Random(seed)
    url = f"sqlite:///{directory}/gateway.db"
    config = build_config({
        "gateway": {"id": "sim", "state_directory": str(directory)},
        "database": {"url": url},
        "retries": {"attempts": 3, "backoff_s_max": 1},
    })
    registry = load_registry(REPO / "config" / "partners.toml")
    calendar = BusinessCalendar(config.calendar)
    clock = [START]
    messages = traffic(seed, MESSAGES)
    queue = [Delivery(i, False) for i in range(len(messages))]
    smtp = FlakySmtp(random.Random(seed + 1))
    answers = FakeBroker(random.Random(seed + 2))

    def open_all() -> tuple[FaultyDatabase, Processor, list[Dispatcher]]:
        database = FaultyDatabase(open_database(url), random.Random(rng.random()), 0.05)
        processor = Processor(database, config, lambda: registry, calendar, lambda: clock[0])
        dispatchers = [
            Dispatcher(database, channel, sender, attempts=6, backoff_s_max=1,  # type: ignore[arg-type]
                       now=lambda: clock[0], temporary=TemporaryFailure,
                       permanent=PermanentFailure, instance="sim")
            for channel, sender in (("mqtt", answers), ("email", smtp))
        ]
        return database, processor, dispatchers

    def deadline(kind: Any, received: datetime) -> datetime:
        return respond_by(calendar, config.standards.for_kind(kind), received)

    database, processor, dispatchers = open_all()
    steps = 0
    while queue and steps < STEPS_MAX:
        steps += 1
        clock[0] += timedelta(seconds=rng.uniform(0.1, 5))
        window = min(len(queue), 4)
        delivery = queue.pop(rng.randrange(window))  # reorders within the in-flight window
        message = messages[delivery.index]
        arrival = Arrival("BRK42", "carm/v1/in/BRK42", message.payload, clock[0],
                          broker_redelivery=delivery.redelivery)
        try:
            await database.transaction(lambda tx, a=arrival: journal(  # type: ignore[misc]
                tx, a, instance="sim", max_payload_bytes=1_048_576, respond_by=deadline))
        except StoreUnavailable:
            queue.insert(0, Delivery(delivery.index, True))  # no PUBACK: redelivered
            continue
        roll = rng.random()
        if roll < 0.03:  # crash after the commit, before the PUBACK
            queue.insert(0, Delivery(delivery.index, True))
            await database.close()
            database, processor, dispatchers = open_all()
            continue
        if roll < 0.06:  # the publisher sends the same bytes again
            queue.append(Delivery(delivery.index, False))
        if rng.random() < 0.3:
            await _settle_a_little(processor, dispatchers, clock)
    database.probability = 0.0
    await _replay_dead_letters(database)
    for _ in range(SETTLE_ROUNDS_MAX):
        await _settle_a_little(processor, dispatchers, clock)
        if not await database.transaction(_pending_anywhere):
            break
    await database.close()
    return url, [m.message_id for m in messages], digest(url)


async def _settle_a_little(processor: Processor, dispatchers: list[Dispatcher],
                           clock: list[datetime]) -> None:
    try:
        while await processor.run_pending():
            pass
        clock[0] += timedelta(seconds=30)
        for dispatcher in dispatchers:
            await dispatcher.drain_once()
    except* StoreUnavailable:
        pass


def _pending_anywhere(tx: Tx) -> int:
    journal = tx.one("SELECT COUNT(*) FROM inbox WHERE status = 'pending'")
    outbox = tx.one("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    return (int(journal[0]) if journal else 0) + (int(outbox[0]) if outbox else 0)


async def _replay_dead_letters(database: FaultyDatabase) -> None:
    await database.transaction(lambda tx: tx.execute(
        "UPDATE inbox SET status = 'pending' WHERE status = 'deferred'"))


def digest(url: str) -> str:
    """What the simulation ended with, independent of timing: outcomes, balances, entries."""
    database = open_database(url)
    try:
        state = database.transaction_sync(lambda tx: {
            "outcomes": tx.all(
                "SELECT i.message_id, i.role, o.status, o.acknowledgement_id, o.reference"
                " FROM inbox i JOIN outcomes o ON o.inbox_id = i.id AND o.superseded = 0"
                " ORDER BY i.id"),
            "balances": tx.all("SELECT item, amount_cents FROM balances ORDER BY item"),
            "entries": tx.all("SELECT entry_type, reference FROM ledger_entries ORDER BY id"),
        })
    finally:
        database.close_sync()
    return hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()


SEEDS = [5, 8] if PROFILE == "short" else list(range(1, 11))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_simulation_holds_and_replays_from_its_seed(seed: int, report: list[Run]) -> None:
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        url, published, state = asyncio.run(simulate(seed, Path(first)))
        findings = check(url, published)
        _, _, again = asyncio.run(simulate(seed, Path(second)))
    report.append(Run("seeded simulation (drops, dups, reorders, crashes, db and smtp faults)",
                      seed, len(published), findings.held and state == again,
                      findings.summary() if state == again else "replay differs"))
    assert findings.held, findings.summary()
    assert state == again, f"the same seed must give the same end state ({state} {again})"
