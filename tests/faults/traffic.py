"""Seeded traffic for the fault tests, a fast publisher, and waiting for the gateway to settle."""

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from support.peers import Broker
from support.pipeline import declaration, payment

from gateway.identifiers import luhn_valid
from gateway.store.database import StoreUnavailable, Tx, open_database


def transaction_number(seed: int, index: int) -> str:
    stem = f"{seed % 100:02d}345{index:08d}"[:13]
    return stem + next(str(d) for d in range(10) if luhn_valid(stem + str(d)))


@dataclass(frozen=True)
class Message:
    message_id: str
    payload: bytes


def traffic(seed: int, count: int) -> list[Message]:
    """Declarations (about 75 %) and payments for BRK42's account, unique ids, from a seed."""
    rng = random.Random(seed)
    messages = []
    for index in range(count):
        message_id = f"S{seed}-{index:05d}"
        if rng.random() < 0.75:
            value = Decimal(rng.randint(100, 500_000)) / 100
            line = f"""
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Goods</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>{value}</Value><DutyRate>6.5</DutyRate></Line>"""
            payload = declaration(message_id=message_id,
                                  transaction=transaction_number(seed, index), lines=line)
        else:
            amount = Decimal(rng.randint(100, 200_000)) / 100
            payload = payment(message_id=message_id, reference=f"P-{seed}-{index}",
                              amount=str(amount))
        messages.append(Message(message_id, payload))
    return messages


def publish(broker: Broker, messages: list[Message], *, topic: str = "carm/v1/in/BRK42",
            pause_s: Callable[[], float] = lambda: 0.0, timeout_s: float = 60.0) -> None:
    """Publish at QoS 1 over one connection, waiting for each PUBACK from the broker."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5,
                         client_id=f"publisher-{random.random():.8f}")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for message in messages:
            info = client.publish(topic, message.payload, qos=1)
            info.wait_for_publish(timeout=timeout_s)
            delay = pause_s()
            if delay:
                time.sleep(delay)
    finally:
        client.loop_stop()
        client.disconnect()


def publish_in_background(broker: Broker, messages: list[Message],
                          pause_s: Callable[[], float]) -> threading.Thread:
    thread = threading.Thread(target=publish, args=(broker, messages), kwargs={"pause_s": pause_s},
                              daemon=True)
    thread.start()
    return thread


def _progress(tx: Tx) -> tuple[set[str], int]:
    done = {str(row[0]) for row in tx.all(
        "SELECT i.message_id FROM inbox i JOIN outcomes o ON o.inbox_id = i.id"
        " AND o.superseded = 0 WHERE o.status <> 'deferred'")}
    pending = tx.one("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    return done, int(pending[0]) if pending else 0


def wait_settled(database_url: str, message_ids: list[str], timeout_s: float = 90.0) -> bool:
    """Until every message has an outcome and nothing waits in the outbox (bounded)."""
    if database_url.startswith("sqlite:///"):
        database_url = "sqlite:///" + database_url.removeprefix("sqlite:///")
    elif "://" not in database_url:
        database_url = f"sqlite:///{database_url}"
    deadline = time.monotonic() + timeout_s
    wanted = set(message_ids)
    while time.monotonic() < deadline:
        try:
            database = open_database(database_url)
            try:
                done, pending = database.transaction_sync(_progress)
            finally:
                database.close_sync()
            if wanted <= done and pending == 0:
                return True
        except (StoreUnavailable, sqlite3.OperationalError, psycopg.OperationalError):
            pass
        time.sleep(0.2)
    return False
