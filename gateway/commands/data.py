"""`carm-gateway backup DEST` and `carm-gateway purge [--before DATE]`."""

import json
import os
import sqlite3
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gateway.commands import EXIT_OK, UsageError
from gateway.commands.ledger import open_existing_database
from gateway.config import Config
from gateway.store.database import Tx

BACKUP_ALL_PAGES = -1
"""The whole database in one step, under one read transaction: in WAL mode the daemon keeps
writing meanwhile, and the copy is of one moment. Copied in steps, every commit of the daemon
between two steps would start the copy again, and under traffic it never ends."""


def backup(config: Config, destination: Path) -> int:
    """A consistent copy of the SQLite database while the daemon runs (SQLite's online
    backup); PostgreSQL has its own tools."""
    url = config.database_url
    if not url.startswith("sqlite:///"):
        raise UsageError("backup copies SQLite databases; for PostgreSQL use pg_dump or "
                         "pg_basebackup")
    source_path = Path(url.removeprefix("sqlite:///"))
    if not source_path.exists():
        raise UsageError(f"no database at {source_path}")
    if destination.exists():
        raise UsageError(f"{destination} exists; give a new file")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        target = sqlite3.connect(destination)
        os.chmod(destination, stat.S_IRUSR | stat.S_IWUSR)
        try:
            source.backup(target, pages=BACKUP_ALL_PAGES)
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    except sqlite3.Error as error:
        raise UsageError(f"backup failed: {error}") from None
    finally:
        source.close()
    print(f"backup written to {destination} ({destination.stat().st_size} bytes)")
    return EXIT_OK


def _purge(tx: Tx, cutoff: datetime) -> dict[str, int]:
    """Records of messages received before `cutoff`; what the ledger needs stays."""
    stamp = cutoff.isoformat()
    old = "SELECT id FROM inbox WHERE received_at < ? AND status <> 'pending'"
    counts = {}
    rows = tx.all(
        "UPDATE inbox SET payload = NULL WHERE received_at < ? AND payload IS NOT NULL AND id IN"
        " (SELECT inbox_id FROM outcomes WHERE status = 'rejected' AND superseded = 0)"
        " RETURNING id", (stamp,))
    counts["rejected payloads dropped"] = len(rows)
    kept = ("id NOT IN (SELECT inbox_id FROM declarations) AND id NOT IN (SELECT inbox_id"
            " FROM payments) AND id NOT IN (SELECT inbox_id FROM cases) AND id NOT IN"
            " (SELECT inbox_id FROM ledger_entries WHERE inbox_id IS NOT NULL)")
    removable = (f"SELECT id FROM inbox WHERE received_at < ? AND status = 'done' AND {kept}"
                 " AND id NOT IN (SELECT original_id FROM inbox WHERE original_id IS NOT NULL)"
                 " AND NOT EXISTS (SELECT 1 FROM outbox JOIN outcomes ON outcomes.id ="
                 " outbox.outcome_id WHERE outcomes.inbox_id = inbox.id"
                 " AND outbox.status = 'pending')")
    tx.execute(f"DELETE FROM dead_letter_attempts WHERE inbox_id IN ({old})", (stamp,))
    tx.execute("DELETE FROM dead_letters WHERE resolved_at IS NOT NULL AND inbox_id IN"
               f" ({old})", (stamp,))
    ids = [int(r[0]) for r in tx.all(removable, (stamp,))
           if tx.one("SELECT 1 FROM dead_letters WHERE inbox_id = ?", (r[0],)) is None]
    outbox = 0
    for inbox_id in ids:
        outbox += len(tx.all("DELETE FROM outbox WHERE outcome_id IN (SELECT id FROM outcomes"
                             " WHERE inbox_id = ?) RETURNING id", (inbox_id,)))
        tx.execute("DELETE FROM outcomes WHERE inbox_id = ?", (inbox_id,))
        tx.execute("DELETE FROM inbox WHERE id = ?", (inbox_id,))
    counts["outbox rows"] = outbox
    counts["messages"] = len(ids)
    return counts


def purge(config: Config, before: date | None, as_json: bool = False) -> int:
    cutoff = (datetime.combine(before, datetime.min.time(), tzinfo=UTC) if before
              else datetime.now(UTC) - timedelta(days=config.retention.days))
    database = open_existing_database(config)
    try:
        counts = database.transaction_sync(lambda tx: _purge(tx, cutoff))
    finally:
        database.close_sync()
    if as_json:
        print(json.dumps({"before": f"{cutoff:%Y-%m-%d}", "purged": counts}, indent=2))
        return EXIT_OK
    print(f"purged records of messages received before {cutoff:%Y-%m-%d}:")
    for what, count in counts.items():
        print(f"  {what}: {count}")
    return EXIT_OK
