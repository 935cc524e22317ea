"""The persistent session survives restarts of the broker and of the daemon."""

from pathlib import Path

import pytest
from support.peers import REPO, Broker, Daemon, Listener, mosquitto_pub, write_config

EXAMPLES = REPO / "examples"


@pytest.mark.slow
def test_messages_sent_while_the_daemon_is_down_survive_a_broker_restart(
    tmp_path: Path, broker: Broker
) -> None:
    """Published while the daemon is stopped, kept by the broker across its own restart, and
    processed when the daemon comes back; the daemon reconnects after a broker restart."""
    daemon = Daemon(write_config(tmp_path / "gateway", mqtt_url=broker.url),
                    tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    daemon.stop()

    mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration.xml")
    broker.stop()
    broker.start()
    listener = Listener(broker)
    try:
        daemon.start()
        daemon.wait_ready()
        assert b"<Status>accepted</Status>" in listener.wait_for(1)[0].payload

        broker.stop()
        listener.close()
        broker.start()
        listener = Listener(broker)
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration-contract.xml")
        answer = listener.wait_for(1, timeout_s=60)[0].payload
        assert b"<Reference>12345000002001/1</Reference>" in answer
    finally:
        listener.close()
        daemon.stop()
