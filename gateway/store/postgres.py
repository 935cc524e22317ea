"""PostgreSQL through psycopg 3, behind the same transaction interface as SQLite."""

import asyncio
import concurrent.futures
import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors

from gateway.store.database import Row, StoreUnavailable, _create_schema

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\?")
_SCHEMA_LOCK_KEY = 0x43_41_52_4D  # "CARM": one instance creates the schema at a time


def _translate(sql: str) -> str:
    """`?` placeholders to psycopg's `%s`; a literal `%` (LIKE patterns) doubled."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class _PostgresTx:
    dialect = "postgresql"

    def __init__(self, connection: psycopg.Connection[Row]) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._connection.execute(_translate(sql), tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self._connection.execute(_translate(sql), tuple(params)).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._connection.execute(_translate(sql), tuple(params)).fetchall()

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.one(sql, params)
        if row is None:
            raise RuntimeError("INSERT ... RETURNING gave no row")
        return int(row[0])

    def lock_account(self, account: str) -> None:
        self._connection.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (account,)
        )


class PostgresDatabase:
    """One connection owned by one thread; serialization failures are transient."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="postgres")
        self._connection: psycopg.Connection[Row] | None = None
        try:
            self.transaction_sync(self._create_schema_locked)
        except BaseException:
            self.close_sync()
            raise

    def _create_schema_locked(self, tx: Any) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK_KEY,))
        _create_schema(tx)

    def _connect(self) -> psycopg.Connection[Row]:
        if self._connection is None or self._connection.closed:
            try:
                self._connection = psycopg.connect(self.url, autocommit=False)
            except psycopg.OperationalError as error:
                raise StoreUnavailable(f"postgresql: {error}") from error
        return self._connection

    def transaction_sync(self, work: Callable[[Any], T]) -> T:
        connection = self._connect()
        try:
            with connection.transaction():
                return work(_PostgresTx(connection))
        except (errors.SerializationFailure, errors.DeadlockDetected) as error:
            raise StoreUnavailable(f"postgresql: {error}") from error
        except psycopg.OperationalError as error:
            self._drop_connection()
            raise StoreUnavailable(f"postgresql: {error}") from error

    def read_sync(self, work: Callable[[Any], T]) -> T:
        connection = self._connect()
        try:
            with connection.transaction(force_rollback=True):
                return work(_PostgresTx(connection))
        except (errors.SerializationFailure, errors.DeadlockDetected) as error:
            raise StoreUnavailable(f"postgresql: {error}") from error
        except psycopg.OperationalError as error:
            self._drop_connection()
            raise StoreUnavailable(f"postgresql: {error}") from error

    def _drop_connection(self) -> None:
        """Forget a broken connection, closing it first (the next transaction reconnects)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()

    async def transaction(self, work: Callable[[Any], T]) -> T:
        return await self.submit(work)

    def submit(self, work: Callable[[Any], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, self.transaction_sync, work)

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._executor.shutdown(wait=True)
