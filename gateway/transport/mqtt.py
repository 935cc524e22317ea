"""MQTT 5 over aiomqtt: a persistent session, manual PUBACK after the journal commit.

aiomqtt 2.5 acknowledges automatically; this module, and only this one, reaches into the paho
client it wraps: `manual_ack_set(True)` before connecting and `ack(mid, qos)` once the message
is journalled. Library errors become `LinkDown` here.
"""

import asyncio
import ipaddress
import random
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway import metrics
from gateway.config import ConfigError, MqttSettings
from gateway.secrets import read_secret
from gateway.store.journal import Arrival
from gateway.transport.receiving import ReceivingClient

log = structlog.get_logger("gateway.mqtt")
INBOUND_PREFIX = "carm/v1/in/"
CONNECT_TIMEOUT_S = 10.0
PUBLISH_TIMEOUT_S = 10.0
RECONNECT_BACKOFF_S_MIN = 0.5
RECONNECT_BACKOFF_S_MAX = 30.0


def packet_properties(packet_type: int) -> Properties:
    """MQTT 5 properties of one packet type (paho's constructor is untyped)."""
    return Properties(packet_type)  # type: ignore[no-untyped-call]


class LinkDown(Exception):
    """The broker connection is lost or cannot be made (transient)."""


class PublishRefused(Exception):
    """The broker answered a publish with a failure reason code (MQTT 5 PUBACK >= 0x80)."""

    def __init__(self, reason: ReasonCode) -> None:
        super().__init__(f"refused by the broker: {reason} (0x{reason.value:02x})")
        self.code = int(reason.value)

    @property
    def temporary(self) -> bool:
        """Unspecified error, implementation specific error, quota exceeded: worth a retry;
        not authorised, bad topic or payload, too large: not."""
        return self.code in (0x80, 0x83, 0x97)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:
        return f"BrokerAddress({self.host}:{self.port}, tls={self.tls})"


def broker_address(settings: MqttSettings) -> BrokerAddress:
    """Host, port and credentials; a password file wins over a password in the URL."""
    parts = urlsplit(settings.url)
    tls = parts.scheme == "mqtts"
    password = unquote(parts.password) if parts.password else None
    if settings.password_file is not None:
        password = read_secret(settings.password_file, "[mqtt] password_file")
    return BrokerAddress(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=password,
    )


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """The broker's certificate checked against `ca_file` (else the system's CAs) and against its
    host name, TLS 1.2 at least, and the client certificate when `cert_file` is set.

    Raises ConfigError naming the file when TLS material cannot be loaded.
    """
    if settings.key_file is not None and settings.cert_file is None:
        raise ConfigError("[mqtt] key_file is set without cert_file")
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
    except (OSError, ValueError) as error:
        raise ConfigError(f"[mqtt] ca_file {settings.ca_file}: cannot load: "
                          f"{_reason(error)}") from None
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.cert_file is not None:
        try:
            context.load_cert_chain(str(settings.cert_file),
                                    str(settings.key_file) if settings.key_file else None,
                                    password=_no_key_password)
        except (OSError, ValueError) as error:
            raise ConfigError(f"[mqtt] cert_file {settings.cert_file} / key_file "
                              f"{settings.key_file}: cannot load: {_reason(error)}") from None
    return context


def _no_key_password() -> str:
    """A key file protected by a passphrase cannot be used by a daemon: fail, never prompt."""
    raise ValueError("the key is protected by a passphrase; give an unencrypted key file")


def _reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) and not isinstance(error, ssl.SSLError)
            and error.strerror else str(error))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class PartnerClient(aiomqtt.Client):
    """aiomqtt's client keeping the reason codes of refused publishes, which aiomqtt drops:
    `submit` reports a publish the broker's ACLs refuse instead of waiting for an answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusals: list[str] = []

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int,
                    reason_code: ReasonCode, properties: Properties) -> None:
        if reason_code.is_failure:
            self.refusals.append(str(reason_code))
        super()._on_publish(client, userdata, mid, reason_code, properties)


@dataclass(frozen=True)
class AckHandle:
    """Acknowledges one message on the connection that delivered it, if it still stands."""

    connection: "Connection"
    mid: int
    qos: int

    def ack(self) -> None:
        if self.qos > 0 and self.connection.open:
            self.connection.client._client.ack(self.mid, self.qos)


@dataclass
class Connection:
    client: ReceivingClient
    open: bool = True


def new_client(settings: MqttSettings, identifier: str, *,
               receive: bool) -> ReceivingClient:
    address = broker_address(settings)
    properties = packet_properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.session_expiry_s if receive else 0
    properties.ReceiveMaximum = settings.receive_maximum
    client = ReceivingClient(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=not receive,
        properties=properties,
        tls_context=tls_context(settings) if address.tls else None,
        tls_insecure=False if address.tls else None,
        timeout=CONNECT_TIMEOUT_S,
        # answers are small and each waits for its PUBACK: Nagle's delay would dominate latency
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        pause_at=settings.receive_maximum,
    )
    if receive:
        client._client.manual_ack_set(True)
    return client


def inbound_topic(group: str) -> str:
    topic = INBOUND_PREFIX + "+"
    return f"$share/{group}/{topic}" if group else topic


def arrival_of(message: aiomqtt.Message, now: datetime) -> Arrival | None:
    """Transport facts of an inbound message; None when its topic is not an inbound one."""
    topic = message.topic.value
    if not topic.startswith(INBOUND_PREFIX):
        return None
    payload = message.payload if isinstance(message.payload, bytes) else str(
        message.payload or "").encode()
    properties = message.properties
    correlation = getattr(properties, "CorrelationData", None) if properties else None
    response_topic = getattr(properties, "ResponseTopic", None) if properties else None
    return Arrival(
        topic_sender=topic.removeprefix(INBOUND_PREFIX),
        topic=topic,
        payload=payload,
        received_at=now.astimezone(UTC),
        broker_redelivery=bool(getattr(message, "duplicate", False)),
        correlation_data=bytes(correlation) if correlation is not None else None,
        response_topic=str(response_topic) if response_topic is not None else None,
    )


class Link:
    """The gateway's broker connection, remade with capped, jittered backoff when it drops."""

    def __init__(self, settings: MqttSettings, identifier: str,
                 now: Callable[[], datetime]) -> None:
        address = broker_address(settings)  # a bad secret or TLS file fails at start (exit 78)
        if address.tls:
            tls_context(settings)
        elif address.password is not None and not _loopback(address.host):
            log.warning("broker password travels without TLS; use mqtts://", host=address.host)
        self.settings = settings
        self.identifier = identifier
        self.now = now
        self.connected = asyncio.Event()
        self.subscribed = asyncio.Event()
        self._connection: Connection | None = None

    async def publish(self, topic: str, payload: bytes, correlation_data: bytes | None) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK; LinkDown when the link fails,
        PublishRefused when the broker does not take the message."""
        connection = self._connection
        if connection is None or not connection.open:
            raise LinkDown("not connected")
        properties = packet_properties(PacketTypes.PUBLISH)
        if correlation_data is not None:
            properties.CorrelationData = correlation_data
        try:
            refusal = await connection.client.publish_checked(topic, payload, properties,
                                                   PUBLISH_TIMEOUT_S)
        except aiomqtt.MqttError as error:
            raise LinkDown(str(error)) from error
        if refusal is not None:
            raise PublishRefused(refusal)

    async def receive(self, deliver: Callable[[Arrival, AckHandle], Any]) -> None:
        """Connect, subscribe and hand every inbound message to `deliver`, for ever."""
        backoff = RECONNECT_BACKOFF_S_MIN
        while True:
            try:
                async with self._connected() as connection:
                    backoff = RECONNECT_BACKOFF_S_MIN
                    async for message in connection.client.messages:
                        arrival = arrival_of(message, self.now())
                        handle = AckHandle(connection, message.mid, message.qos)
                        if arrival is None:
                            handle.ack()
                            continue
                        await deliver(arrival, handle)
            except (aiomqtt.MqttError, OSError, LinkDown, ConfigError) as error:
                log.warning("broker connection lost", error=str(error), retry_in_s=backoff)
            await asyncio.sleep(backoff * (0.5 + random.random() / 2))  # noqa: S311
            backoff = min(backoff * 2, RECONNECT_BACKOFF_S_MAX)

    @asynccontextmanager
    async def _connected(self) -> AsyncIterator[Connection]:
        client = new_client(self.settings, self.identifier, receive=True)
        async with client:
            connection = Connection(client)
            self._connection = connection
            try:
                await client.subscribe(inbound_topic(self.settings.group), qos=1)
                self.connected.set()
                self.subscribed.set()
                metrics.BROKER_CONNECTED.set(1)
                log.info("broker connected", topic=inbound_topic(self.settings.group))
                yield connection
            finally:
                connection.open = False
                metrics.BROKER_CONNECTED.set(0)
                self._connection = None
                self.connected.clear()
                self.subscribed.clear()
