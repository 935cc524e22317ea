"""Three instances on one PostgreSQL through a shared subscription; one killed mid-run and
restarted with the same client id (mosquitto keeps a dead member's unacknowledged messages for
it). The invariants hold across instances."""

import signal
import time
from pathlib import Path

import pytest
from conftest import MESSAGES, SEEDS, Run
from invariants import check
from support.peers import Broker, Daemon, Listener, write_config
from support.pipeline import declaration
from traffic import (
    Message,
    publish,
    publish_in_background,
    traffic,
    transaction_number,
    wait_settled,
)

INSTANCES = ("gw1", "gw2", "gw3")


@pytest.mark.slow
@pytest.mark.postgres
def test_three_instances_one_killed(tmp_path: Path, broker: Broker, postgres_url: str,
                                    report: list[Run]) -> None:
    daemons = []
    for instance in INSTANCES:
        config = write_config(tmp_path / instance, mqtt_url=broker.url, instance=instance,
                              extra=f'\n[database]\nurl = "{postgres_url}"\n')
        text = config.read_text().replace('[mqtt]\n', '[mqtt]\ngroup = "carm"\n')
        config.write_text(text)
        daemons.append(Daemon(config, tmp_path / f"{instance}.log"))
    for daemon in daemons:
        daemon.start(CARM_LOG_LEVEL="debug")
    for daemon in daemons:
        daemon.wait_ready()
    messages = traffic(SEEDS[0], 3 * MESSAGES)
    logs = [daemon.log for daemon in daemons]
    try:
        publisher = publish_in_background(broker, messages, lambda: 0.005)
        time.sleep(0.4)
        victim = daemons[1]
        victim.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        victim.process.wait(timeout=10)  # type: ignore[union-attr]
        publisher.join(timeout=60)
        victim.log = tmp_path / "gw2-restarted.log"
        logs.append(victim.log)
        victim.start(CARM_LOG_LEVEL="debug")
        victim.wait_ready()
        assert wait_settled(postgres_url, [m.message_id for m in messages], timeout_s=120)

        listener = Listener(broker)
        number = transaction_number(SEEDS[0], 0)
        correction = declaration(message_id="SCALE-V2", transaction=number, version=2,
                                 purpose="correction")
        publish(broker, [Message("SCALE-V2", correction)])
        answer = listener.wait_for(1, timeout_s=30)[0].payload
        listener.close()
        assert b"<Status>accepted</Status>" in answer, answer
        processed_by = {log.name for log in logs
                        if log.exists() and '"message processed"' in log.read_text()}
    finally:
        for daemon in daemons:
            daemon.stop()
    assert len(processed_by) >= 2, "the work was shared"
    findings = check(postgres_url, [m.message_id for m in messages], logs=logs)
    report.append(Run("3 instances on PostgreSQL, one killed", SEEDS[0], len(messages) + 1,
                      findings.held, findings.summary()))
    assert findings.held, findings.summary()
