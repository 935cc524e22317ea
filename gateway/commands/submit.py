"""`carm-gateway submit FILE... --sender ID`: publish as a partner and wait for the outcomes.

Each file goes out on `carm/v1/in/{sender}` with its own MQTT 5 correlation data; the answer
with the same correlation data on `carm/v1/out/{sender}` is printed. An EDIFACT interchange
may be answered by more than one response; the business response ends the wait: the CONTRL
comes first, then a CUSRES or APERAK for each message that passed syntax, and the file's status
is theirs (the worst of them; a message the CONTRL rejected counts as rejected). A CONTRL that
rejects the interchange (UCI action 4) ends the wait alone, as rejected.

With `--username` it connects as that partner, with the password of `--password-file` only
(never the password of the configuration's account); without it, as the configuration's URL
says. A login, a subscription or a publish the broker refuses is reported at once (exit 1).
"""

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import aiomqtt
from lxml import etree
from paho.mqtt.packettypes import PacketTypes

from gateway.codec.classify import syntax_of
from gateway.codec.edifact import EdiMessage, tokenize
from gateway.codec.edifact.responses import ACCEPTED, REJECTED, RESPONSE_TYPE
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
STATUS_OF_RESPONSE_TYPE = {code: status for status, code in RESPONSE_TYPE.items()}
"""BGM 4343 of a CUSRES or APERAK back to the Status it stands for."""
BUSINESS_RESPONSES = ("CUSRES", "APERAK")


class BrokerRefused(Exception):
    """The broker refused the login, the subscription to the answers, or a publish."""


@dataclass(frozen=True)
class Answer:
    """What came back for one file, in order of arrival, and its status; None when the wait
    was not over before the timeout."""

    responses: tuple[bytes, ...]
    status: str | None


def _xml_status(payload: bytes) -> str:
    try:
        root = etree.fromstring(payload, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return "unknown"
    found = root.find("{*}Status")
    return (found.text or "unknown") if found is not None else "unknown"


def _contrl_actions(message: EdiMessage) -> tuple[str, list[str]]:
    """The 0083 action of a CONTRL's UCI, and of each of its UCM."""
    interchange = next((s.component(4) for s in message.segments if s.tag == "UCI"), "")
    return interchange, [s.component(3) for s in message.segments if s.tag == "UCM"]


def _business_answer(message: EdiMessage) -> tuple[str, str]:
    """The message a CUSRES or APERAK answers (RFF+ACW) and its status (BGM 4343)."""
    reference = next((s.component(1, 2) for s in message.segments
                      if s.tag == "RFF" and s.component(1) == "ACW"), "")
    code = next((s.component(4) for s in message.segments if s.tag == "BGM"), "")
    return reference, STATUS_OF_RESPONSE_TYPE.get(code, "unknown")


def _worst(statuses: Sequence[str]) -> str:
    return max(statuses, key=lambda status: STATUS_EXIT.get(status, EXIT_FAILED))


def edifact_status(responses: Sequence[bytes]) -> str | None:
    """The status of an EDIFACT interchange from the responses so far (in any order), or None
    while one is still due: the CONTRL, and a business response for each message its UCM
    accepted (a response delivered twice counts once). An XML Acknowledgement is final."""
    actions: list[str] | None = None
    answered: dict[str, str] = {}
    for payload in responses:
        if syntax_of(payload) != "edifact":
            return _xml_status(payload)
        for message in tokenize(payload).messages:
            if message.message_type == "CONTRL":
                interchange_action, actions = _contrl_actions(message)
                if interchange_action == REJECTED:
                    return "rejected"
            elif message.message_type in BUSINESS_RESPONSES:
                reference, status = _business_answer(message)
                answered[reference] = status
    if actions is None or len(answered) < actions.count(ACCEPTED):
        return None
    broken = ["rejected" for action in actions if action != ACCEPTED]
    statuses = [*answered.values(), *broken]
    return _worst(statuses) if statuses else "accepted"


def _status(request: bytes, responses: Sequence[bytes]) -> str | None:
    if syntax_of(request) == "edifact":
        return edifact_status(responses)
    return _xml_status(responses[-1]) if responses else None


def _text(response: bytes) -> str:
    """A response to print: EDIFACT in ISO 8859-1 (UNOC), the Acknowledgement in UTF-8."""
    if syntax_of(response) == "edifact":
        return response.decode("latin-1")
    return response.decode("utf-8", "replace")


async def _submit(config: Config, payloads: dict[str, bytes], sender: str,
                  username: str | None, password: str | None,
                  timeout_s: float) -> dict[str, Answer]:
    settings = config.mqtt
    address = broker_address(replace(settings, password_file=None))
    if username is None:
        username = address.username
        password = password if password is not None else address.password
    responses: dict[str, list[bytes]] = {name: [] for name in payloads}
    statuses: dict[str, str | None] = dict.fromkeys(payloads)
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
                # the same response twice (at-least-once delivery, or both subscriptions
                # matching) is one response
                if name is None or statuses[name] is not None or \
                        not isinstance(message.payload, bytes) or \
                        message.payload in responses[name]:
                    continue
                responses[name].append(message.payload)
                statuses[name] = _status(payloads[name], responses[name])
                if all(status is not None for status in statuses.values()):
                    return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(collect(), timeout=timeout_s)
    return {name: Answer(tuple(responses[name]), statuses[name]) for name in payloads}


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
    texts = {name: "".join(_text(response) for response in answer.responses)
             for name, answer in answers.items()}
    if as_json:
        print(json.dumps([{"file": name, "status": answer.status, "answer": texts[name] or None}
                          for name, answer in answers.items()], indent=2))
    else:
        for name, answer in answers.items():
            print(f"== {name}: {answer.status or 'no answer before the timeout'}")
            if texts[name]:
                print(texts[name])
    statuses = [answer.status for answer in answers.values()]
    if any(status is None for status in statuses):
        return EXIT_TIMEOUT
    return max(STATUS_EXIT.get(status or "", EXIT_FAILED) for status in statuses)
