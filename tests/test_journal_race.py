"""Gateways sharing a PostgreSQL subscription can journal the same message key at the same
moment (a partner's re-send lands on another instance before the first commits): the second
becomes a re-send of the first, not an error that stops its daemon."""

import threading
from datetime import UTC, datetime

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
