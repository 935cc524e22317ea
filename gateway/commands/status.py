"""`carm-gateway status`: one screen about the running daemon, from its database and its
metrics endpoint."""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from gateway.commands import EXIT_FAILED, EXIT_OK
from gateway.commands.ledger import open_existing_database
from gateway.config import Config
from gateway.standards.calendar import BusinessCalendar

SCRAPE_TIMEOUT_S = 3.0


def scrape(listen: str) -> dict[str, float] | None:
    """The daemon's metrics as name -> value (summed over labels), or None when it is not
    answering."""
    try:
        with urllib.request.urlopen(f"http://{listen}/metrics",
                                    timeout=SCRAPE_TIMEOUT_S) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def status(config: Config, as_json: bool) -> int:
    calendar = BusinessCalendar(config.calendar)
    database = open_existing_database(config)
    try:
        pending, outbox, dead, oldest = database.read_sync(lambda tx: (
            tx.one("SELECT COUNT(*) FROM inbox WHERE status = 'pending'"),
            tx.one("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'"),
            tx.one("SELECT COUNT(*) FROM dead_letters WHERE resolved_at IS NULL"),
            tx.one("SELECT id, sender, kind, message_id, received_at, respond_by FROM inbox"
                   " WHERE clock_stopped_at IS NULL ORDER BY respond_by LIMIT 1"),
        ))
    finally:
        database.close_sync()
    metrics = scrape(config.metrics_listen)
    connected = None if metrics is None else metrics.get("carm_gateway_broker_connected") == 1
    now = datetime.now(UTC)
    summary: dict[str, object] = {
        "daemon": "answering" if metrics is not None else
                  f"not answering on {config.metrics_listen}",
        "broker_connected": connected,
        "journal_backlog": int(pending[0]) if pending else 0,
        "outbox_backlog": int(outbox[0]) if outbox else 0,
        "oldest_outbox_row": outbox[1] if outbox else None,
        "dead_letters": int(dead[0]) if dead else 0,
        "oldest_pending": None,
    }
    if oldest is not None:
        due = datetime.fromisoformat(str(oldest[5]))
        summary["oldest_pending"] = {
            "id": oldest[0], "sender": oldest[1], "kind": oldest[2], "message_id": oldest[3],
            "received_at": oldest[4], "respond_by": due.astimezone(calendar.zone).isoformat(),
            "overdue": now > due,
        }
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"daemon:          {summary['daemon']}")
        link = "-" if connected is None else "connected" if connected else "DISCONNECTED"
        print(f"broker:          {link}")
        print(f"journal backlog: {summary['journal_backlog']}")
        print(f"outbox backlog:  {summary['outbox_backlog']}")
        print(f"dead letters:    {summary['dead_letters']}")
        if oldest is not None:
            due_local = datetime.fromisoformat(str(oldest[5])).astimezone(calendar.zone)
            late = "  OVERDUE" if now > datetime.fromisoformat(str(oldest[5])) else ""
            print(f"oldest pending:  {oldest[2]} {oldest[3] or '-'} from {oldest[1]}, respond by "
                  f"{due_local:%Y-%m-%d %H:%M %Z}{late}")
        else:
            print("oldest pending:  none: every clock has stopped")
    return EXIT_OK if metrics is not None else EXIT_FAILED
