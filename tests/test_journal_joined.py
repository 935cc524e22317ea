"""Small batches journalled and processed in one transaction (`Processor.with_journal`).

When traffic is light and processing idle, the journal writer processes its batch in the same
transaction: one commit instead of two. The guarantees stay: an arrival is acknowledged only
once committed, a message that fails is retried alone with its attempts counted, and a failed
transaction leaves the journal to go alone, never journalling an arrival twice.
"""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.pipeline import (
    RECEIVED,
    Harness,
    declaration,
    lose_the_first_commit_reply,
    noting_submits,
    wait_until,
)

from gateway import journal_writer
from gateway.delivery import dispatch
from gateway.delivery.dispatch import Dispatcher
from gateway.delivery.senders import PermanentFailure, TemporaryFailure
from gateway.journal_writer import JOINED_ARRIVALS_MAX, JournalWriter
from gateway.store.database import StoreUnavailable
from gateway.store.journal import Arrival
from gateway.store.outbox import OutboxRow

RUN_BOUND_S = 20.0


@dataclass
class Acks:
    """Stands for the broker connection: which arrivals were acknowledged, in order."""

    mids: list[int] = field(default_factory=list)

    def handle(self, mid: int) -> Any:
        acks = self

        class Handle:
            def __init__(self) -> None:
                self.mid = mid

            def ack(self) -> None:
                acks.mids.append(mid)

        return Handle()


@dataclass
class Setup:
    harness: Harness
    writer: JournalWriter
    journalled: asyncio.Event
    acks: Acks
    transactions: list[int]
    processed: list[int]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    harness = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    journalled = asyncio.Event()
    processed: list[int] = []
    writer = JournalWriter(harness.database, harness.config, harness.processor.calendar,
                           lambda: harness.config.standards, journalled, harness.processor,
                           lambda: processed.append(1))
    assert asyncio.run(harness.processor.run_pending()) == 0  # as the daemon starts
    transactions: list[int] = []
    real = harness.database.transaction

    async def counted(work: Any) -> Any:
        transactions.append(1)
        return await real(work)

    monkeypatch.setattr(harness.database, "transaction", counted)
    try:
        yield Setup(harness, writer, journalled, Acks(), transactions, processed)
    finally:
        harness.close()


def arrival(message_id: str) -> Arrival:
    return Arrival("BRK42", "carm/v1/in/BRK42", declaration(message_id=message_id), RECEIVED)


def run_writer(setup: Setup, message_ids: list[str]) -> None:
    """Queue the arrivals, let the writer take them (as one batch) and stop it."""

    async def scenario() -> None:
        for number, message_id in enumerate(message_ids):
            await setup.writer.put(arrival(message_id), setup.acks.handle(number))
        task = asyncio.create_task(setup.writer.run())
        try:
            await asyncio.wait_for(setup.writer.queue.join(), RUN_BOUND_S)
        finally:
            task.cancel()

    asyncio.run(scenario())


def statuses(setup: Setup) -> list[tuple[str, str]]:
    rows = setup.harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT message_id, status FROM inbox ORDER BY id"))
    return [(str(row[0]), str(row[1])) for row in rows]


def test_a_lone_arrival_is_journalled_and_processed_in_one_transaction(setup: Setup) -> None:
    run_writer(setup, ["joined-1"])
    assert setup.transactions == [1]
    assert setup.acks.mids == [0]
    assert statuses(setup) == [("joined-1", "done")]
    assert setup.harness.scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'mqtt'") == 1
    assert setup.processed == [1]  # the deliveries it queued are woken
    assert not setup.journalled.is_set()  # nothing is left for the processing loop


class HeldBroker:
    """Stands for the MQTT sender: notes each answer's topic, and once `holding`, keeps the
    next publish waiting (for the broker's PUBACK) until `release`."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.holding = False
        self.held = False
        self.release = asyncio.Event()

    async def ready(self) -> None:
        return None

    async def send(self, row: OutboxRow) -> None:
        if self.holding:
            self.held = True
            await self.release.wait()
        self.published.append(row.recipient)

    async def flush(self) -> None:
        return None


def answers_loop(setup: Setup, broker: HeldBroker, reads: list[str]) -> Dispatcher:
    """The MQTT loop for the writer to hand reads to, noting the reads it makes itself."""
    harness = setup.harness
    answers = Dispatcher(harness.database, "mqtt", broker, attempts=3, backoff_s_max=1,
                         now=lambda: harness.clock[0], temporary=TemporaryFailure,
                         permanent=PermanentFailure, instance="gw1")
    answers.database = noting_submits(harness.database, reads)
    setup.writer.answers = answers
    return answers


def test_a_joined_transaction_makes_the_waiting_mqtt_loop_s_read(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer of a joined transaction is read in that transaction and handed to the MQTT
    loop waiting for it: the loop publishes it without a read of its own (which would queue
    behind the next arrivals' commit). The next joined transaction records that delivery: the
    answers of light traffic cost no transaction of the loop's own."""
    monkeypatch.setattr(dispatch, "RECORD_LATER_S", 5.0)  # no read of the loop's own
    broker = HeldBroker()
    reads: list[str] = []
    answers = answers_loop(setup, broker, reads)

    async def scenario() -> None:
        loop = asyncio.create_task(answers.run())
        writer = asyncio.create_task(setup.writer.run())
        await wait_until(lambda: answers._waiting)
        reads.clear()
        for number in range(2):  # the loop is woken by the hand-over alone (IDLE_WAKE_S 5 s)
            await setup.writer.put(arrival(f"handed-{number}"), setup.acks.handle(number))
            await wait_until(lambda n=number: len(broker.published) > n and answers._waiting)
        writer.cancel()
        loop.cancel()

    asyncio.run(scenario())
    assert broker.published == ["carm/v1/out/BRK42"] * 2
    assert reads == [] and len(setup.transactions) == 2  # the two joined transactions
    recorded = setup.harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT status FROM outbox WHERE channel = 'mqtt' ORDER BY id"))
    assert [row[0] for row in recorded] == ["delivered", "pending"]  # the last, by the next


@pytest.mark.parametrize(("wait_s", "held_s", "acknowledged", "own_reads"), [
    (2.0, 0.2, [0], 0),  # the drain ends within the bound: the read is handed over
    (0.05, 0.5, [0, 1], 1),  # it does not: the transaction goes on, the loop reads itself
])
def test_a_joined_transaction_waits_a_bounded_time_for_the_mqtt_loop_s_drain(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, wait_s: float, held_s: float,
    acknowledged: list[int], own_reads: int
) -> None:
    """An arrival that comes while the MQTT loop waits for the broker's PUBACK of the answer
    before waits for that drain to end (HAND_OVER_WAIT_S at most) before its joined
    transaction, which then makes the loop's read; past the bound it goes on without it, so
    a stalled broker does not hold the journal."""
    monkeypatch.setattr(journal_writer, "HAND_OVER_WAIT_S", wait_s)
    monkeypatch.setattr(dispatch, "RECORD_LATER_S", 5.0)  # no read of the loop's own soon
    broker = HeldBroker()
    reads: list[str] = []
    answers = answers_loop(setup, broker, reads)

    async def scenario() -> list[int]:
        loop = asyncio.create_task(answers.run())
        writer = asyncio.create_task(setup.writer.run())
        await wait_until(lambda: answers._waiting)
        reads.clear()
        broker.holding = True
        await setup.writer.put(arrival("held-0"), setup.acks.handle(0))
        await wait_until(lambda: broker.held)
        await setup.writer.put(arrival("held-1"), setup.acks.handle(1))
        await asyncio.sleep(held_s)
        acknowledged_meanwhile = list(setup.acks.mids)
        broker.holding = False
        broker.release.set()
        await wait_until(lambda: len(broker.published) == 2)
        writer.cancel()
        loop.cancel()
        return acknowledged_meanwhile

    assert asyncio.run(scenario()) == acknowledged
    assert reads.count("Read") == own_reads
    assert broker.published == ["carm/v1/out/BRK42"] * 2


def test_a_burst_is_journalled_alone(setup: Setup) -> None:
    """A batch larger than JOINED_ARRIVALS_MAX is acknowledged without waiting for its
    processing: the processing loop takes it."""
    ids = [f"burst-{number}" for number in range(JOINED_ARRIVALS_MAX + 1)]
    run_writer(setup, ids)
    assert setup.acks.mids == list(range(len(ids)))
    assert {status for _, status in statuses(setup)} == {"pending"}
    assert setup.journalled.is_set() and setup.processed == []
    assert asyncio.run(setup.harness.processor.run_pending()) == len(ids)


def test_busy_processing_is_not_joined(setup: Setup) -> None:
    setup.harness.processor._busy = 1  # a run_pending under way
    run_writer(setup, ["busy-1"])
    assert statuses(setup) == [("busy-1", "pending")]
    assert setup.journalled.is_set()


def test_a_message_failing_in_the_joined_transaction_goes_alone_with_the_attempt_counted(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """It is rolled back alone (the other arrival is processed), acknowledged, and the next
    run_pending retries it alone: three attempts in all, the first the joined one."""
    monkeypatch.setenv("CARM_FAULT_POISON", "poison-1")
    run_writer(setup, ["poison-1", "fine-1"])
    assert setup.acks.mids == [0, 1]
    assert statuses(setup) == [("poison-1", "pending"), ("fine-1", "done")]
    assert setup.journalled.is_set()
    assert not setup.harness.processor.idle()
    assert asyncio.run(setup.harness.processor.run_pending()) == 1
    assert statuses(setup) == [("poison-1", "deferred"), ("fine-1", "done")]
    assert setup.harness.scalar("SELECT attempts FROM dead_letters") == 3
    assert setup.harness.scalar("SELECT COUNT(*) FROM dead_letter_attempts") == 3
    assert setup.harness.processor.idle()


def test_a_rolled_back_joined_transaction_leaves_the_journal_to_go_alone(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    processor = setup.harness.processor

    def unavailable(*_: object) -> None:
        raise StoreUnavailable("injected: the database went away during processing")

    monkeypatch.setattr(processor, "_run_batch", unavailable)
    run_writer(setup, ["rolled-1"])
    assert setup.acks.mids == [0]
    assert statuses(setup) == [("rolled-1", "pending")]
    assert setup.journalled.is_set()
    monkeypatch.undo()
    assert asyncio.run(processor.run_pending()) == 1
    assert statuses(setup) == [("rolled-1", "done")]


def test_a_joined_commit_whose_reply_is_lost_is_neither_journalled_nor_answered_twice(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """The joined transaction committed but its reply was lost: the journal alone finds the
    arrival instead of filing it again as a re-send (which would be answered with DUP001)."""
    lose_the_first_commit_reply(setup.harness.database, monkeypatch)
    run_writer(setup, ["lost-1"])
    assert setup.acks.mids == [0]
    assert statuses(setup) == [("lost-1", "done")]
    assert setup.harness.scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'mqtt'") == 1
    assert asyncio.run(setup.harness.processor.run_pending()) == 0


def test_work_the_processing_loop_has_not_taken_up_is_not_joined(setup: Setup) -> None:
    """`journalled` set: the processing loop was woken for earlier arrivals (a burst journalled
    alone) and has not taken them up yet; a small batch now must not wait for their
    processing before its acknowledgements."""
    setup.journalled.set()
    run_writer(setup, ["after-burst-1"])
    assert statuses(setup) == [("after-burst-1", "pending")]
    assert setup.processed == []


def test_a_batch_being_committed_keeps_the_writer_busy(setup: Setup,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue is empty as soon as the writer takes a batch: a draining daemon must still
    wait for that batch's commit and acknowledgements."""
    database = setup.harness.database
    real = database.transaction
    seen: list[bool] = []

    async def observed(work: Any) -> Any:
        seen.append(setup.writer.idle())
        return await real(work)

    monkeypatch.setattr(database, "transaction", observed)
    run_writer(setup, ["in-flight-1"])
    assert seen and not any(seen)
    assert setup.writer.idle()


def test_a_processing_run_overlapping_the_joined_transaction_leaves_its_failure_alone(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run_pending whose batch is read right after the joined commit, before the writer
    settles it: the message that failed in the joined transaction is left for the carried
    list, so that it is tried `[retries] attempts` times in all, the joined try included."""
    import functools  # noqa: PLC0415

    from gateway import processing  # noqa: PLC0415

    tries: list[str] = []
    poison = processing.poison_point

    def counted(message_id: str | None) -> None:
        if message_id == "overlap-1":
            tries.append(message_id)
            raise RuntimeError("injected: this message fails every time")
        poison(message_id)

    monkeypatch.setattr(processing, "poison_point", counted)
    processor = setup.harness.processor
    journal = functools.partial(setup.writer._journal_batch,
                                arrivals=[arrival("overlap-1"), arrival("overlap-2")])

    async def scenario() -> None:
        joined = asyncio.create_task(processor.with_journal(journal))
        await asyncio.sleep(0)  # its transaction is on the database thread's queue
        overlapped = asyncio.create_task(processor.run_pending())
        _, batch = await joined
        assert await overlapped == 0  # it read after the commit: nothing for it
        processor.settle_joined(batch)
        assert await processor.run_pending() == 1  # the carried message, alone

    asyncio.run(scenario())
    assert len(tries) == setup.harness.config.retries.attempts == 3
    assert statuses(setup) == [("overlap-1", "deferred"), ("overlap-2", "done")]
    assert setup.harness.scalar("SELECT COUNT(*) FROM dead_letter_attempts") == 3
