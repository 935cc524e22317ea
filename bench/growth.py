"""Growth: the cost of one message with a small and with a large history in the database.

Two SQLite databases in the gateway's schema are pre-filled, fast (executemany, one
transaction, synchronous off while filling), with a history of N prior ledger entries: about
half assessments of declarations (declaration row, entry, four legs, a balance per
transaction), half payments settling the oldest debt of the same account (payment row, entry,
two legs), each with its journalled message (payload not kept) and its outcome. About 1 % of
the transactions are still owed, as after a statement run. The same traffic is then journalled
and processed by `gateway.processing.Processor` directly (no broker, no daemon: only the
database differs), and the periodic queries of the daemon (heartbeat counts, escalation scan)
are timed on both.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import Figure, Report
from traffic import Message, Partners, Traffic

from gateway.config import Config, build_config
from gateway.identifiers import luhn_check_digit
from gateway.observability import counts
from gateway.partners import load_registry
from gateway.processing import Processor
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.standards.escalation import Escalator
from gateway.store.database import SqliteDatabase, open_database
from gateway.store.journal import Arrival, journal

INSTANCE = "gw1"
CHUNK_ROWS = 50_000
JOURNAL_BATCH = 500
ROUNDS = 5
GROWTH_TARGET_RATIO = 1.2
OPEN_SHARE = 0.01
"""Share of the history's transactions still owed (the rest were paid)."""


@dataclass(frozen=True)
class Sizes:
    small: int
    large: int
    messages: int


Rows = dict[str, list[tuple[Any, ...]]]


def _history(partners: Partners, entries: int, seed: int) -> Iterator[Rows]:
    """Rows of `entries` prior ledger entries, in chunks, table by table."""
    rng = random.Random(f"history-{seed}-{entries}")
    start = datetime.now(UTC) - timedelta(days=730)
    step = timedelta(days=700) / max(1, entries)
    unpaid: dict[str, deque[tuple[str, int]]] = {number: deque() for number in partners.accounts}
    senders_of = {number: [s.id for s in partners.senders if number in s.accounts]
                  for number in partners.accounts}
    chunk: dict[str, list[tuple[Any, ...]]] = {}
    balances: dict[tuple[str, str], list[Any]] = {}
    for index in range(1, entries + 1):
        account = partners.accounts[index % len(partners.accounts)]
        sender = (senders_of[account] or [partners.senders[0].id])[0]
        when = start + step * index
        posted = when.isoformat()
        day = when.date().isoformat()
        period = when.strftime("%Y-%m")
        pay = unpaid[account] and rng.random() < 0.5 - OPEN_SHARE / 2
        kind = "payment" if pay else "declaration"
        key = f"{sender}-H-{index:09d}"
        add = chunk.setdefault
        add("inbox", []).append((
            index, sender, key, key, f"{index:064x}", "original", kind, "xml", 4000,
            f"carm/v1/in/{sender}", posted, posted, posted, "done", INSTANCE))
        add("outcomes", []).append((
            index, index, f"{INSTANCE}-{index:012d}", "accepted", kind, key, "{}", posted))
        if pay:
            transaction, cents = unpaid[account].popleft()
            reference = f"HPAY-{index:09d}"
            add("payments", []).append((account, reference, index, cents, "EFT", day))
            add("entries", []).append((index, account, "payment", reference, index, period,
                                       None, day, posted))
            add("legs", []).extend([(index, "cash", account, reference, cents),
                                    (index, "receivable", account, transaction, -cents)])
            balances[(account, transaction)][4] = 0
        else:
            body = f"9{index:012d}"
            transaction = body + luhn_check_digit(body)
            duty = rng.randrange(0, 200_000)
            excise = rng.choice((0, 0, 0, rng.randrange(0, 20_000)))
            gst = rng.randrange(100, 100_000)
            total = duty + excise + gst
            add("declarations", []).append((
                transaction, 1, account, day, "original", index, duty, excise, gst, total,
                period, day, "{}", posted))
            add("entries", []).append((index, account, "assessment", f"{transaction}/1", index,
                                       period, day, day, posted))
            add("legs", []).extend([
                (index, "receivable", account, transaction, total),
                (index, "revenue:duty", account, transaction, -duty),
                (index, "revenue:excise", account, transaction, -excise),
                (index, "revenue:gst", account, transaction, -gst)])
            balances[(account, transaction)] = [account, transaction, day, posted, total]
            unpaid[account].append((transaction, total))
        if index % CHUNK_ROWS == 0:
            yield chunk
            chunk = {}
    chunk["balances"] = [tuple(row) for row in balances.values()]
    yield chunk


_INSERTS = {
    "inbox": "INSERT INTO inbox (id, sender, message_key, message_id, content_hash, role, kind,"
             " syntax, payload_bytes, topic, received_at, respond_by, clock_stopped_at, status,"
             " instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "outcomes": "INSERT INTO outcomes (id, inbox_id, acknowledgement_id, status, kind,"
                " reference, facts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "payments": "INSERT INTO payments (importer_account, payment_reference, inbox_id,"
                " amount_cents, method, received_on) VALUES (?, ?, ?, ?, ?, ?)",
    "declarations": "INSERT INTO declarations (transaction_number, version, importer_account,"
                    " release_date, purpose, inbox_id, duty_cents, excise_cents, gst_cents,"
                    " total_cents, period, due_date, lines, posted_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "entries": "INSERT INTO ledger_entries (id, importer_account, entry_type, reference,"
               " inbox_id, period, due_date, effective_on, posted_at)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "legs": "INSERT INTO ledger_legs (entry_id, book, importer_account, item, amount_cents)"
            " VALUES (?, ?, ?, ?, ?)",
    "balances": "INSERT INTO balances (importer_account, item, due_date, posted_at,"
                " amount_cents) VALUES (?, ?, ?, ?, ?)",
}


def prefill(path: Path, partners: Partners, entries: int, seed: int) -> float:
    """Create the database in the gateway's schema and write the history; seconds taken."""
    started = time.perf_counter()
    SqliteDatabase(path).close_sync()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -262144")
    connection.execute("BEGIN")
    for chunk in _history(partners, entries, seed):
        for table, rows in chunk.items():
            connection.executemany(_INSERTS[table], rows)
    connection.execute("INSERT INTO counters (name, value) VALUES (?, ?)",
                       (f"acknowledgement:{INSTANCE}", entries))
    tables = {row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "account_totals" in tables:  # the running total per account the schema keeps
        connection.execute(
            "INSERT INTO account_totals (importer_account, amount_cents)"
            " SELECT importer_account, SUM(amount_cents) FROM balances GROUP BY importer_account")
    connection.execute("COMMIT")
    connection.close()
    return time.perf_counter() - started


def _config(path: Path, partners_file: Path) -> Config:
    return build_config({
        "gateway": {"id": INSTANCE, "state_directory": str(path.parent)},
        "database": {"url": f"sqlite:///{path}"},
        "partners": {"file": str(partners_file)},
        "retries": {"attempts": 3, "backoff_s_max": 1},
    })


class _TimedDatabase:
    """Adds up the time the database thread spends in transactions (commit included)."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.inner = database
        self.spent_s = 0.0
        original = database.transaction_sync

        def timed(work: Callable[[Any], Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(work)
            finally:
                self.spent_s += time.perf_counter() - started

        database.transaction_sync = timed  # type: ignore[method-assign]


@dataclass
class Measured:
    journal_s: float = 0.0
    process_s: float = 0.0
    database_s: float = 0.0
    heartbeat_s: float = 0.0
    escalation_s: float = 0.0


def _median_s(work: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Subject:
    """One database and a `Processor` on it; `run` journals and processes messages and adds
    up the time each part took."""

    def __init__(self, path: Path, partners_file: Path) -> None:
        self.config = _config(path, partners_file)
        self.registry = load_registry(partners_file)
        self.calendar = BusinessCalendar(self.config.calendar)
        database = open_database(self.config.database_url, temporary_in_memory=True)
        assert isinstance(database, SqliteDatabase)
        self.database = database
        self.timed = _TimedDatabase(database)
        self.processor = Processor(database, self.config, lambda: self.registry, self.calendar,
                                   lambda: datetime.now(UTC))
        self.measured = Measured()

    def _deadline(self, kind: Any, received: datetime) -> datetime:
        return respond_by(self.calendar, self.config.standards.for_kind(kind), received)

    def run(self, batch: list[Message]) -> None:
        os.sync()  # what was written before must not slow these commits
        started = time.perf_counter()
        for first in range(0, len(batch), JOURNAL_BATCH):
            arrivals = [Arrival(m.sender, f"carm/v1/in/{m.sender}", m.payload,
                                datetime.now(UTC)) for m in batch[first:first + JOURNAL_BATCH]]
            self.database.transaction_sync(lambda tx, arrivals=arrivals: [
                journal(tx, arrival, instance=INSTANCE, max_payload_bytes=1_048_576,
                        respond_by=self._deadline) for arrival in arrivals])
        self.measured.journal_s += time.perf_counter() - started

        async def process_all() -> None:
            while await self.processor.run_pending():
                pass

        self.timed.spent_s = 0.0
        started = time.perf_counter()
        asyncio.run(process_all())
        self.measured.process_s += time.perf_counter() - started
        self.measured.database_s += self.timed.spent_s

    def periodic_queries(self) -> None:
        escalator = Escalator(self.config, self.calendar)
        self.measured.heartbeat_s = _median_s(lambda: self.database.transaction_sync(
            lambda tx: counts(tx, INSTANCE)))
        self.measured.escalation_s = _median_s(lambda: self.database.transaction_sync(
            lambda tx: escalator.escalate(tx, datetime.now(UTC))))

    def close(self) -> None:
        self.database.close_sync()


def measure(path: Path, partners: Partners, partners_file: Path, messages: int,
            seed: int) -> Measured:
    """One database on its own, the messages in one go (bench/whatif.py)."""
    subject = Subject(path, partners_file)
    try:
        subject.run(Traffic(partners, seed=seed, stream=60, mix="realistic").take(messages))
        subject.periodic_queries()
    finally:
        subject.close()
    return subject.measured


def run_growth_benchmark(report: Report, partners: Partners, partners_file: Path,
                         sizes: Sizes, directory: Path, seed: int) -> None:
    """Both histories are written first; then the messages go in ROUNDS chunks, each to
    both databases, in the order small, large, large, small, ... so that a slow spell of
    this shared machine falls on both sides rather than on one."""
    warm = directory / "history-warm-up.db"
    prefill(warm, partners, 100, seed)
    measure(warm, partners, partners_file, min(50, sizes.messages), seed + 1)
    subjects: dict[int, Subject] = {}
    for entries in (sizes.small, sizes.large):
        path = directory / f"history-{entries}.db"
        fill_s = prefill(path, partners, entries, seed)
        report.note(f"growth: {entries:,} prior entries written in {fill_s:.1f} s "
                    f"({path.stat().st_size / 1e6:,.0f} MB)")
        subjects[entries] = Subject(path, partners_file)
    batch = Traffic(partners, seed=seed, stream=60, mix="realistic").take(sizes.messages)
    step = max(1, -(-len(batch) // ROUNDS))
    order = [subjects[sizes.small], subjects[sizes.large]]
    try:
        for first in range(0, len(batch), step):
            for subject in order:
                subject.run(batch[first:first + step])
            order.reverse()
        for subject in subjects.values():
            subject.periodic_queries()
    finally:
        for subject in subjects.values():
            subject.close()
    results = {entries: subject.measured for entries, subject in subjects.items()}
    small, large = results[sizes.small], results[sizes.large]
    per = sizes.messages
    label = f"{sizes.large:,} vs {sizes.small:,} prior entries"
    report.add(Figure(f"processing per message, {label}", large.process_s / per * 1e3, "ms",
                      small.process_s / per * 1e3,
                      f"the same {per} messages with {sizes.small:,} prior entries",
                      target=f"ratio <= {GROWTH_TARGET_RATIO}"))
    report.add(Figure("  of which database thread per message", large.database_s / per * 1e3,
                      "ms", small.database_s / per * 1e3, f"{sizes.small:,} prior entries"))
    report.add(Figure(f"journal per message (batches of {min(step, JOURNAL_BATCH)})",
                      large.journal_s / per * 1e3, "ms",
                      small.journal_s / per * 1e3, f"{sizes.small:,} prior entries"))
    report.add(Figure("heartbeat counts() query (every 5 s)", large.heartbeat_s * 1e3, "ms",
                      small.heartbeat_s * 1e3, f"{sizes.small:,} prior entries"))
    report.add(Figure("escalation scan (every interval)", large.escalation_s * 1e3, "ms",
                      small.escalation_s * 1e3, f"{sizes.small:,} prior entries"))
