"""PUBACK only after the journal commit: a message the daemon dies with is delivered again."""

import sqlite3
import time
from pathlib import Path

import pytest
from support.peers import REPO, Broker, Daemon, Listener, mosquitto_pub, write_config

from gateway.faults import CRASH_EXIT_STATUS

EXAMPLE = REPO / "examples" / "declaration.xml"


def journal_counts(state: Path) -> tuple[int, int, int]:
    """(inbox rows, outcomes, ledger entries) in the daemon's database."""
    with sqlite3.connect(state / "gateway.db") as connection:
        inbox = connection.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
        outcomes = connection.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0]
        entries = connection.execute("SELECT COUNT(*) FROM ledger_entries").fetchone()[0]
    return int(inbox), int(outcomes), int(entries)


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", ["before-journal-commit", "after-journal-commit",
                                      "in-handler-transaction", "after-handler-commit"])
def test_message_survives_a_crash_and_is_processed_once(
    tmp_path: Path, broker: Broker, crash_at: str
) -> None:
    """The daemon dies at a named point while handling one message; after a restart the
    broker's persistent session brings the message back (or the journal still holds it) and
    it ends with exactly one outcome, one posting and one answer."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    state = tmp_path / "gateway" / "state"
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start(CARM_FAULT_CRASH_AT=crash_at)
    daemon.wait_ready()
    listener = Listener(broker)
    try:
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLE)
        assert daemon.wait_exit() == CRASH_EXIT_STATUS
        daemon.start()
        daemon.wait_ready()
        answers = listener.wait_for(1)
        time.sleep(1.0)  # room for a wrong second answer to show up
        assert len(listener.responses) == 1
        assert b"<Status>accepted</Status>" in answers[0].payload
        assert journal_counts(state) == (1, 1, 1)
    finally:
        listener.close()
        daemon.stop()
