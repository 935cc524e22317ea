"""Broker restarts (graceful and kill -9, persistence on) and link cuts and stalls."""

import time
from pathlib import Path

import pytest
from conftest import MESSAGES, SEEDS, Run
from invariants import Findings, check
from proxy import Proxy
from support.peers import Broker, Daemon, write_config
from traffic import publish, publish_in_background, traffic, wait_settled


def settle_and_check(tmp_path: Path, daemon: Daemon, message_ids: list[str],
                     logs: list[Path]) -> Findings:
    url = f"sqlite:///{tmp_path}/gateway/state/gateway.db"
    try:
        assert wait_settled(url, message_ids)
    finally:
        daemon.stop()
    return check(url, message_ids, logs=logs)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["graceful", "kill -9"])
def test_broker_restart(tmp_path: Path, broker: Broker, how: str, report: list[Run]) -> None:
    """Messages before, during and after a broker restart all end answered once."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start(CARM_LOG_LEVEL="debug")
    daemon.wait_ready()
    messages = traffic(SEEDS[0], MESSAGES)
    half = len(messages) // 2
    publish(broker, messages[:half])
    time.sleep(0.3)
    if how == "graceful":
        broker.stop()
    else:
        broker.kill()
    broker.start()
    publish(broker, messages[half:])
    findings = settle_and_check(tmp_path, daemon, [m.message_id for m in messages],
                                [tmp_path / "daemon.log"])
    report.append(Run(f"broker restart ({how})", SEEDS[0], len(messages), findings.held,
                      findings.summary()))
    assert findings.held, findings.summary()


@pytest.mark.slow
def test_link_cuts_and_stalls(tmp_path: Path, broker: Broker, report: list[Run]) -> None:
    """The daemon's link to the broker is cut twice (once refusing reconnects for a second) and
    stalled once, while messages keep arriving at the broker."""
    proxy = Proxy(broker.port)
    config = write_config(tmp_path / "gateway", mqtt_url=proxy.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        daemon.start(CARM_LOG_LEVEL="debug")
        daemon.wait_ready()
        messages = traffic(SEEDS[1], MESSAGES)
        publisher = publish_in_background(broker, messages, lambda: 0.02)
        time.sleep(0.2)
        proxy.cut()
        time.sleep(0.3)
        proxy.stall(1.5)
        time.sleep(2.0)
        proxy.cut(refuse_s=1.0)
        publisher.join(timeout=60)
        findings = settle_and_check(tmp_path, daemon, [m.message_id for m in messages],
                                    [tmp_path / "daemon.log"])
    finally:
        proxy.close()
        daemon.stop()
    report.append(Run("link cut x2 and stall", SEEDS[1], len(messages), findings.held,
                      findings.summary()))
    assert findings.held, findings.summary()
