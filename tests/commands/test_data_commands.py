"""`purge` keeps the accounting record and drops what retention allows; re-sends store no
second copy of the bytes."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from support.pipeline import Harness, example

from gateway.commands.data import purge
from gateway.config import build_config
from gateway.ledger.verify import verify

OLD = datetime(2018, 3, 1, 15, tzinfo=UTC)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")


def test_purge_drops_old_records_but_not_the_ledger(harness: Harness, tmp_path: Path) -> None:
    """Old rejected payloads and old records of messages that left nothing in the ledger go;
    the posted declaration and its outcome stay; the ledger still verifies."""
    harness.submit(example("declaration-contract.xml"), at=OLD)
    harness.submit(example("invalid-dec001-declared-totals.xml"), at=OLD)
    harness.submit(example("invalid-dec007-cad-exchange-rate.xml"))
    harness.database.transaction_sync(lambda tx: tx.execute(
        "UPDATE outbox SET status = 'delivered'"))
    harness.close()
    config = build_config({"database": {"url": f"sqlite:///{tmp_path}/gateway.db"}})
    assert purge(config, date(2020, 1, 1)) == 0
    again = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    try:
        kinds = again.database.transaction_sync(lambda tx: tx.all(
            "SELECT message_id, payload IS NULL FROM inbox ORDER BY id"))
        assert kinds == [("BRK42-2026-000103", 0), ("BRK42-2026-000508", 0)]
        assert again.scalar("SELECT COUNT(*) FROM declarations") == 1
        assert again.database.transaction_sync(verify) == []
    finally:
        again.close()


def test_purge_prints_json(harness: Harness, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """`--json`: the cut-off and the count of each kind of record dropped."""
    harness.submit(example("invalid-dec001-declared-totals.xml"), at=OLD)
    harness.database.transaction_sync(lambda tx: tx.execute(
        "UPDATE outbox SET status = 'delivered'"))
    harness.close()
    capsys.readouterr()
    config = build_config({"database": {"url": f"sqlite:///{tmp_path}/gateway.db"}})
    assert purge(config, date(2020, 1, 1), as_json=True) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["before"] == "2020-01-01" and printed["purged"]["messages"] == 1


def test_a_resend_stores_no_second_copy(harness: Harness) -> None:
    """The bytes of a re-send are the original's: the journal keeps them once."""
    payload = example("declaration.xml")
    harness.submit(payload)
    harness.submit(payload)
    stored = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT role, payload IS NULL FROM inbox ORDER BY id"))
    assert stored == [("original", 0), ("resend", 1)]
    harness.close()


def test_backup_finishes_while_the_daemon_keeps_committing(harness: Harness,
                                                           tmp_path: Path) -> None:
    """A database of 10,000 pages (40 MB) is copied while another connection commits every
    5 ms, as a daemon under traffic does: the copy finishes, of one moment, and is whole
    (copied 1,024 pages a step, each commit restarted it, and it never finished)."""
    import sqlite3  # noqa: PLC0415
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    from gateway.commands.data import backup  # noqa: PLC0415

    harness.close()
    path = tmp_path / "gateway.db"
    with sqlite3.connect(path) as filler:
        filler.execute("PRAGMA journal_mode = WAL")  # as the daemon keeps it
        filler.execute("CREATE TABLE filler (data BLOB)")
        filler.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,)] * 10000)
    stop = threading.Event()

    def keep_committing() -> None:
        writer = sqlite3.connect(path, isolation_level=None)
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            writer.execute("INSERT INTO filler VALUES (x'00')")
            time.sleep(0.005)
        writer.close()

    writing = threading.Thread(target=keep_committing)
    writing.start()
    try:
        time.sleep(0.1)
        config = build_config({"database": {"url": f"sqlite:///{path}"}})
        started = time.monotonic()
        assert backup(config, tmp_path / "copy.db") == 0
        assert time.monotonic() - started < 20
        assert writing.is_alive(), "copied while the writer was still committing"
    finally:
        stop.set()
        writing.join(timeout=40)
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT COUNT(*) FROM filler").fetchone()[0] >= 10000
