"""The daemon as systemd runs it: notify socket, signals, metrics, dead letters, backup."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.peers import REPO, Broker, Daemon, Listener, mosquitto_pub, write_config

EXAMPLES = REPO / "examples"


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET, collecting what arrives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                self.lines.extend(self.sock.recv(4096).decode().splitlines())
            except TimeoutError:
                continue

    def wait_for(self, line: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(seen.startswith(line) for seen in self.lines):
                return
            time.sleep(0.05)
        raise TimeoutError(f"no {line} on the notify socket; got {self.lines}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def command(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *arguments, "--config", str(config)],
                          capture_output=True, text=True, timeout=60, cwd=REPO, check=False)


def metrics_port(config: Path) -> int:
    text = config.read_text()
    return int(text.split('listen = "127.0.0.1:')[1].split('"')[0])


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.mark.slow
def test_notify_watchdog_metrics_and_sigterm(tmp_path: Path, broker: Broker) -> None:
    """READY=1 once subscribed, WATCHDOG=1 at half WatchdogSec, STATUS lines, metrics that
    parse, /readyz 200; SIGTERM: STOPPING=1 and exit 0."""
    notify = NotifySocket(tmp_path / "notify.sock")
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        daemon.start(NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="400000")
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1")
        notify.wait_for("STATUS=broker connected")
        port = metrics_port(config)
        assert scrape(port, "/readyz")[0] == 200
        assert scrape(port, "/healthz")[0] == 200
        assert scrape(port, "/nothing")[0] == 404
        listener = Listener(broker)
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration.xml")
        listener.wait_for(1)
        listener.close()
        time.sleep(0.5)
        status, text = scrape(port)
        assert status == 200
        families = {family.name: family for family in text_string_to_metric_families(text)}
        for name in ("carm_gateway_messages", "carm_gateway_processing_seconds",
                     "carm_gateway_backlog", "carm_gateway_deliveries",
                     "carm_gateway_retries", "carm_gateway_dead_letters",
                     "carm_gateway_deadlines_at_risk", "carm_gateway_deadlines_missed",
                     "carm_gateway_broker_connected"):
            assert name in families, name
        accepted = [s for s in families["carm_gateway_messages"].samples
                    if s.labels == {"kind": "declaration", "outcome": "accepted"}
                    and s.name.endswith("_total")]
        assert accepted[0].value == 1
        summary = command(config, "status", "--json")
        assert summary.returncode == 0, summary.stderr
        shown = json.loads(summary.stdout)
        assert shown["broker_connected"] is True and shown["dead_letters"] == 0
        daemon.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert daemon.wait_exit() == 0
        notify.wait_for("STOPPING=1")
        assert command(config, "status").returncode == 1, "no daemon answering"
    finally:
        daemon.stop()
        notify.close()


@pytest.mark.slow
def test_sigterm_under_load_loses_nothing(tmp_path: Path, broker: Broker) -> None:
    """Messages arriving while the daemon drains are either processed or left unacknowledged;
    after a restart every one of them has exactly one outcome."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    template = (EXAMPLES / "declaration-test.xml").read_text()
    files = []
    for index in range(60):
        path = tmp_path / f"m{index}.xml"
        path.write_text(template.replace("BRK42-2026-000102", f"LOAD-{index:04d}"))
        files.append(path)
    publisher = threading.Thread(target=lambda: [
        mosquitto_pub(broker, "carm/v1/in/BRK42", path) for path in files])
    publisher.start()
    time.sleep(0.3)
    daemon.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert daemon.wait_exit(timeout_s=40) == 0
    publisher.join(timeout=60)
    daemon.start()
    daemon.wait_ready()
    database = tmp_path / "gateway" / "state" / "gateway.db"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as connection:
            done = connection.execute("SELECT COUNT(DISTINCT message_id) FROM inbox i JOIN"
                                      " outcomes o ON o.inbox_id = i.id").fetchone()[0]
        if done == len(files):
            break
        time.sleep(0.2)
    daemon.stop()
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT message_id, COUNT(*) FROM inbox GROUP BY message_id"
                                  ).fetchall()
    assert len(rows) == len(files)
    assert all(count == 1 for _, count in rows), "nothing journalled twice"


@pytest.mark.slow
def test_sighup_reloads_a_good_registry_and_keeps_the_old_on_a_bad_one(
    tmp_path: Path, broker: Broker
) -> None:
    """A new sender becomes known after SIGHUP; a broken file is refused, the old registry
    stays, and the daemon keeps answering."""
    partners = tmp_path / "partners.toml"
    original = (REPO / "config" / "partners.toml").read_text()
    partners.write_text(original)
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url, partners=partners)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    listener = Listener(broker)
    try:
        contract = EXAMPLES / "declaration-contract.xml"
        newcomer = tmp_path / "newcomer.xml"
        newcomer.write_text(contract.read_text().replace("<Sender>BRK42</Sender>",
                                                         "<Sender>BRK50</Sender>"))
        mosquitto_pub(broker, "carm/v1/in/BRK50", newcomer)
        assert b"AUTH003" in listener.wait_for(1)[0].payload
        partners.write_text(original + '\n[[sender]]\nid = "BRK50"\nemail = "x@y.example"\n'
                            'accounts = ["123456782RM0001"]\n')
        daemon.process.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        time.sleep(1.0)
        again = newcomer.read_text().replace("BRK42-2026-000103", "BRK50-2")
        newcomer.write_text(again)
        mosquitto_pub(broker, "carm/v1/in/BRK50", newcomer)
        assert b"<Status>accepted</Status>" in listener.wait_for(2)[1].payload
        partners.write_text("[[sender]\nbroken")
        daemon.process.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        time.sleep(1.0)
        assert "reload refused" in daemon.log.read_text()
        newcomer.write_text(again.replace("BRK50-2", "BRK50-3"))
        mosquitto_pub(broker, "carm/v1/in/BRK50", newcomer)
        answer = listener.wait_for(3)[2].payload
        assert b"AUTH003" not in answer and b"DEC002" in answer
    finally:
        listener.close()
        daemon.stop()


@pytest.mark.slow
def test_poison_message_is_dead_lettered_then_replayed_once(tmp_path: Path,
                                                            broker: Broker) -> None:
    """A message whose processing fails every time is deferred (GW001) after the configured
    attempts while the message behind it is processed; after the fix, `dlq replay` processes
    it once and its final outcome follows."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url, attempts=3)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start(CARM_FAULT_POISON="BRK42-2026-000101")
    daemon.wait_ready()
    listener = Listener(broker)
    try:
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration.xml")
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration-contract.xml")
        answers = [reply.payload for reply in listener.wait_for(2)]
        deferred = [a for a in answers if b"<RefMessageID>BRK42-2026-000101<" in a]
        behind = [a for a in answers if b"<RefMessageID>BRK42-2026-000103<" in a]
        assert b"<Status>deferred</Status>" in deferred[0] and b"GW001" in deferred[0]
        assert b"<Status>accepted</Status>" in behind[0], "the message behind goes on"
        listed = json.loads(command(config, "dlq", "list", "--json").stdout)
        assert [item["attempts"] for item in listed] == [3]
        shown = json.loads(command(config, "dlq", "show", str(listed[0]["id"]), "--json").stdout)
        assert len(shown["attempts_log"]) == 3
        assert "InjectedFault" in shown["attempts_log"][0]["error"]
        daemon.stop()
        daemon.start()
        daemon.wait_ready()
        assert command(config, "dlq", "replay", str(listed[0]["id"])).returncode == 0
        assert command(config, "dlq", "replay", str(listed[0]["id"])).returncode == 1
        final = listener.wait_for(3, timeout_s=30)[2].payload
        assert b"<Status>accepted</Status>" in final
        assert command(config, "ledger", "verify").returncode == 0
        balance = json.loads(command(config, "ledger", "balance", "123456782RM0001",
                                     "--json").stdout)
        assert balance["total"] == "1103.65"
    finally:
        listener.close()
        daemon.stop()


@pytest.mark.slow
def test_backup_under_load_restores_and_verifies(tmp_path: Path, broker: Broker) -> None:
    """`backup` while messages are being processed gives a database that `ledger verify`
    accepts, and a daemon started on the restored copy carries on."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    template = (EXAMPLES / "declaration-contract.xml").read_text()
    try:
        publisher = threading.Thread(target=lambda: [
            mosquitto_pub(broker, "carm/v1/in/BRK42", _variant(tmp_path, template, index))
            for index in range(25)])
        publisher.start()
        time.sleep(0.5)
        copy = tmp_path / "backup.db"
        result = command(config, "backup", str(copy))
        assert result.returncode == 0, result.stderr
        publisher.join(timeout=60)
    finally:
        daemon.stop()
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    restored = tmp_path / "restored"
    (restored / "state").mkdir(parents=True)
    os.replace(copy, restored / "state" / "gateway.db")
    restored_config = write_config(restored, mqtt_url=broker.url, instance="gw9")
    assert command(restored_config, "ledger", "verify").returncode == 0


def _variant(directory: Path, template: str, index: int) -> Path:
    """The contract example under its own MessageID and transaction number."""
    from gateway.identifiers import luhn_valid  # noqa: PLC0415

    stem = f"9876500{index:06d}"
    number = stem + next(str(d) for d in range(10) if luhn_valid(stem + str(d)))
    path = directory / f"load-{index}.xml"
    path.write_text(template.replace("12345000002001", number)
                    .replace("BRK42-2026-000103", f"BACKUP-{index}"))
    return path


def test_a_reload_gives_every_part_of_the_daemon_the_new_standards(tmp_path: Path) -> None:
    """The journal writer (XML), the processor (the EDIFACT messages it adds to the journal)
    and the escalator all use the service standards of the last reload."""
    from gateway.config import StandardsSettings, load_config  # noqa: PLC0415
    from gateway.daemon import Gateway  # noqa: PLC0415
    from gateway.partners import load_registry  # noqa: PLC0415
    from gateway.standards.deadlines import parse_standard  # noqa: PLC0415

    config = load_config(str(write_config(tmp_path, mqtt_url="mqtt://127.0.0.1:1")))
    registry = load_registry(config.partners_file)
    gateway = Gateway(config, registry)
    try:
        fresh = StandardsSettings(declaration=parse_standard("1 business day"))
        gateway.reload(registry, fresh)
        assert gateway.journal_writer.standards() == fresh
        assert gateway.processor.config.standards == fresh
        assert gateway.escalator.config.standards == fresh
    finally:
        gateway.database.close_sync()


def test_the_watchdog_is_fed_while_the_database_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command holding the SQLite write lock for seconds (a busy timeout longer than the
    watchdog's interval) must not get a running daemon killed: WATCHDOG=1 keeps coming and
    STATUS says the database is busy; the counts come back when the lock goes."""
    import asyncio  # noqa: PLC0415

    from gateway.observability import heartbeat  # noqa: PLC0415
    from gateway.store.database import SqliteDatabase  # noqa: PLC0415

    socket_path = tmp_path / "notify"
    notified = NotifySocket(socket_path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(socket_path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    database = SqliteDatabase(tmp_path / "gateway.db", busy_timeout_ms=1500)
    holder = sqlite3.connect(tmp_path / "gateway.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    async def run_for(seconds: float) -> None:
        beating = asyncio.create_task(heartbeat(database, "gw1", lambda: True))
        await asyncio.sleep(seconds)
        beating.cancel()

    try:
        asyncio.run(run_for(1.0))
        locked = list(notified.lines)
        holder.execute("ROLLBACK")
        asyncio.run(run_for(0.5))
    finally:
        holder.close()
        database.close_sync()
        notified.close()
    assert locked.count("WATCHDOG=1") >= 8, locked
    assert "STATUS=broker connected; database busy" in locked
    assert any(line.startswith("STATUS=broker connected; journal backlog 0")
               for line in notified.lines[len(locked):]), notified.lines
