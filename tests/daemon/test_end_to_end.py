"""End to end: mosquitto_pub -> broker -> daemon -> acknowledgement on MQTT and by email."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from support.mail import MailServer
from support.peers import REPO, Broker, Daemon, Listener, mosquitto_pub, write_config

EXAMPLES = REPO / "examples"
NS = {"a": "urn:carm-gateway:message:1"}


def text(document: bytes, path: str) -> str | None:
    root = etree.fromstring(document)
    found = root.xpath(path, namespaces=NS)
    return str(found[0].text) if found else None


def codes(document: bytes) -> list[str]:
    root = etree.fromstring(document)
    return [str(p.get("code")) for p in root.xpath("a:Problem", namespaces=NS)]


@pytest.fixture
def daemon(tmp_path: Path, broker: Broker, mail_server: MailServer) -> Iterator[Daemon]:
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url, smtp_url=mail_server.url)
    running = Daemon(config, tmp_path / "daemon.log")
    running.start()
    running.wait_ready()
    yield running
    running.stop()


@pytest.mark.slow
def test_declaration_is_acknowledged_on_mqtt_and_by_email(
    broker: Broker, mail_server: MailServer, daemon: Daemon
) -> None:
    """A CAD published with mosquitto_pub is assessed, posted, answered and emailed; a re-send
    of the same bytes gets the same outcome with DUP001."""
    listener = Listener(broker)
    try:
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration.xml", "req-1")
        first = listener.wait_for(1)[0]
        assert first.topic == "carm/v1/out/BRK42"
        assert first.correlation_data == b"req-1"
        ack = first.payload
        assert text(ack, "a:Status") == "accepted"
        assert text(ack, "a:Reference") == "12345000001235/1"
        assert text(ack, "a:Assessment/a:Duty") == "599.46"
        assert text(ack, "a:Assessment/a:ExciseTax") == "12.34"
        assert text(ack, "a:Assessment/a:GST") == "481.27"
        assert text(ack, "a:Assessment/a:Total") == "1093.07"
        assert text(ack, "a:Balance") == "1093.07"
        assert text(ack, "a:PaymentDue") == "2026-12-31"
        assert text(ack, "a:RespondBy") is not None
        assert codes(ack) == []

        email = mail_server.wait_for(1)[0]
        assert email.recipients == ["edi@broker42.example"]
        message = email.message
        assert message["Subject"] == "[CARM] Accepted: declaration 12345000001235/1"
        body = message.get_body(("plain",)).get_content()
        assert "1093.07" in body and "Respond by:" in body
        assert message["Message-ID"].endswith("@localhost>")

        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration.xml", "req-2")
        again = listener.wait_for(2)[1]
        assert again.correlation_data == b"req-2"
        assert text(again.payload, "a:Status") == "accepted"
        assert codes(again.payload) == ["DUP001"]
        assert text(again.payload, "a:AcknowledgementID") == text(ack, "a:AcknowledgementID")
        assert text(again.payload, "a:Balance") == "1093.07"
        second_email = mail_server.wait_for(2)[1].message
        assert "DUP001" in second_email.get_body(("plain",)).get_content()
        assert second_email["Message-ID"] != message["Message-ID"]
    finally:
        listener.close()


@pytest.mark.slow
def test_rejections_carry_codes_and_unregistered_senders_get_no_email(
    broker: Broker, mail_server: MailServer, daemon: Daemon, tmp_path: Path
) -> None:
    """An invalid document is rejected with its code by MQTT and email; AUTH003 is answered on
    MQTT only; different bytes under a used MessageID are DUP002."""
    listener = Listener(broker)
    try:
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "invalid-dec001-declared-totals.xml")
        rejected = listener.wait_for(1)[0].payload
        assert text(rejected, "a:Status") == "rejected"
        assert set(codes(rejected)) == {"DEC001"}
        assert text(rejected, "a:Balance") is None
        email = mail_server.wait_for(1)[0].message
        assert email["Subject"].startswith("[CARM] Rejected: declaration")
        assert "How to fix:" in email.get_body(("plain",)).get_content()

        mosquitto_pub(broker, "carm/v1/in/NOBODY", EXAMPLES / "declaration-contract.xml")
        unregistered = listener.wait_for(2)[1]
        assert unregistered.topic == "carm/v1/out/NOBODY"
        assert "AUTH003" in codes(unregistered.payload)

        changed = tmp_path / "changed.xml"
        original = (EXAMPLES / "invalid-dec001-declared-totals.xml").read_bytes()
        changed.write_bytes(original.replace(b"</Declaration>", b"<!-- x --></Declaration>"))
        mosquitto_pub(broker, "carm/v1/in/BRK42", changed)
        conflict = listener.wait_for(3)[2].payload
        assert codes(conflict) == ["DUP002"]
        assert text(conflict, "a:Status") == "rejected"
        mail_server.wait_for(2)
        assert len(mail_server.wait_for(2)) == 2, "AUTH003 must never be emailed"
    finally:
        listener.close()


@pytest.mark.slow
def test_unreadable_input_is_rejected_as_unknown(broker: Broker, daemon: Daemon,
                                                 tmp_path: Path) -> None:
    """Bytes that are neither XML nor EDIFACT get XML001 with Kind unknown, never silence."""
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01 hello")
    listener = Listener(broker)
    try:
        mosquitto_pub(broker, "carm/v1/in/BRK42", garbage)
        answer = listener.wait_for(1)[0].payload
        assert text(answer, "a:Kind") == "unknown"
        assert codes(answer) == ["XML001"]
        assert text(answer, "a:RefMessageID") is None
    finally:
        listener.close()
