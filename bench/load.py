"""The publisher process: sends the traffic at QoS 1 and times each request to its reply.

Each request carries its sequence number as MQTT 5 correlation data; the gateway (and the echo
client) return it on `carm/v1/out/{sender}`, which this process subscribes to. Modes:

- `closed`: at most `--window` requests wait for a reply at once (as fast as the service
  takes them): the sustained rate, and latency under saturation;
- `open`: requests go at `--rate` a second whatever the replies do (latency at a given load);
  `--rate 0` sends `--count` requests as fast as the broker takes them (a burst).

Bounded in time (`--seconds` of sending, then at most `--drain-s` for the last replies) and in
count (`--count`). Prints `mark warm` when the measured interval starts and `mark end` when it
ends (the runner reads CPU time at both), then one JSON line with the result.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parent))

from traffic import LARGE_LINES, Traffic, make_partners

CONNECT_TIMEOUT_S = 10.0
INFLIGHT_PUBLISHES_MAX = 1000
"""Unacknowledged publishes to the broker at once (paho's default is 20)."""
STATUS = re.compile(rb"<(?:\w+:)?Status>([a-z]+)<")
STATUS_SCAN_BYTES = 2048
BROKER_ACK_TIMEOUT_S = 1.0
OUTSTANDING_MAX = 400_000
"""Requests waiting for a reply at once in open mode: bounds memory (above the burst, whose
replies come at the processing rate)."""


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class Book:
    """Send times by correlation number, and what came back."""

    sent_at: dict[int, float] = field(default_factory=dict)
    latencies: list[tuple[float, float]] = field(default_factory=list)
    """(reply time, latency s) of each reply."""
    large: set[int] = field(default_factory=set)
    """Correlation numbers of the messages of LARGE_LINES lines (mix declaration-10-large)."""
    small_latencies: list[tuple[float, float]] = field(default_factory=list)
    large_latencies: list[tuple[float, float]] = field(default_factory=list)
    """The same as `latencies` for the other messages and for the large ones."""
    unknown: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    """Status of each XML Acknowledgement received; `other` for any other reply."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    replied: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.replied = threading.Condition(self.lock)


class Publisher:
    def __init__(self, port: int, window: int) -> None:
        self.book = Book()
        self.window = threading.Semaphore(window) if window > 0 else None
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-load-{port}",
                                  protocol=paho.MQTTv5)
        self.client.max_inflight_messages_set(INFLIGHT_PUBLISHES_MAX)
        self.client.max_queued_messages_set(0)
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.unacknowledged = threading.BoundedSemaphore(INFLIGHT_PUBLISHES_MAX)
        """Publishes the broker has not acknowledged yet: a burst waits for them, so that
        paho never queues the whole burst in memory nor drops it at the disconnect."""
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.ReceiveMaximum = 1000
        self.client.connect("127.0.0.1", port, properties=properties)
        # the instrument adds no Nagle delay of its own (paho leaves it on)
        socket_ = self.client.socket()
        if isinstance(socket_, socket.socket):
            socket_.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        self.client.subscribe("carm/v1/out/#", qos=1)
        if not self.subscribed.wait(CONNECT_TIMEOUT_S):
            raise TimeoutError("no SUBACK from the broker")

    def _on_message(self, client: object, userdata: object, message: paho.MQTTMessage) -> None:
        now = time.perf_counter()
        correlation = getattr(message.properties, "CorrelationData", None)
        number = int.from_bytes(correlation, "big") if correlation else -1
        with self.book.lock:
            sent = self.book.sent_at.pop(number, None)
            if sent is None:
                self.book.unknown += 1
                return
            self.book.latencies.append((now, now - sent))
            (self.book.large_latencies if number in self.book.large
             else self.book.small_latencies).append((now, now - sent))
            found = STATUS.search(message.payload[:STATUS_SCAN_BYTES])
            self.book.statuses[found[1].decode() if found else "other"] += 1
            self.book.replied.notify_all()
        if self.window is not None:
            self.window.release()

    def _on_publish(self, client: object, userdata: object, mid: int, *_: object) -> None:
        self.unacknowledged.release()

    def wait_for_broker(self, timeout_s: float) -> bool:
        """Until the broker acknowledged every publish (or the timeout)."""
        deadline = time.monotonic() + timeout_s
        taken = 0
        while taken < INFLIGHT_PUBLISHES_MAX:
            if not self.unacknowledged.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
            taken += 1
        for _ in range(taken):
            self.unacknowledged.release()
        return taken == INFLIGHT_PUBLISHES_MAX

    def send(self, number: int, sender: str, payload: bytes, *, large: bool = False) -> None:
        while not self.unacknowledged.acquire(timeout=BROKER_ACK_TIMEOUT_S):
            pass  # the broker is slow to take more: wait, the run's bound still applies
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = number.to_bytes(8, "big")
        with self.book.lock:
            self.book.sent_at[number] = time.perf_counter()
            if large:
                self.book.large.add(number)
        self.client.publish(f"carm/v1/in/{sender}", payload, qos=1, properties=properties)

    def outstanding(self) -> int:
        with self.book.lock:
            return len(self.book.sent_at)

    def drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self.book.lock:
            while self.book.sent_at and time.monotonic() < deadline:
                self.book.replied.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mark(word: str) -> None:
    print(f"mark {word}", flush=True)


def run(arguments: argparse.Namespace) -> dict[str, object]:
    partners = make_partners(arguments.seed)
    traffic = Traffic(partners, seed=arguments.seed, stream=arguments.stream, mix=arguments.mix,
                      edifact_share=arguments.edifact_share)
    head = traffic.take(min(arguments.count, 2000))
    publisher = Publisher(arguments.port, arguments.window if arguments.mode == "closed" else 0)
    started = time.perf_counter()
    warm_at = started + arguments.warmup_s
    end_at = started + arguments.seconds
    warm_marked = False
    sent = sent_in_window = 0
    interval = 1.0 / arguments.rate if arguments.mode == "open" and arguments.rate > 0 else 0.0
    while sent < arguments.count:
        now = time.perf_counter()
        if now >= end_at:
            break
        if not warm_marked and now >= warm_at:
            mark("warm")
            warm_marked = True
        if publisher.window is not None:
            if not publisher.window.acquire(timeout=0.2):
                continue
        elif interval:
            due = started + sent * interval
            if due > now:
                time.sleep(due - now)
        if publisher.window is None and publisher.outstanding() >= OUTSTANDING_MAX:
            time.sleep(0.01)
            continue
        message = head[sent] if sent < len(head) else traffic.next_message()
        publisher.send(sent, message.sender, message.payload,
                       large=message.lines >= LARGE_LINES)
        sent += 1
        if warm_marked:
            sent_in_window += 1
    ended = time.perf_counter()
    if not warm_marked:
        mark("warm")
        warm_at = started
    mark("end")
    publisher.wait_for_broker(max(10.0, arguments.drain_s))
    publisher.drain(arguments.drain_s)
    drained = time.perf_counter()
    publisher.close()
    with publisher.book.lock:
        replies = list(publisher.book.latencies)
        small = sorted(latency for at, latency in publisher.book.small_latencies
                       if at - latency >= warm_at)
        large = sorted(latency for at, latency in publisher.book.large_latencies
                       if at - latency >= warm_at)
        large_count = len(publisher.book.large)
        missing = len(publisher.book.sent_at)
        unknown = publisher.book.unknown
        statuses = dict(publisher.book.statuses)
    if arguments.dump:
        dump_latencies(Path(arguments.dump), replies, started)
    in_window = sorted(latency for at, latency in replies if warm_at <= at <= ended)
    measured_s = max(1e-9, ended - warm_at)
    every = sorted(latency for at, latency in replies if at - latency >= warm_at)
    last_reply = max((at for at, _ in replies), default=started)
    return {
        "mode": arguments.mode, "mix": arguments.mix, "sent": sent, "replies": len(replies),
        "missing": missing, "unknown": unknown, "statuses": statuses,
        "send_s": round(ended - started, 3), "measured_s": round(measured_s, 3),
        "drain_s": round(drained - ended, 3),
        "rate_per_s": round(len(in_window) / measured_s, 2),
        "sent_rate_per_s": round(sent / max(1e-9, ended - started), 2),
        "completion_s": round(last_reply - started, 3),
        "latency_ms": {
            **summary_ms(every),
            "mean": round(sum(every) / len(every) * 1000, 3) if every else 0.0,
        },
        "large_sent": large_count,
        "latency_ms_small": summary_ms(small),
        "latency_ms_large": summary_ms(large),
    }


def dump_latencies(path: Path, replies: list[tuple[float, float]], started: float) -> None:
    """One line per reply, in reply order: seconds from the start to its send, latency ms."""
    with path.open("w", encoding="utf-8") as handle:
        for at, latency in replies:
            handle.write(f"{at - latency - started:.6f} {latency * 1000:.3f}\n")


def summary_ms(latencies: list[float]) -> dict[str, float]:
    """p50, p99 and max of sorted latencies in seconds, in milliseconds."""
    return {"p50": round(percentile(latencies, 0.50) * 1000, 3),
            "p99": round(percentile(latencies, 0.99) * 1000, 3),
            "max": round((latencies[-1] if latencies else 0.0) * 1000, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("closed", "open"), default="closed")
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=1.0)
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--drain-s", type=float, default=30.0)
    parser.add_argument("--mix", default="declaration-10")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stream", type=int, default=0)
    parser.add_argument("--edifact-share", type=float, default=0.0)
    parser.add_argument("--dump", help="write each reply's send time and latency to this file")
    result = run(parser.parse_args())
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
