"""The invariants every fault test checks afterwards (I1 to I5 of the reliability issue)."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from support.mail import MailServer

from gateway.ledger.verify import verify
from gateway.store.database import open_database


@dataclass
class Findings:
    """What broke, per invariant; empty lists mean it held."""

    broken: dict[str, list[str]] = field(default_factory=lambda: {
        "I1 no loss": [], "I2 no double posting": [], "I3 balance": [], "I4 delivery": [],
        "I5 ack after commit": []})

    def add(self, invariant: str, finding: str) -> None:
        self.broken[invariant].append(finding)

    @property
    def held(self) -> bool:
        return not any(self.broken.values())

    def summary(self) -> str:
        return "; ".join(f"{name}: {len(items)} broken ({items[:3]})"
                         for name, items in self.broken.items() if items) or "all held"


def check(database_url: str, published: list[str], *, sender: str = "BRK42",
          mail: MailServer | None = None, logs: list[Path] = (),  # type: ignore[assignment]
          settled: bool = True) -> Findings:
    """I1-I4 from the database (and the mail server), I5 from the daemons' debug logs."""
    findings = Findings()
    database = open_database(database_url)
    try:
        rows = database.transaction_sync(lambda tx: tx.all(
            "SELECT i.message_id, i.status, COUNT(o.id) FROM inbox i LEFT JOIN outcomes o"
            " ON o.inbox_id = i.id AND o.superseded = 0 WHERE i.role = 'original'"
            " AND i.sender = ? GROUP BY i.id, i.message_id, i.status", (sender,)))
        outcome_of = {str(r[0]): (str(r[1]), int(r[2])) for r in rows}
        for message_id in published:
            state = outcome_of.get(message_id)
            if state is None:
                findings.add("I1 no loss", f"{message_id} never journalled")
            elif state[1] != 1 or state[0] == "pending":
                findings.add("I1 no loss", f"{message_id}: {state[0]} with {state[1]} outcomes")
        for problem in database.transaction_sync(verify):
            invariant = "I2 no double posting" if "postings" in problem else "I3 balance"
            findings.add(invariant, problem)
        duplicates = database.transaction_sync(lambda tx: tx.all(
            "SELECT outcome_id, channel, recipient, COUNT(*) FROM outbox WHERE outcome_id IS"
            " NOT NULL GROUP BY outcome_id, channel, recipient HAVING COUNT(*) > 1"))
        for row in duplicates:
            findings.add("I4 delivery", f"outcome {row[0]}: {row[3]} {row[1]} rows to {row[2]}")
        if settled:
            for row in database.transaction_sync(lambda tx: tx.all(
                    "SELECT id, channel, recipient FROM outbox WHERE status = 'pending'")):
                findings.add("I4 delivery", f"outbox {row[0]} ({row[1]} to {row[2]}) pending")
        if mail is not None:
            queued = {str(r[0]) for r in database.transaction_sync(lambda tx: tx.all(
                "SELECT header_message_id FROM outbox WHERE channel = 'email'"))}
            for received in mail.received:
                if received.message["Message-ID"] not in queued:
                    unknown = received.message["Message-ID"]
                    findings.add("I4 delivery", f"unknown Message-ID {unknown}")
    finally:
        database.close_sync()
    for log in logs:
        for problem in acks_before_commits(log):
            findings.add("I5 ack after commit", problem)
    return findings


def acks_before_commits(log: Path) -> list[str]:
    """Every PUBACK in a daemon's debug trace follows a journal commit naming its message id,
    on the same connection."""
    committed: set[int] = set()
    problems = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = event.get("event")
        if name == "broker connected":
            committed.clear()
        elif name == "journal committed":
            committed.update(event.get("mids", []))
        elif name == "acknowledged to broker":
            if event.get("mid") not in committed:
                problems.append(f"PUBACK of mid {event.get('mid')} before its commit")
            committed.discard(event.get("mid"))
    return problems
