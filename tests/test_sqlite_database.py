"""The SQLite store's connection settings and what they keep off the disk."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.descriptors import open_targets
from support.peers import write_config

from gateway.config import load_config
from gateway.daemon import Gateway
from gateway.partners import load_registry
from gateway.store.database import SqliteDatabase, StoreUnavailable, Tx, open_database

FILLER_ROWS = 64
FILLER_BYTES = 4000
"""64 rows of about a page each: a savepoint that rewrites them all journals some 256 KiB of
original pages, well over SQLite's 64 KiB statement-journal spill."""


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SqliteDatabase]:
    """Opened as the daemon opens it."""
    opened = SqliteDatabase(tmp_path / "gateway.db", temporary_in_memory=True)
    yield opened
    opened.close_sync()


def _settings(tx: Tx) -> tuple[object, ...]:
    return tuple((tx.one(f"PRAGMA {name}") or (None,))[0]
                 for name in ("journal_mode", "synchronous", "foreign_keys", "temp_store"))


def test_connection_settings(database: SqliteDatabase, tmp_path: Path) -> None:
    """WAL, a disk flush at every commit and foreign keys; temporary storage in memory for the
    daemon, in files (the default) for commands, whose whole-table sorts would fill memory."""
    assert database.transaction_sync(_settings) == ("wal", 2, 1, 2)  # FULL; MEMORY
    command = open_database(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        assert command.transaction_sync(_settings) == ("wal", 2, 1, 0)  # DEFAULT
    finally:
        command.close_sync()


def _temporary_files() -> list[str]:
    """Files this process holds open that SQLite made as temporary (deleted on open)."""
    return [target for target in open_targets() if "etilqs_" in target]


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


def test_the_daemon_keeps_temporary_storage_in_memory(tmp_path: Path) -> None:
    config = load_config(str(write_config(tmp_path, mqtt_url="mqtt://127.0.0.1:1")))
    gateway = Gateway(config, load_registry(config.partners_file))
    try:
        assert gateway.database.transaction_sync(_settings)[3] == 2  # MEMORY
    finally:
        gateway.database.close_sync()


def test_a_read_takes_no_write_lock(database: SqliteDatabase, tmp_path: Path) -> None:
    """A command's query (`read_sync`) holds only a read snapshot: the daemon's writes commit
    meanwhile, with no busy wait; the same query in a write transaction would block them."""
    import sqlite3  # noqa: PLC0415

    writer = sqlite3.connect(database.path, isolation_level=None, timeout=0)

    def write_once() -> None:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO counters (name, value) VALUES (?, 1)", (str(time.time()),))
        writer.execute("COMMIT")

    def while_reading(tx: Tx) -> int:
        write_once()  # another connection commits in the middle of the read
        row = tx.one("SELECT COUNT(*) FROM counters")
        return int(row[0]) if row else -1

    try:
        before = database.read_sync(lambda tx: tx.one("SELECT COUNT(*) FROM counters"))
        assert before is not None
        assert database.read_sync(while_reading) >= int(before[0])
        with pytest.raises(StoreUnavailable, match="locked"):
            database.transaction_sync(while_reading)
    finally:
        writer.close()
