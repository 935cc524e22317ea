"""End to end through a real mosquitto: the echo baseline and the daemon, measured alike.

A phase runs `load.py` (the publisher process) against whatever answers on the broker, reads
the answering process's CPU time when the measured interval starts and ends (`mark` lines),
and samples its memory meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from peers import Broker, Daemon, read_process, stop_daemon, write_config

BENCH = Path(__file__).resolve().parent
READY_TIMEOUT_S = 30.0
SAMPLE_EVERY_S = 0.5
SETTLE_POLL_S = 0.2


@dataclass
class PhaseResult:
    load: dict[str, Any]
    cpu_s: float
    peak_rss_bytes: int

    @property
    def rate(self) -> float:
        return float(self.load["rate_per_s"])

    @property
    def replies_in_window(self) -> float:
        return self.rate * float(self.load["measured_s"])

    @property
    def cpu_per_message_s(self) -> float:
        return self.cpu_s / max(1.0, self.replies_in_window)

    def latency_ms(self, which: str) -> float:
        return float(self.load["latency_ms"][which])


@dataclass
class Sampler:
    """Samples a process tree's resident memory (and, given a database, its backlog)."""

    pid: int
    database: Path | None = None
    samples: list[dict[str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        connection = None
        while not self._stop.is_set():
            sample: dict[str, float] = {"t": time.monotonic(),
                                        "rss": float(read_process(self.pid).rss_bytes)}
            if self.database is not None and self.database.exists():
                try:
                    connection = connection or sqlite3.connect(
                        f"file:{self.database}?mode=ro", uri=True, timeout=1)
                    sample.update(_backlog(connection))
                except sqlite3.Error:
                    connection = None
            self.samples.append(sample)
            self._stop.wait(SAMPLE_EVERY_S)
        if connection is not None:
            connection.close()

    @property
    def peak_rss_bytes(self) -> int:
        return int(max((sample["rss"] for sample in self.samples), default=0))


@dataclass(frozen=True)
class Settled:
    """What an earlier phase left the daemon to do, and how long working it off took."""

    waited_s: float
    journal_pending: float
    outbox_pending: float
    settled: bool

    def describe(self) -> str:
        left = (f"{self.journal_pending:,.0f} messages and {self.outbox_pending:,.0f} outbox "
                f"rows waiting")
        if not self.settled:
            return f"{left}, not worked off within {self.waited_s:.0f} s"
        return f"{left}, worked off in {self.waited_s:.1f} s"


def settle(database: Path, bound_s: float) -> Settled:
    """Wait, at most `bound_s`, until the daemon has nothing pending in its journal or its
    outbox: a phase that measures a given load starts from that load alone, not from the
    backlog of the phase before it (at full load the emails fall behind the answers, and
    working them off takes the same interpreter the next phase's messages need)."""
    started = time.monotonic()
    first: dict[str, float] | None = None
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True,
                                            timeout=1)) as connection:
        while True:
            backlog = _backlog(connection)
            first = first or backlog
            waited_s = time.monotonic() - started
            quiet = backlog["journal_pending"] == 0 and backlog["outbox_pending"] == 0
            if quiet or waited_s >= bound_s:
                return Settled(waited_s, first["journal_pending"], first["outbox_pending"],
                               quiet)
            time.sleep(SETTLE_POLL_S)


def _backlog(connection: sqlite3.Connection) -> dict[str, float]:
    journalled = connection.execute("SELECT COALESCE(MAX(id), 0) FROM inbox").fetchone()[0]
    pending = connection.execute(
        "SELECT COUNT(*) FROM inbox WHERE status = 'pending'").fetchone()[0]
    outbox = connection.execute(
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    return {"journalled": float(journalled), "journal_pending": float(pending),
            "outbox_pending": float(outbox)}


def run_load(broker: Broker, target_pid: int, *, options: list[str],
             database: Path | None = None, bound_s: float) -> tuple[PhaseResult, Sampler]:
    """One load phase against the process `target_pid`; bounded by `bound_s`."""
    command = [sys.executable, str(BENCH / "load.py"), "--port", str(broker.port), *options]
    os.sync()  # the previous phase's writes must not slow this one's commits
    cpu = {}
    with Sampler(target_pid, database) as sampler:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        deadline = time.monotonic() + bound_s
        result: dict[str, Any] | None = None
        for line in process.stdout:
            if line.startswith("mark "):
                cpu[line.split()[1]] = read_process(target_pid).cpu_s
            elif line.startswith("{"):
                result = json.loads(line)
            if time.monotonic() > deadline:
                process.kill()
                break
        process.wait(timeout=30)
    if result is None:
        raise RuntimeError(f"the load phase {options} gave no result (exit {process.returncode})")
    cpu_s = cpu.get("end", 0.0) - cpu.get("warm", 0.0)
    return PhaseResult(result, cpu_s, sampler.peak_rss_bytes), sampler


class Echo:
    """The echo client (bench/echo.py) as a process."""

    def __init__(self, broker: Broker, *, nagle: bool = False) -> None:
        command = [sys.executable, str(BENCH / "echo.py"), "--port", str(broker.port)]
        if nagle:
            command.append("--nagle")
        started = time.monotonic()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the echo client did not start")
        self.ready_s = time.monotonic() - started

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def echo_ready_s(broker: Broker, starts: int) -> float:
    times = []
    for _ in range(starts):
        echo = Echo(broker)
        times.append(echo.ready_s)
        echo.stop()
    return statistics.median(times)


def daemon_config(directory: Path, broker: Broker, partners_file: Path) -> Path:
    """The tests' daemon configuration: SQLite and the Maildir under `directory/state`."""
    return write_config(directory, mqtt_url=broker.url, partners=partners_file)


def _ready_timestamp(log: Path) -> float | None:
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if "gateway ready" not in line or not line.startswith("{"):
            continue
        try:
            stamp = json.loads(line).get("timestamp")
            return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
        except (ValueError, TypeError):
            return None
    return None


def start_daemon(config: Path, log: Path, *, nodelay: bool = False) -> tuple[Daemon, float]:
    """Start the daemon; seconds from process start to its `gateway ready` log line."""
    daemon = Daemon(config, log, program=(str(BENCH / "nodelay.py"),), directory=BENCH.parent) \
        if nodelay else Daemon(config, log)
    started = time.time()
    daemon.start()
    daemon.wait_ready(timeout_s=READY_TIMEOUT_S)
    seen = time.time()
    stamp = _ready_timestamp(log)
    return daemon, (stamp if stamp is not None else seen) - started


def daemon_ready_s(directory: Path, broker: Broker, partners_file: Path,
                   starts: int, grace_s: float) -> list[float]:
    config = daemon_config(directory, broker, partners_file)
    times = []
    for number in range(starts):
        daemon, ready_s = start_daemon(config, directory / f"start-{number}.log")
        times.append(ready_s)
        stop_daemon(daemon, grace_s)
    return times


def journal_times(log: Path, offset: int) -> list[float]:
    """Times of the daemon's `message journalled` events after byte `offset` of its log."""
    times = []
    with log.open("rb") as handle:
        handle.seek(offset)
        for line in handle:
            if b'"message journalled"' not in line:
                continue
            try:
                stamp = json.loads(line)["timestamp"]
                times.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
            except (ValueError, KeyError, TypeError):
                continue
    return sorted(times)


def journal_rate(times: list[float], count: int) -> float:
    """Messages journalled a second over a burst of `count` (or over what was journalled
    when the burst did not finish), from its first to its last journal commit: commits come
    in batches of up to 500, so only a burst of many batches gives a meaningful figure."""
    done = min(len(times), count)
    if done < 2 or times[done - 1] <= times[0]:
        return 0.0
    return (done - 1) / (times[done - 1] - times[0])
