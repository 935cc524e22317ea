"""`carm-gateway submit FILE... --sender ID`: publish as a partner and wait for the outcomes.

Each file goes out on `carm/v1/in/{sender}` with its own MQTT 5 correlation data; the answer
with the same correlation data on `carm/v1/out/{sender}` is printed. An EDIFACT interchange
may be answered by more than one response; the business response ends the wait.

With `--username` it connects as that partner, with the password of `--password-file` only
(never the password of the configuration's account); without it, as the configuration's URL
says. A login, a subscription or a publish the broker refuses is reported at once (exit 1).
"""

import asyncio
import contextlib
import json
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import aiomqtt
from lxml import etree
from paho.mqtt.packettypes import PacketTypes

from gateway.commands import EXIT_DEFERRED, EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, UsageError
from gateway.config import Config, ConfigError
from gateway.secrets import read_secret
from gateway.transport.mqtt import (
    CONNECT_TIMEOUT_S,
    PartnerClient,
    broker_address,
    packet_properties,
    tls_context,
)

STATUS_EXIT = {"accepted": EXIT_OK, "received": EXIT_OK, "rejected": EXIT_FAILED,
               "deferred": EXIT_DEFERRED}


class BrokerRefused(Exception):
    """The broker refused the login, the subscription to the answers, or a publish."""


def _status(payload: bytes) -> str:
    try:
        root = etree.fromstring(payload, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return "unknown"
    found = root.find("{*}Status")
    return (found.text or "unknown") if found is not None else "unknown"


async def _submit(config: Config, payloads: dict[str, bytes], sender: str,
                  username: str | None, password: str | None,
                  timeout_s: float) -> dict[str, bytes | None]:
    settings = config.mqtt
    address = broker_address(replace(settings, password_file=None))
    if username is None:
        username = address.username
        password = password if password is not None else address.password
    answers: dict[str, bytes | None] = dict.fromkeys(payloads)
    correlation = {uuid.uuid4().bytes: name for name in payloads}
    async with PartnerClient(
        address.host, address.port, username=username, password=password,
        identifier=f"carm-submit-{sender}-{uuid.uuid4().hex[:8]}",
        protocol=aiomqtt.ProtocolVersion.V5, timeout=CONNECT_TIMEOUT_S,
        tls_context=tls_context(settings) if address.tls else None,
        tls_insecure=False if address.tls else None,
    ) as client:
        await client.subscribe(f"carm/v1/out/{sender}/#", qos=1)
        granted = await client.subscribe(f"carm/v1/out/{sender}", qos=1)
        if any(getattr(code, "is_failure", False) for code in granted):
            raise BrokerRefused(f"the broker refuses {username or 'this account'} the answers "
                                f"on carm/v1/out/{sender}: {granted[0]}")
        for key, name in correlation.items():
            properties = packet_properties(PacketTypes.PUBLISH)
            properties.CorrelationData = key
            await client.publish(f"carm/v1/in/{sender}", payloads[name], qos=1,
                                 properties=properties)
            if client.refusals:
                raise BrokerRefused(f"{name}: the broker refused the publish on "
                                    f"carm/v1/in/{sender} by {username or 'this account'}: "
                                    f"{client.refusals[0]}")

        async def collect() -> None:
            async for message in client.messages:
                key = getattr(message.properties, "CorrelationData", None)
                name = correlation.get(bytes(key)) if key is not None else None
                if name is not None and isinstance(message.payload, bytes):
                    answers[name] = message.payload
                if all(answer is not None for answer in answers.values()):
                    return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(collect(), timeout=timeout_s)
    return answers


def submit(config: Config, files: list[str], *, sender: str, username: str | None,
           password_file: Path | None, timeout_s: float, as_json: bool) -> int:
    payloads = {}
    for name in files:
        try:
            payloads[name] = Path(name).read_bytes()
        except OSError as error:
            raise UsageError(f"{name}: cannot read: {error.strerror}") from None
    password = None
    if password_file is not None:
        try:
            password = read_secret(password_file, "--password-file")
        except ConfigError as error:
            raise UsageError(str(error)) from None
    try:
        answers = asyncio.run(_submit(config, payloads, sender, username, password, timeout_s))
    except (BrokerRefused, aiomqtt.MqttError) as error:
        print(f"carm-gateway: submit: {error}", file=sys.stderr)
        return EXIT_FAILED
    statuses = {name: (_status(answer) if answer is not None else None)
                for name, answer in answers.items()}
    if as_json:
        print(json.dumps([{"file": name, "status": statuses[name],
                           "answer": answer.decode("utf-8", "replace") if answer else None}
                          for name, answer in answers.items()], indent=2))
    else:
        for name, answer in answers.items():
            print(f"== {name}: {statuses[name] or 'no answer before the timeout'}")
            if answer is not None:
                print(answer.decode("utf-8", "replace"))
    if any(status is None for status in statuses.values()):
        return EXIT_TIMEOUT
    return max(STATUS_EXIT.get(status or "", EXIT_FAILED) for status in statuses.values())
