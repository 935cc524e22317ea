"""The journal when commits race or their replies are lost. Gateways sharing a PostgreSQL
subscription can journal the same message key at the same moment (a partner's re-send lands on
another instance before the first commits): the second becomes a re-send of the first, not an
error that stops its daemon. A commit whose reply was lost is not journalled twice."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.pipeline import declaration

from gateway.store.database import Tx
from gateway.store.journal import Arrival, Journalled, journal
from gateway.store.postgres import PostgresDatabase

RECEIVED = datetime(2026, 11, 23, 19, 5, tzinfo=UTC)
WAIT_S = 10.0


def _journal(tx: Tx, arrival: Arrival, instance: str) -> Journalled:
    return journal(tx, arrival, instance=instance, max_payload_bytes=1_048_576,
                   respond_by=lambda _kind, received: received)


@pytest.mark.postgres
def test_two_instances_journalling_one_key_at_once(postgres_url: str) -> None:
    first, second = PostgresDatabase(postgres_url), PostgresDatabase(postgres_url)
    arrival = Arrival("BRK42", "carm/v1/in/BRK42", declaration(message_id="race-1"), RECEIVED)
    inserted, release = threading.Event(), threading.Event()
    results: dict[str, Journalled] = {}

    def held_open(tx: Tx) -> Journalled:
        journalled = _journal(tx, arrival, "gw1")
        inserted.set()
        release.wait(WAIT_S)  # the second instance inserts while this one is uncommitted
        return journalled

    thread = threading.Thread(
        target=lambda: results.setdefault("gw1", first.transaction_sync(held_open)))
    thread.start()
    try:
        assert inserted.wait(WAIT_S)
        threading.Timer(0.5, release.set).start()
        results["gw2"] = second.transaction_sync(lambda tx: _journal(tx, arrival, "gw2"))
    finally:
        release.set()
        thread.join(WAIT_S)
        first.close_sync()
        second.close_sync()
    assert results["gw1"].role == "original"
    assert results["gw2"].role == "resend"


def test_a_journal_commit_whose_reply_is_lost_is_not_journalled_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal commit reached the database but its reply was lost (StoreUnavailable after
    COMMIT): the retry finds the arrival's row instead of filing the same publish again as a
    re-send, which would be answered a second time with DUP001."""
    import asyncio  # noqa: PLC0415

    from support.pipeline import Harness, lose_the_first_commit_reply  # noqa: PLC0415

    from gateway.journal_writer import JournalWriter  # noqa: PLC0415

    harness = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    lose_the_first_commit_reply(harness.database, monkeypatch)
    writer = JournalWriter(harness.database, harness.config, harness.processor.calendar,
                           lambda: harness.config.standards, asyncio.Event())
    arrival = Arrival("BRK42", "carm/v1/in/BRK42", declaration(message_id="lost-1"), RECEIVED)
    try:
        [journalled] = asyncio.run(writer._commit([arrival]))
        assert journalled.role == "original"
        assert harness.scalar("SELECT COUNT(*) FROM inbox") == 1
    finally:
        harness.close()


def test_a_retried_journal_commit_looks_along_indexes(tmp_path: Path) -> None:
    """After a failed commit every arrival of the batch is looked for again: each query of a
    retried journal goes along an index (the original's unique key, the index of its copies),
    never through the whole journal."""
    from datetime import timedelta  # noqa: PLC0415

    from gateway.store.database import SqliteDatabase  # noqa: PLC0415

    database = SqliteDatabase(tmp_path / "gateway.db")
    payload = declaration(message_id="indexed-1")
    first = Arrival("BRK42", "carm/v1/in/BRK42", payload, RECEIVED)
    again = Arrival("BRK42", "carm/v1/in/BRK42", payload, RECEIVED + timedelta(seconds=1))
    statements: list[str] = []

    def retried(tx: Tx) -> Journalled:
        connection = tx._connection  # type: ignore[attr-defined]
        connection.set_trace_callback(statements.append)
        try:
            return journal(tx, again, instance="gw1", max_payload_bytes=1_048_576,
                           respond_by=lambda _kind, received: received, retrying=True)
        finally:
            connection.set_trace_callback(None)

    try:
        database.transaction_sync(lambda tx: _journal(tx, first, "gw1"))
        assert database.transaction_sync(retried).role == "resend"
        plans = database.transaction_sync(lambda tx: [
            str(row[3]) for statement in statements if statement.startswith("SELECT")
            for row in tx.all("EXPLAIN QUERY PLAN " + statement)])
    finally:
        database.close_sync()
    assert plans and not [plan for plan in plans if plan.startswith("SCAN")], plans
