"""EDIFACT over MQTT: a CUSDEC published with mosquitto_pub is answered with a CONTRL and a
CUSRES on the out topic (separate publications) and emailed like XML."""

from pathlib import Path

import pytest
from support.mail import MailServer
from support.peers import REPO, Broker, Daemon, Listener, mosquitto_pub, write_config

from gateway.codec.edifact import tokenize

EDIFACT = REPO / "examples" / "edifact"


def message_type(payload: bytes) -> str:
    unh = next(s for s in tokenize(payload).segments if s.tag == "UNH")
    return unh.elements[1][0]


@pytest.mark.slow
def test_cusdec_over_mqtt(tmp_path: Path, broker: Broker, mail_server: MailServer) -> None:
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url, smtp_url=mail_server.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    listener = Listener(broker)
    try:
        mosquitto_pub(broker, "carm/v1/in/BRK42", EDIFACT / "declaration-d96b.edi", "edi-1")
        contrl, cusres = listener.wait_for(2)
        assert message_type(contrl.payload) == "CONTRL"
        assert message_type(cusres.payload) == "CUSRES"
        assert contrl.correlation_data == cusres.correlation_data == b"edi-1"
        assert tokenize(cusres.payload).sound
        assert b"CUSRES:D:96B:UN" in cusres.payload, "answered in the request's directory"
        email = mail_server.wait_for(1)[0].message
        assert email["Subject"] == "[CARM] Accepted: declaration 12345000001235/1"

        mosquitto_pub(broker, "carm/v1/in/BRK42", EDIFACT / "invalid-edi002-unt-count.edi")
        rejected = listener.wait_for(3)[2]
        assert message_type(rejected.payload) == "CONTRL"
        assert b"UCI+" in rejected.payload
    finally:
        listener.close()
        daemon.stop()
