"""Daemon crashes under load: at named points and by kill -9 at seeded random times."""

import random
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import MESSAGES, SEEDS, Run
from invariants import check
from support.mail import MailServer
from support.peers import Broker, Daemon, write_config
from traffic import Message, publish_in_background, traffic, wait_settled

from gateway.faults import CRASH_EXIT_STATUS

CRASH_POINTS = ["before-journal-commit", "after-journal-commit", "in-handler-transaction",
                "after-handler-commit", "in-smtp-conversation"]


def start(daemon: Daemon, **environment: str) -> None:
    daemon.start(CARM_LOG_LEVEL="debug", **environment)


def settle_and_check(tmp_path: Path, daemon: Daemon, messages: list[Message],
                     mail_server: MailServer, logs: list[Path], report: list[Run],
                     run: Run) -> None:
    """Wait until every message is settled, stop the daemon, check I1-I5 and report them
    under `run`'s name and seed."""
    database = tmp_path / "gateway" / "state" / "gateway.db"
    try:
        assert wait_settled(str(database), [m.message_id for m in messages])
    finally:
        daemon.stop()
    findings = check(f"sqlite:///{database}", [m.message_id for m in messages],
                     mail=mail_server, logs=logs)
    report.append(replace(run, held=findings.held, detail=findings.summary()))
    assert findings.held, findings.summary()


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_named_crash_point_under_load(tmp_path: Path, broker: Broker, mail_server: MailServer,
                                      crash_at: str, report: list[Run]) -> None:
    """The daemon dies the first time it reaches the point, with traffic flowing; restarted,
    it ends with every message answered once and every invariant held."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url, smtp_url=mail_server.url)
    logs = [tmp_path / "run1.log", tmp_path / "run2.log"]
    daemon = Daemon(config, logs[0])
    start(daemon, CARM_FAULT_CRASH_AT=crash_at)
    daemon.wait_ready()
    messages = traffic(SEEDS[0], MESSAGES)
    publisher = publish_in_background(broker, messages, lambda: 0.01)
    assert daemon.wait_exit(timeout_s=60) == CRASH_EXIT_STATUS
    daemon.log = logs[1]
    start(daemon)
    daemon.wait_ready()
    publisher.join(timeout=60)
    settle_and_check(tmp_path, daemon, messages, mail_server, logs, report,
                     Run(f"crash at {crash_at}", SEEDS[0], len(messages), False, ""))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_at_random_times(tmp_path: Path, broker: Broker, mail_server: MailServer,
                                seed: int, report: list[Run]) -> None:
    """kill -9 three times at seeded random moments while messages arrive."""
    rng = random.Random(seed)
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url, smtp_url=mail_server.url)
    logs = []
    daemon = Daemon(config, tmp_path / "run0.log")
    messages = traffic(seed, MESSAGES)
    publisher = None
    for run in range(4):
        daemon.log = tmp_path / f"run{run}.log"
        logs.append(daemon.log)
        start(daemon)
        daemon.wait_ready()
        if publisher is None:  # the gateway's session exists from here on
            publisher = publish_in_background(broker, messages, lambda: rng.uniform(0, 0.03))
        if run < 3:
            time.sleep(rng.uniform(0.1, 0.8))
            daemon.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            daemon.process.wait(timeout=10)  # type: ignore[union-attr]
    assert publisher is not None
    publisher.join(timeout=60)
    settle_and_check(tmp_path, daemon, messages, mail_server, logs, report,
                     Run("kill -9 at random times (3 kills)", seed, len(messages), False, ""))
