"""Where a message's time goes inside the daemon, from its own log and database.

`.venv/bin/python bench/stages.py DAEMON_DIRECTORY` reads `daemon.log` (the JSON events
`message journalled`, `message processed`, `delivered`) and `state/gateway.db` (which outbox
row answers which message) of a daemon directory that `bench/run.py --keep` left behind, and
prints the percentiles of: journal commit to processed (check, handler and outbox rows
committed), and processed to the answer's delivery logged (the publish, the broker's PUBACK
and the batched delivery mark). The time before the journal commit is in the publisher's
latency figure only.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def read_events(log: Path) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """Times of journalled and processed by inbox id; of mqtt deliveries by outbox id."""
    journalled: dict[int, float] = {}
    processed: dict[int, float] = {}
    delivered: dict[int, float] = {}
    with log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            name = event.get("event")
            if name == "message journalled":
                journalled[int(event["inbox_id"])] = _seconds(event["timestamp"])
            elif name == "message processed" and "inbox_id" in event:
                processed[int(event["inbox_id"])] = _seconds(event["timestamp"])
            elif name == "delivered" and event.get("channel") == "mqtt":
                delivered[int(event["outbox_id"])] = _seconds(event["timestamp"])
    return journalled, processed, delivered


def _moment(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def answered_messages(database: Path) -> dict[int, int]:
    """Inbox id of the message each mqtt outbox row answers."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT o.id, c.inbox_id FROM outbox o JOIN outcomes c ON c.id = o.outcome_id"
            " WHERE o.channel = 'mqtt'").fetchall()
    return {int(outbox_id): int(inbox_id) for outbox_id, inbox_id in rows}


def percentiles(name: str, milliseconds: list[float]) -> str:
    if not milliseconds:
        return f"{name}: none"
    ordered = sorted(milliseconds)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

    return (f"{name}: {len(ordered)} messages, p50 {at(0.5):.1f} ms, p99 {at(0.99):.1f} ms, "
            f"max {ordered[-1]:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("directory", type=Path, help="a daemon directory of bench/run.py --keep")
    parser.add_argument("--since", type=_moment, default=None,
                        help="only messages journalled from this time on (ISO 8601, e.g. the "
                             "start of a phase as bench/run.py prints it, with its date)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="and for this many seconds after --since")
    arguments = parser.parse_args()
    journalled, processed, delivered = read_events(arguments.directory / "daemon.log")
    if arguments.since is not None:
        until = arguments.since + (arguments.seconds or float("inf"))
        journalled = {inbox: moment for inbox, moment in journalled.items()
                      if arguments.since <= moment < until}
    answers = answered_messages(arguments.directory / "state" / "gateway.db")
    print(percentiles("journal commit -> processed", [
        (processed[inbox] - journalled[inbox]) * 1e3
        for inbox in processed if inbox in journalled]))
    print(percentiles("processed -> answer delivered", [
        (moment - processed[answers[outbox]]) * 1e3
        for outbox, moment in delivered.items()
        if outbox in answers and answers[outbox] in processed
        and answers[outbox] in journalled]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
