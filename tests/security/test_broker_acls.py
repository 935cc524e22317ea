"""The shipped broker configuration (config/mosquitto/secure.conf and acl) against real clients:
TLS only, a password per account, each partner confined to its own topics."""

import asyncio
import contextlib
import gc
import ssl
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from secure_broker import ACCOUNTS, SecureBroker, running_secure_broker

from gateway.config import MqttSettings
from gateway.delivery.senders import MqttSender, PermanentFailure
from gateway.store.outbox import OutboxRow
from gateway.transport.mqtt import Link, PartnerClient, PublishRefused, new_client

WAIT_S = 5.0
NOT_AUTHORISED = {134, 135}  # MQTT 5: bad user name or password; not authorised


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with running_secure_broker(tmp_path_factory.mktemp("secure-broker")) as broker:
        yield broker


@asynccontextmanager
async def connected(broker: SecureBroker, username: str, password: str | None = None, *,
                    context: ssl.SSLContext | None = None,
                    host: str = "127.0.0.1") -> AsyncIterator[PartnerClient]:
    client = PartnerClient(
        host, broker.port, username=username,
        password=ACCOUNTS[username] if password is None else password,
        identifier=f"test-{username}", protocol=aiomqtt.ProtocolVersion.V5, timeout=WAIT_S,
        tls_context=context or broker.client_context(),
    )
    async with client:
        yield client


async def refusal(connect: Callable[[], AbstractAsyncContextManager[object]]) -> tuple[str, int]:
    """The reason and code (0 when none) of a connection that must fail.

    paho leaves the socket of a refused connection to the garbage collector (the last reference
    is the event loop's handle that ran the connect, dropped at its next turn), whose
    ResourceWarning would fail whatever runs then: it is collected here, that warning ignored.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            async with connect():
                pass
        except aiomqtt.MqttError as error:
            code = getattr(error, "rc", None)
            outcome = (str(error), int(getattr(code, "value", code) or 0))
        else:
            raise AssertionError("the connection was accepted")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        gc.collect()
    return outcome


async def first_message(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(WAIT_S):
        async for message in client.messages:
            return message
    raise AssertionError("the message iterator ended")


async def test_a_partner_publishes_only_on_its_own_inbound_topic(
        secure_broker: SecureBroker) -> None:
    """BRK42 may publish on carm/v1/in/BRK42; its publish on carm/v1/in/BRK77 is refused (PUBACK
    Not authorized) and never reaches the gateway's account, which sees only the later one."""
    async with connected(secure_broker, "carm-gateway") as gateway, \
            connected(secure_broker, "BRK42") as partner:
        await gateway.subscribe("carm/v1/in/#", qos=1)
        await partner.publish("carm/v1/in/BRK77", b"forged as BRK77", qos=1)
        assert partner.refusals == ["Not authorized"]
        await partner.publish("carm/v1/in/BRK42", b"own", qos=1)
        assert partner.refusals == ["Not authorized"], "its own topic is not refused"
        message = await first_message(gateway)
        assert (message.topic.value, message.payload) == ("carm/v1/in/BRK42", b"own")


async def test_a_partner_cannot_publish_answers(secure_broker: SecureBroker) -> None:
    """A partner cannot forge the gateway's answers: carm/v1/out/ is the gateway's to write."""
    async with connected(secure_broker, "BRK77") as victim, \
            connected(secure_broker, "BRK42") as partner:
        await victim.subscribe("carm/v1/out/BRK77", qos=1)
        await partner.publish("carm/v1/out/BRK77", b"forged answer", qos=1)
        await partner.publish("carm/v1/out/BRK42", b"forged answer", qos=1)
        assert partner.refusals == ["Not authorized", "Not authorized"]


async def test_a_partner_cannot_read_another_partners_answers(
        secure_broker: SecureBroker) -> None:
    """Subscribed to BRK77's answers and to every answer, BRK42 receives only its own; BRK77
    receives its own."""
    async with connected(secure_broker, "carm-gateway") as gateway, \
            connected(secure_broker, "BRK42") as partner, \
            connected(secure_broker, "BRK77") as other:
        await partner.subscribe("carm/v1/out/BRK77", qos=1)
        await partner.subscribe("carm/v1/out/#", qos=1)
        await other.subscribe("carm/v1/out/BRK77", qos=1)
        await gateway.publish("carm/v1/out/BRK77", b"for BRK77", qos=1)
        await gateway.publish("carm/v1/out/BRK42", b"for BRK42", qos=1)
        assert gateway.refusals == []
        received = await first_message(partner)
        assert (received.topic.value, received.payload) == ("carm/v1/out/BRK42", b"for BRK42")
        theirs = await first_message(other)
        assert (theirs.topic.value, theirs.payload) == ("carm/v1/out/BRK77", b"for BRK77")


@pytest.mark.parametrize(("username", "password"), [
    ("BRK42", "wrong-password"),
    ("BRK42", ACCOUNTS["BRK77"]),
    ("carm-gateway", ACCOUNTS["BRK42"]),
    ("NOBODY", "anything"),
])
async def test_a_wrong_password_is_refused(secure_broker: SecureBroker, username: str,
                                           password: str) -> None:
    """CONNACK refuses a wrong password, another account's password and an unknown account."""
    _, code = await refusal(lambda: connected(secure_broker, username, password))
    assert code in NOT_AUTHORISED


async def test_anonymous_clients_are_refused(secure_broker: SecureBroker) -> None:
    """allow_anonymous false: a client without a user name is refused."""
    _, code = await refusal(lambda: aiomqtt.Client(
        "127.0.0.1", secure_broker.port, protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=secure_broker.client_context(), timeout=WAIT_S))
    assert code in NOT_AUTHORISED


async def test_a_client_without_the_ca_fails_tls(secure_broker: SecureBroker) -> None:
    """The broker's certificate is not trusted without its CA: no connection, no password
    sent."""
    reason, _ = await refusal(
        lambda: connected(secure_broker, "BRK42", context=ssl.create_default_context()))
    assert "certificate verify failed" in reason


async def test_the_gateway_client_checks_the_host_name(secure_broker: SecureBroker) -> None:
    """The gateway's own client (new_client, ca_file set) refuses a certificate issued for
    another name: the broker's certificate names 127.0.0.1, the URL says localhost."""
    settings = MqttSettings(url=secure_broker.url("BRK42", host="localhost"),
                            ca_file=secure_broker.ca_file)
    reason, _ = await refusal(lambda: new_client(settings, "test-hostname", receive=False))
    assert "hostname mismatch" in reason.lower()


async def test_the_gateway_client_connects_with_the_right_name(
        secure_broker: SecureBroker, tmp_path: Path) -> None:
    """The counterpart: the same client with the certificate's name and the account's
    password file connects (so the refusal above is the host name check, nothing else)."""
    password_file = tmp_path / "password"
    password_file.write_text(ACCOUNTS["BRK42"] + "\n")
    settings = MqttSettings(url=secure_broker.url("BRK42"), ca_file=secure_broker.ca_file,
                            password_file=password_file)
    async with new_client(settings, "test-right-name", receive=False) as client:
        await client.publish("carm/v1/in/BRK42", b"hello", qos=1)



def cut_off_when_publishing(broker: SecureBroker, payload: bytes) -> bool:
    """Whether the broker disconnects BRK42 for publishing this payload (paho directly: it
    closes its socket on a disconnection, unlike a pending aiomqtt publish)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5,
                         client_id="test-oversize")
    client.tls_set_context(broker.client_context())
    client.username_pw_set("BRK42", ACCOUNTS["BRK42"])
    connected_once, disconnected = threading.Event(), threading.Event()
    client.on_connect = lambda *_: connected_once.set()
    client.on_disconnect = lambda *_: disconnected.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert connected_once.wait(WAIT_S)
        client.publish("carm/v1/in/BRK42", payload, qos=1)
        return disconnected.wait(WAIT_S)
    finally:
        client.disconnect()
        client.loop_stop()


async def test_size_limits_pass_a_slightly_too_large_document_and_stop_huge_ones(
        secure_broker: SecureBroker) -> None:
    """A payload one byte over the gateway's 1 MiB still reaches the gateway (to be answered
    XML003); a 2 MiB packet gets its sender disconnected and is never delivered."""
    async with connected(secure_broker, "carm-gateway") as gateway:
        await gateway.subscribe("carm/v1/in/#", qos=1)
        just_over = b"<" + b"x" * 1_048_576
        async with connected(secure_broker, "BRK42") as partner:
            await partner.publish("carm/v1/in/BRK42", just_over, qos=1)
            assert partner.refusals == []
        assert (await first_message(gateway)).payload == just_over
        assert await asyncio.to_thread(cut_off_when_publishing, secure_broker,
                                       b"x" * 2_097_152)
        async with connected(secure_broker, "BRK42") as partner:
            await partner.publish("carm/v1/in/BRK42", b"after", qos=1)
        assert (await first_message(gateway)).payload == b"after"


async def test_an_answer_the_broker_refuses_is_a_permanent_failure_not_a_delivery(
        secure_broker: SecureBroker, tmp_path: Path) -> None:
    """The gateway's account may not write on an inbound topic: the broker answers that
    publish with PUBACK 0x87 Not authorized. The link reports it (aiomqtt alone would return
    as if delivered), and the MQTT sender makes it a permanent failure: the row goes dead and
    the operators are told, rather than counted as delivered."""
    password_file = tmp_path / "password"
    password_file.write_text(ACCOUNTS["carm-gateway"] + "\n")
    settings = MqttSettings(url=secure_broker.url("carm-gateway"),
                            ca_file=secure_broker.ca_file, password_file=password_file)
    link = Link(settings, "test-refused-answer", lambda: datetime.now(UTC))

    async def ignore(arrival: object, handle: object) -> None:
        return None

    receiving = asyncio.create_task(link.receive(ignore))
    try:
        async with asyncio.timeout(WAIT_S):
            await link.subscribed.wait()
        await link.publish("carm/v1/out/BRK42", b"<allowed/>", None)
        with pytest.raises(PublishRefused) as refused:
            await link.publish("carm/v1/in/BRK42", b"<refused/>", None)
        assert refused.value.code == 0x87
        assert not refused.value.temporary
        row = OutboxRow(1, None, "outcome", "mqtt", "carm/v1/in/BRK42", b"<refused/>", None,
                        None, attempts=0)
        with pytest.raises(PermanentFailure):
            await MqttSender(link).send(row)
    finally:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiving
