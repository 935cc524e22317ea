"""The receiving client holds at most `pause_at` messages in memory, whatever the broker sends:
it stops reading its socket and the rest waits at the broker (mosquitto 2.0 overshoots the
Receive Maximum window when a client acknowledges in batches)."""

import asyncio
import dataclasses

import paho.mqtt.client as paho
from support.peers import Broker

from gateway.config import MqttSettings
from gateway.transport.mqtt import new_client
from gateway.transport.receiving import ReceivingClient

MESSAGES = 400
PAUSE_AT = 20
BOUND_S = 20.0


def publish_all(broker: Broker, count: int) -> None:
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="flow-publisher",
                            protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        sent = [publisher.publish("carm/v1/in/BRK1", f"{number}".encode(), qos=1)
                for number in range(count)]
        for info in sent:
            info.wait_for_publish(timeout=BOUND_S)
    finally:
        publisher.loop_stop()
        publisher.disconnect()


async def test_intake_pauses_at_its_bound_and_loses_nothing(broker: Broker) -> None:
    # a window far above the bound: only the client's own pause can hold the intake
    settings = dataclasses.replace(MqttSettings(url=broker.url), receive_maximum=1000)
    client = new_client(settings, "flow-test", receive=True)
    assert isinstance(client, ReceivingClient)
    client.pause_at, client.resume_at = PAUSE_AT, PAUSE_AT // 2
    async with client:
        await client.subscribe("carm/v1/in/+", qos=1)
        await asyncio.to_thread(publish_all, broker, MESSAGES)
        await asyncio.sleep(0.5)  # time for the broker to push whatever it would
        assert len(client.messages) == PAUSE_AT
        assert client.paused

        received: list[int] = []
        async with asyncio.timeout(BOUND_S):
            async for message in client.messages:
                assert len(client.messages) <= PAUSE_AT
                received.append(int(bytes(message.payload)))  # type: ignore[arg-type]
                client._client.ack(message.mid, message.qos)
                if len(received) == MESSAGES:
                    break
    assert received == list(range(MESSAGES))
    assert client.pauses >= MESSAGES // PAUSE_AT // 2
