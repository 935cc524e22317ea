"""The SQLite store's connection settings and what they keep off the disk."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.database import SqliteDatabase, Tx

FILLER_ROWS = 64
FILLER_BYTES = 4000
"""64 rows of about a page each: a savepoint that rewrites them all journals some 256 KiB of
original pages, well over SQLite's 64 KiB statement-journal spill."""


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SqliteDatabase]:
    opened = SqliteDatabase(tmp_path / "gateway.db")
    yield opened
    opened.close_sync()


def test_connection_settings(database: SqliteDatabase) -> None:
    """WAL, a disk flush at every commit, foreign keys, and temporary storage in memory."""
    def settings(tx: Tx) -> tuple[object, ...]:
        return tuple((tx.one(f"PRAGMA {name}") or (None,))[0]
                     for name in ("journal_mode", "synchronous", "foreign_keys", "temp_store"))

    assert database.transaction_sync(settings) == ("wal", 2, 1, 2)  # FULL; MEMORY


def _temporary_files() -> list[str]:
    """Files this process holds open that SQLite made as temporary (deleted on open)."""
    found = []
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_savepoint_journal_stays_in_memory(database: SqliteDatabase) -> None:
    """Processing wraps each message of a batch in a savepoint. Its journal of original pages
    spills to a temporary file past 64 KiB unless temp_store is MEMORY: a file created and
    deleted for nearly every message, none of it needed after a crash."""
    def fill(tx: Tx) -> None:
        tx.execute("CREATE TABLE filler (data BLOB)")
        for _ in range(FILLER_ROWS):
            tx.execute("INSERT INTO filler (data) VALUES (randomblob(?))", (FILLER_BYTES,))

    def rewrite_in_savepoint(tx: Tx) -> list[str]:
        tx.execute("SAVEPOINT message")
        tx.execute("UPDATE filler SET data = randomblob(?)", (FILLER_BYTES,))
        found = _temporary_files()
        tx.execute("ROLLBACK TO SAVEPOINT message")
        tx.execute("RELEASE SAVEPOINT message")
        return found

    def fingerprint(tx: Tx) -> object:
        return tx.one("SELECT COUNT(*), group_concat(hex(substr(data, 1, 8))) FROM filler")

    database.transaction_sync(fill)
    before = database.transaction_sync(fingerprint)
    assert database.transaction_sync(rewrite_in_savepoint) == []
    assert database.transaction_sync(fingerprint) == before  # the journal in memory restored it
