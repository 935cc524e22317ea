"""The database interface: transactions run as plain functions on one thread per database.

Repository code is synchronous and takes a `Tx`; the event loop hands whole transactions to the
database's own thread, so there is one thread hop per transaction, not per statement (DESIGN.md:
batch, and do not put a thread hop on every statement). SQL is written once with `?`
placeholders; the PostgreSQL adapter rewrites them.
"""

import asyncio
import concurrent.futures
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
SCHEMA_VERSION = 1
Row = tuple[Any, ...]


class StoreUnavailable(Exception):
    """A transient storage failure (locked, connection lost): retried, then dead-lettered."""


class Tx(Protocol):
    """One open transaction."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT ending in `RETURNING id` and give the new id."""
        ...

    def lock_account(self, account: str) -> None:
        """Serialize writers of one importer account (a no-op where writers are serial)."""
        ...


class Database(Protocol):
    dialect: str

    async def transaction(self, work: Callable[[Tx], T]) -> T: ...

    def submit(self, work: Callable[[Tx], T]) -> asyncio.Future[T]:
        """Start `transaction(work)` now: it runs after the jobs submitted before it and
        before those submitted after it (one database thread), whenever it is awaited."""
        ...

    def transaction_sync(self, work: Callable[[Tx], T]) -> T: ...

    def read_sync(self, work: Callable[[Tx], T]) -> T:
        """`work` in a transaction that only reads and is rolled back: a command's query takes
        no write lock, so the running daemon's commits do not wait for it."""
        ...

    async def close(self) -> None: ...

    def close_sync(self) -> None:
        """Close from outside an event loop (commands)."""
        ...


def _schema_sql(dialect: str) -> str:
    name = f"schema_{dialect}.sql"
    try:
        return resources.files("gateway.store").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return (Path(__file__).parent / name).read_text(encoding="utf-8")


class _SqliteTx:
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._connection.execute(sql, tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._connection.execute(sql, tuple(params)).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self._connection.execute(sql, tuple(params)).fetchall())

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self._connection.execute(sql, tuple(params)).fetchone()
        return int(row[0])

    def lock_account(self, account: str) -> None:
        """BEGIN IMMEDIATE already holds the database's one write lock."""


class SqliteDatabase:
    """SQLite in WAL mode with synchronous=FULL, owned by one thread.

    `temporary_in_memory` is for the daemon: each message of a processing batch runs in a
    savepoint, whose journal of original pages passes SQLite's 64 KiB spill and otherwise
    becomes a temporary file, created and deleted for each message (crash recovery never reads
    it). Commands keep temporary files: their sorts and groupings over whole tables would be
    held in memory (a GROUP BY of 2 million rows: 139 MB against 18 MB)."""

    dialect = "sqlite"

    def __init__(self, path: Path, busy_timeout_ms: int = 5000, *,
                 temporary_in_memory: bool = False) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._temporary_in_memory = temporary_in_memory
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self.transaction_sync(_create_schema)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fresh = not self.path.exists()
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
            if fresh:
                os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            if self._temporary_in_memory:
                connection.execute("PRAGMA temp_store = MEMORY")
            self._local.connection = connection
            self._connections.append(connection)
        return connection

    def transaction_sync(self, work: Callable[[Tx], T]) -> T:
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"sqlite: {error}") from error
        try:
            result = work(_SqliteTx(connection))
            connection.execute("COMMIT")
        except sqlite3.OperationalError as error:
            connection.execute("ROLLBACK")
            raise StoreUnavailable(f"sqlite: {error}") from error
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return result

    def read_sync(self, work: Callable[[Tx], T]) -> T:
        connection = self._connection()
        try:
            connection.execute("BEGIN")  # deferred: a read lock on the WAL snapshot only
            return work(_SqliteTx(connection))
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"sqlite: {error}") from error
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")

    async def transaction(self, work: Callable[[Tx], T]) -> T:
        return await self.submit(work)

    def submit(self, work: Callable[[Tx], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, self.transaction_sync, work)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """Wait for running transactions, then close every connection (created with
        check_same_thread=False, so any thread may close them)."""
        self._executor.shutdown(wait=True)
        self._close_connections()

    def _close_connections(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()


def _create_schema(tx: Tx) -> None:
    for statement in _schema_sql(tx.dialect).split(";"):
        if statement.strip():
            tx.execute(statement)
    row = tx.one("SELECT version FROM schema_version")
    if row is None:
        tx.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    elif row[0] != SCHEMA_VERSION:
        raise RuntimeError(f"database schema version {row[0]}, this gateway needs {SCHEMA_VERSION}")


def open_database(url: str, *, temporary_in_memory: bool = False) -> Database:
    """SQLite for `sqlite:///PATH`, PostgreSQL for `postgresql://...`; `temporary_in_memory`
    (the daemon's) applies to SQLite (see SqliteDatabase)."""
    if url.startswith("sqlite:///"):
        return SqliteDatabase(Path(url.removeprefix("sqlite:///")),
                              temporary_in_memory=temporary_in_memory)
    from gateway.store.postgres import PostgresDatabase  # noqa: PLC0415 (only when used)

    return PostgresDatabase(url)
