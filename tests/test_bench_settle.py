"""The benchmark starts a phase from that phase's load alone: `settle` waits, within its
bound, until the daemon's journal and outbox hold nothing pending."""

import contextlib
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from end_to_end import settle  # noqa: E402

SETTLE_BOUND_S = 5.0


def backlog_database(path: Path, *, journal: int, outbox: int) -> Path:
    """The two tables `settle` reads, with `journal` and `outbox` rows pending."""
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE inbox (id INTEGER PRIMARY KEY, status TEXT)")
        connection.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, status TEXT)")
        connection.executemany("INSERT INTO inbox (status) VALUES (?)",
                               [("pending",)] * journal + [("done",)] * 3)
        connection.executemany("INSERT INTO outbox (status) VALUES (?)",
                               [("pending",)] * outbox + [("delivered",)] * 3)
    return path


def work_off(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE inbox SET status = 'done'")
        connection.execute("UPDATE outbox SET status = 'delivered'")


@pytest.mark.timeout(30)
def test_a_daemon_with_nothing_pending_is_settled_at_once(tmp_path: Path) -> None:
    settled = settle(backlog_database(tmp_path / "gateway.db", journal=0, outbox=0),
                     SETTLE_BOUND_S)
    assert settled.settled
    assert settled.waited_s < 1.0
    assert (settled.journal_pending, settled.outbox_pending) == (0, 0)


@pytest.mark.timeout(30)
def test_settle_waits_until_the_backlog_is_worked_off(tmp_path: Path) -> None:
    database = backlog_database(tmp_path / "gateway.db", journal=2, outbox=7)
    worker = threading.Timer(0.5, work_off, (database,))
    worker.start()
    try:
        settled = settle(database, SETTLE_BOUND_S)
    finally:
        worker.join()
    assert settled.settled
    assert 0.5 <= settled.waited_s < SETTLE_BOUND_S
    assert (settled.journal_pending, settled.outbox_pending) == (2, 7)
    assert "2 messages and 7 outbox rows waiting, worked off in" in settled.describe()


@pytest.mark.timeout(30)
def test_settle_gives_up_at_its_bound_and_says_so(tmp_path: Path) -> None:
    database = backlog_database(tmp_path / "gateway.db", journal=0, outbox=4)
    settled = settle(database, 0.5)
    assert not settled.settled
    assert 0.5 <= settled.waited_s < SETTLE_BOUND_S
    assert "4 outbox rows waiting, not worked off within" in settled.describe()
