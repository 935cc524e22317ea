"""The receiving client: aiomqtt's, with the DUP flag kept and its intake bounded.

The broker should send at most Receive Maximum unacknowledged messages, but mosquitto 2.0
overshoots it when the client acknowledges in batches and publishes at the same time (measured
in docs/performance.md: thousands of messages over a window of 1000 during a burst). aiomqtt
queues whatever arrives, so a burst would sit in memory. Here the client stops reading its
socket when its queue holds `pause_at` messages and reads again once the queue is down to half:
TCP flow control then holds the rest in the broker, which keeps them for the session.

`_on_socket_open` follows aiomqtt 2.5's own (read until an SSL socket has nothing pending,
report a broken connection through `_disconnected`), keeping the reader so it can be paused.

aiomqtt also drops the reason code of a PUBACK: `publish_checked` returns it when the broker
refused the message (MQTT 5, codes 0x80 and above), so that a refused answer does not count
as delivered.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import structlog
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = structlog.get_logger("gateway.mqtt")


class _IncomingQueue(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's queue of received messages, telling its client each time one is taken."""

    def __init__(self, taken: Callable[[int], None]) -> None:
        super().__init__()
        self._taken = taken

    def get_nowait(self) -> aiomqtt.Message:  # asyncio.Queue.get() comes through here too
        message = super().get_nowait()
        self._taken(self.qsize())
        return message


class ReceivingClient(aiomqtt.Client):
    def __init__(self, *args: Any, pause_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue = _IncomingQueue(self._taken)
        self.pause_at = max(1, pause_at)
        self.resume_at = self.pause_at // 2
        self._reader: tuple[int, Callable[[], None]] | None = None
        self.paused = False
        self.pauses = 0
        self._refusals: dict[int, ReasonCode] = {}

    async def publish_checked(self, topic: str, payload: bytes, properties: Properties,
                              timeout_s: float) -> ReasonCode | None:
        """Publish at QoS 1 and wait for the PUBACK (as aiomqtt's `publish`); the broker's
        refusal, or None when it took the message."""
        info = self._client.publish(topic, payload, 1, False, properties)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        try:
            if not info.is_published():
                confirmation = asyncio.Event()
                with self._pending_call(info.mid, confirmation, self._pending_publishes):
                    await self._wait_for(confirmation.wait(), timeout=timeout_s)
            return self._refusals.get(info.mid)
        finally:
            self._refusals.pop(info.mid, None)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int,
                    reason_code: ReasonCode, properties: Properties) -> None:
        if reason_code.is_failure:
            self._refusals[mid] = reason_code
        super()._on_publish(client, userdata, mid, reason_code, properties)

    def _on_message(self, client: paho.Client, userdata: Any,
                    message: paho.MQTTMessage) -> None:
        converted = aiomqtt.Message._from_paho_message(message)
        converted.duplicate = bool(message.dup)  # type: ignore[attr-defined]
        self._queue.put_nowait(converted)
        if self._queue.qsize() >= self.pause_at and not self.paused and self._reader:
            self._loop.remove_reader(self._reader[0])
            self.paused = True
            self.pauses += 1
            log.debug("intake paused", queued=self._queue.qsize())

    def _taken(self, remaining: int) -> None:
        if self.paused and remaining <= self.resume_at:
            self.paused = False
            if self._reader is not None:
                self._loop.add_reader(*self._reader)
                log.debug("intake resumed", queued=remaining)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def read() -> None:
            try:
                while True:
                    client.loop_read()
                    pending = getattr(client._sock, "pending", None)  # SSL: decrypted bytes
                    if pending is None or pending() <= 0:
                        break
            except Exception as error:  # a broken connection: aiomqtt reconnects
                if not self._disconnected.done():
                    self._disconnected.set_exception(error)

        def start() -> None:
            self._reader = (sock.fileno(), read)
            self.paused = False
            self._loop.add_reader(*self._reader)
            self._misc_task = self._loop.create_task(self._misc_loop())

        # paho calls this on the thread that connects: hand over to the event loop
        self._loop.call_soon_threadsafe(start)

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._reader = None
        super()._on_socket_close(client, userdata, sock)
