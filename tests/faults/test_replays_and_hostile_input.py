"""Replays (a whole day's traffic again, same ids with other bytes) and hostile input at volume
through MQTT: the daemon stays up, memory stays bounded, every input gets its coded answer and
nothing else is delayed."""

import contextlib
import random
import time
from pathlib import Path

import pytest
from conftest import MESSAGES, SEEDS, Run
from invariants import check
from support.corpus import CORPUS
from support.peers import REPO, Broker, Daemon, Listener, free_port, write_config
from traffic import Message, publish, traffic, wait_settled

from gateway.codec.edifact import tokenize

HOSTILE = CORPUS / "hostile-xml"
RSS_LIMIT_KB = 200 * 1024
NORMAL_LATENCY_S = 3.0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_a_days_traffic_replayed(tmp_path: Path, broker: Broker, report: list[Run]) -> None:
    """Everything republished: each message answered again with DUP001, nothing posted twice;
    one id reused for other bytes gets DUP002."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start(CARM_LOG_LEVEL="debug")
    daemon.wait_ready()
    messages = traffic(SEEDS[0], MESSAGES)
    url = f"sqlite:///{tmp_path}/gateway/state/gateway.db"
    listener = Listener(broker)
    try:
        publish(broker, messages)
        assert wait_settled(url, [m.message_id for m in messages])
        publish(broker, messages)
        forged = Message(messages[0].message_id, messages[0].payload.replace(b"Goods", b"Other"))
        publish(broker, [forged])
        replies = listener.wait_for(2 * len(messages) + 1, timeout_s=60)
    finally:
        listener.close()
        daemon.stop()
    later = [reply.payload for reply in replies[len(messages):]]
    assert sum(b'code="DUP001"' in payload for payload in later) == len(messages)
    assert sum(b'code="DUP002"' in payload for payload in later) == 1
    findings = check(url, [m.message_id for m in messages], logs=[tmp_path / "daemon.log"])
    report.append(Run("a day's traffic replayed, one id forged", SEEDS[0], 2 * len(messages) + 1,
                      findings.held, findings.summary()))
    assert findings.held, findings.summary()


def hostile_inputs(seed: int) -> list[tuple[str, bytes, set[str]]]:
    """(name, bytes, acceptable codes) for everything hostile we send."""
    rng = random.Random(seed)
    inputs = []
    for path in sorted(HOSTILE.glob("*")):
        if path.suffix in (".xml", ".xsd", ".xsl"):
            inputs.append((path.name, path.read_bytes(), {"XML002", "SCH001", "XML001"}))
    original = (REPO / "examples" / "declaration.xml").read_bytes()

    def declaration(name: str) -> bytes:  # each variant under its own MessageID
        return original.replace(b"BRK42-2026-000101", f"HOSTILE-{name}".encode())

    inputs += [
        ("truncated", declaration("t")[: len(original) // 2], {"XML001"}),
        ("latin-1", declaration("l").replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
         {"XML001"}),
        ("invalid utf-8", declaration("u").replace(b"Portable", b"Port\xff\xfeable"),
         {"XML001"}),
        ("deeply nested", b"<a>" * 5000 + b"</a>" * 5000, {"XML001"}),
        ("huge", b"<a>" + b"x" * (10 * 1024 * 1024) + b"</a>", {"XML003"}),
        ("random bytes", bytes(rng.randrange(256) for _ in range(4096)), {"XML001"}),
        ("garbled edifact", b"UNA:+.? 'UNB+UNOC:3+BRK42+X+261123:1405+R1'UNH+1+CUSDEC:D:96B:UN"
         b"'BGM+929+" + bytes(rng.randrange(32, 127) for _ in range(300)), {"EDI001", "EDI002"}),
    ]
    return inputs


@pytest.mark.slow
def test_hostile_input_at_volume(tmp_path: Path, broker: Broker, report: list[Run]) -> None:
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    assert daemon.process is not None
    inputs = hostile_inputs(SEEDS[0]) * 3
    listener = Listener(broker)
    peak_kb = 0
    try:
        publish(broker, [Message(name, payload) for name, payload, _ in inputs])
        replies = listener.wait_for(len(inputs), timeout_s=120)
        peak_kb = max(peak_kb, rss_kb(daemon.process.pid))
        assert daemon.process.poll() is None, "the daemon stays up"
        for (name, _, codes), reply in zip(inputs, replies, strict=True):
            found = _codes(reply.payload)
            assert found & codes, f"{name}: got {found}, wanted one of {codes}"
        started = time.monotonic()
        publish(broker, [Message("ok", (REPO / "examples" / "declaration.xml").read_bytes())])
        last = listener.wait_for(len(inputs) + 1, timeout_s=30)[-1]
        latency_s = time.monotonic() - started
        assert b"<Status>accepted</Status>" in last.payload
        assert latency_s < NORMAL_LATENCY_S
        peak_kb = max(peak_kb, rss_kb(daemon.process.pid))
    finally:
        listener.close()
        daemon.stop()
    assert peak_kb < RSS_LIMIT_KB, f"resident memory {peak_kb} kB"
    report.append(Run(f"hostile input x{len(inputs)} (peak RSS {peak_kb // 1024} MB)", SEEDS[0],
                      len(inputs), True, "each coded; valid message answered in "
                      f"{latency_s:.2f} s"))


def _codes(payload: bytes) -> set[str]:
    if payload.startswith((b"UNA", b"UNB")):
        interchange = tokenize(payload)
        text = b"".join(b"+".join(c.encode() for e in s.elements for c in e)
                        for s in interchange.segments)
        return {code for code in ("EDI001", "EDI002", "EDI003") if code.encode() in text} | (
            {"EDI001"} if b"UCI" in payload else set())
    return {part.split(b'"')[0].decode() for part in payload.split(b'code="')[1:]}


def shipped_size_limit() -> int:
    for line in (REPO / "config" / "mosquitto" / "local.conf").read_text().splitlines():
        if line.startswith("message_size_limit"):
            return int(line.split()[1])
    raise AssertionError("the shipped broker configuration sets no message_size_limit")


@pytest.mark.slow
def test_shipped_broker_limit_refuses_huge_payloads(tmp_path: Path, report: list[Run]) -> None:
    """With the shipped message_size_limit, a 10 MB payload never reaches the gateway, while
    one just above the gateway's own limit gets its XML003 answer."""
    limit = shipped_size_limit()
    broker = Broker(free_port(), tmp_path / "broker")
    broker.directory.mkdir()
    broker.extra_config = f"message_size_limit {limit}\n"
    broker.start()
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    listener = Listener(broker)
    try:
        with contextlib.suppress(Exception):
            publish(broker, [Message("huge", b"<a>" + b"x" * (10 * 1024 * 1024) + b"</a>")],
                    timeout_s=5)
        publish(broker, [Message("big", b"<a>" + b"x" * (1024 * 1024 + 10) + b"</a>")])
        replies = listener.wait_for(1, timeout_s=30)
        time.sleep(0.5)
        assert len(listener.responses) == 1
        assert b'code="XML003"' in replies[0].payload
    finally:
        listener.close()
        daemon.stop()
        broker.stop()
    report.append(Run("10 MB refused by the shipped broker limit", None, 2, True,
                      f"limit {limit} bytes"))
