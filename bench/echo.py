"""The echo baseline: the ceiling of any MQTT request/response service on this broker.

Subscribes to `carm/v1/in/+` at QoS 1 with the gateway's stack (aiomqtt 2.5, MQTT 5, the same
Receive Maximum, TCP_NODELAY on its socket unless `--nagle`) and answers each message at once
with an Acknowledgement-sized reply at QoS 1 on `carm/v1/out/{sender}`, returning the request's
correlation data. No journal, no checks: what the gateway does beyond this is what its ratio to
the echo measures. Prints `ready` once subscribed; runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

RECEIVE_MAXIMUM = 1000
PUBLISHES_AT_ONCE = 1000
REPLY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<Acknowledgement xmlns="urn:carm-gateway:message:1">\n'
    b"  <AcknowledgementID>echo-000000000001</AcknowledgementID>\n"
    b"  <RefMessageID>BRK01-B001-00-000000001</RefMessageID>\n  <Sender>BRK01</Sender>\n"
    b"  <Kind>declaration</Kind>\n  <Reference>00100000000016/1</Reference>\n"
    b"  <Status>accepted</Status>\n  <ReceivedAt>2026-11-23T14:05:00Z</ReceivedAt>\n"
    b"  <RespondBy>2026-11-25T14:05:00Z</RespondBy>\n  <Assessment>\n"
    b"    <Duty>599.46</Duty>\n    <ExciseTax>12.34</ExciseTax>\n    <GST>481.27</GST>\n"
    b"    <Total>1093.07</Total>\n  </Assessment>\n  <Balance>1093.07</Balance>\n"
    b"  <PaymentDue>2026-12-31</PaymentDue>\n</Acknowledgement>\n"
)


async def serve(port: int, *, nodelay: bool) -> None:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    slots = asyncio.Semaphore(PUBLISHES_AT_ONCE)
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"bench-echo-{port}",
                              protocol=aiomqtt.ProtocolVersion.V5, properties=properties,
                              max_inflight_messages=PUBLISHES_AT_ONCE) as client:

        if nodelay:
            raw = client._client.socket()
            if isinstance(raw, socket.socket):
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.pending_calls_threshold = PUBLISHES_AT_ONCE + 1  # its warning is for leaks

        async def reply(topic: str, correlation: bytes | None) -> None:
            try:
                reply_properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                if correlation is not None:
                    reply_properties.CorrelationData = correlation
                await client.publish(topic, REPLY, qos=1, properties=reply_properties)
            finally:
                slots.release()

        async def answer() -> None:
            async with asyncio.TaskGroup() as group:
                async for message in client.messages:
                    sender = message.topic.value.rsplit("/", 1)[-1]
                    correlation = getattr(message.properties, "CorrelationData", None)
                    await slots.acquire()
                    group.create_task(reply(f"carm/v1/out/{sender}", correlation))

        await client.subscribe("carm/v1/in/+", qos=1)
        print("ready", flush=True)
        task = asyncio.create_task(answer(), name="answer")
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nagle", action="store_true",
                        help="leave Nagle's algorithm on (paho's default) instead of setting "
                             "TCP_NODELAY on the client's socket")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.port, nodelay=not arguments.nagle))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
