"""Draining the outbox to SMTP and Maildir: retries, dead rows, stable Message-IDs."""

import asyncio
import mailbox
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.mail import MailServer
from support.pipeline import Harness, example, job_name, noting_submits, wait_until

from gateway.config import SmtpSettings
from gateway.delivery import dispatch
from gateway.delivery.dispatch import Dispatcher
from gateway.delivery.senders import MaildirSender, PermanentFailure, SmtpSender, TemporaryFailure
from gateway.store import outbox
from gateway.store.database import Tx
from gateway.store.outbox import OutboxRow


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    yield opened
    opened.close()


def dispatcher(harness: Harness, sender: object, attempts: int = 3) -> Dispatcher:
    return Dispatcher(harness.database, "email", sender, attempts=attempts,  # type: ignore[arg-type]
                      backoff_s_max=1, now=lambda: harness.clock[0],
                      temporary=TemporaryFailure, permanent=PermanentFailure, instance="gw1")


class Recorder:
    """A sender that takes every row and notes its recipient."""

    def __init__(self, recipients: list[str]) -> None:
        self.recipients = recipients

    async def ready(self) -> None:
        return None

    async def send(self, row: OutboxRow) -> None:
        self.recipients.append(row.recipient)

    async def flush(self) -> None:
        return None


def advance(harness: Harness, seconds: float) -> None:
    harness.clock[0] += timedelta(seconds=seconds)


def statuses(harness: Harness) -> list[tuple[str, int]]:
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT status, attempts FROM outbox WHERE channel = 'email' ORDER BY id"))
    return [(str(r[0]), int(r[1])) for r in rows]


def test_temporary_failures_are_retried_with_the_same_message_id(
    harness: Harness, mail_server: MailServer
) -> None:
    """A 451 is retried after a backoff; the email that finally goes is byte for byte the one
    queued, so its Message-ID is the same on every attempt."""
    harness.submit(example("declaration.xml"))
    queued = harness.scalar("SELECT header_message_id FROM outbox WHERE channel = 'email'")
    mail_server.handler.failures.append("451 4.3.0 try again later")
    sender = SmtpSender(SmtpSettings(url=mail_server.url, start_tls=False))
    loop = dispatcher(harness, sender)

    async def scenario() -> None:
        next_due = await loop.drain_once()
        assert next_due is not None and next_due > harness.clock[0]
        assert statuses(harness) == [("pending", 1)]
        advance(harness, 5)
        await loop.drain_once()
        await sender.close()

    asyncio.run(scenario())
    assert statuses(harness) == [("delivered", 2)]
    delivered = mail_server.wait_for(1)[0].message
    assert delivered["Message-ID"] == queued


def test_permanent_failure_marks_the_row_dead_and_others_still_go(
    harness: Harness, mail_server: MailServer
) -> None:
    """A 550 kills that delivery at once; the next row is delivered."""
    harness.submit(example("declaration.xml"))
    harness.submit(example("declaration-contract.xml"))
    mail_server.handler.failures.append("550 5.1.1 no such user")
    sender = SmtpSender(SmtpSettings(url=mail_server.url, start_tls=False))

    async def scenario() -> None:
        await dispatcher(harness, sender).drain_once()
        await sender.close()

    asyncio.run(scenario())
    assert statuses(harness) == [("dead", 1), ("delivered", 1)]


def test_attempts_run_out_when_the_server_is_down(harness: Harness) -> None:
    """Connection refused is temporary; after `attempts` tries the row is dead."""
    harness.submit(example("declaration.xml"))
    sender = SmtpSender(SmtpSettings(url="smtp://127.0.0.1:1", start_tls=False))
    loop = dispatcher(harness, sender, attempts=2)

    async def scenario() -> None:
        for _ in range(2):
            await loop.drain_once()
            advance(harness, 60)

    asyncio.run(scenario())
    assert statuses(harness) == [("dead", 2)]


def test_maildir_default_receives_the_email(harness: Harness, tmp_path: Path) -> None:
    """Without an SMTP url, every email lands in the Maildir; delivery stops the clock."""
    harness.submit(example("declaration.xml"))
    directory = tmp_path / "state" / "mail"
    asyncio.run(dispatcher(harness, MaildirSender(directory)).drain_once())
    messages = list(mailbox.Maildir(directory, create=False))
    assert len(messages) == 1
    assert messages[0]["Subject"] == "[CARM] Accepted: declaration 12345000001235/1"
    assert harness.scalar("SELECT clock_stopped_at FROM inbox") is not None


def test_maildir_flushes_the_file_before_its_link_and_new_after_the_send(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The email's file is flushed to disk before its name is linked into new/, and new/,
    holding the name, by `flush` (a file's own fsync does not make its directory entry
    durable); after `close`, `flush` still flushes what was written."""
    directory = tmp_path / "mail"
    sender = MaildirSender(directory)
    flushed: list[tuple[str, list[str]]] = []
    fsync = os.fsync

    def noted(descriptor: int) -> None:
        path = os.readlink(f"/proc/self/fd/{descriptor}")
        flushed.append((path, sorted(os.listdir(directory / "new"))))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", noted)
    payload = b"Subject: one\n\nbody\n"
    row = OutboxRow(1, None, "outcome", "email", "a@b.example", payload, None, None, 0)

    async def scenario() -> None:
        await sender.send(row)
        assert len(flushed) == 3, "new/ is not flushed by the send"
        await sender.close()
        await sender.flush()
        await sender.flush()

    asyncio.run(scenario())
    names = os.listdir(directory / "new")
    assert len(names) == 1
    paths = [path for path, _ in flushed]
    assert paths[:2] == [str(tmp_path), str(directory)]  # the folders made on first use
    assert paths[2].startswith(str(directory / "tmp")) and flushed[2][1] == []  # before link
    assert flushed[3:] == [(str(directory / "new"), names)]  # once: nothing new the 2nd time


def test_a_drain_flushes_new_once_a_recipient_before_recording_deliveries(
        harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The three emails of two messages to two recipients: new/ is flushed at most once a
    recipient, not once an email, and every delivery is recorded after a flush of new/ that
    held its email's name (the delivery record never outlives the email)."""
    from gateway.delivery import dispatch  # noqa: PLC0415

    harness.submit(example("declaration.xml"))
    harness.submit(example("appeal.xml"))
    directory = tmp_path / "state" / "mail"
    events: list[tuple[str, object]] = []
    fsync = os.fsync
    mark_delivered = dispatch.mark_delivered

    def noted(descriptor: int) -> None:
        if os.readlink(f"/proc/self/fd/{descriptor}") == str(directory / "new"):
            events.append(("flush", set(os.listdir(directory / "new"))))
        fsync(descriptor)

    def recorded(tx: Any, row_id: int, now: datetime) -> None:
        events.append(("delivered", row_id))
        mark_delivered(tx, row_id, now)

    monkeypatch.setattr(os, "fsync", noted)
    monkeypatch.setattr(dispatch, "mark_delivered", recorded)
    asyncio.run(dispatcher(harness, MaildirSender(directory)).drain_once())
    assert statuses(harness) == [("delivered", 1)] * 3
    box = mailbox.Maildir(directory, create=False)
    name_of = {str(box[key]["Message-ID"]): key.split(":")[0] for key in box.iterkeys()}
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT id, header_message_id FROM outbox WHERE channel = 'email'"))
    file_of_row = {int(row[0]): name_of[str(row[1])] for row in rows}
    flushes = [event for event in events if event[0] == "flush"]
    assert 1 <= len(flushes) <= 2
    for index, (kind, value) in enumerate(events):
        if kind == "delivered":
            assert any(earlier == "flush" and file_of_row[value] in names  # type: ignore
                       for earlier, names in events[:index]), f"row {value} before its flush"


def test_a_failed_flush_of_new_is_a_failed_attempt_retried_later(
        harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """new/ cannot be flushed: the emails written are not recorded as delivered; each row's
    attempt counts and the row goes again after its backoff."""
    from gateway.delivery import maildir  # noqa: PLC0415

    harness.submit(example("declaration.xml"))
    directory = tmp_path / "state" / "mail"
    failures = [OSError(5, "Input/output error")]
    sync_directory = maildir.sync_directory

    def failing(path: Path) -> None:
        if path.name == "new" and failures:
            raise failures.pop()
        sync_directory(path)

    monkeypatch.setattr(maildir, "sync_directory", failing)
    loop = dispatcher(harness, MaildirSender(directory))

    async def scenario() -> None:
        next_due = await loop.drain_once()
        assert next_due is not None and next_due > harness.clock[0]
        assert statuses(harness) == [("pending", 1)]
        assert "Input/output error" in str(harness.scalar(
            "SELECT last_error FROM outbox WHERE channel = 'email'"))
        advance(harness, 5)
        await loop.drain_once()

    asyncio.run(scenario())
    assert statuses(harness) == [("delivered", 2)]
    assert harness.scalar("SELECT clock_stopped_at FROM inbox") is not None


def test_maildir_emails_are_written_by_one_thread_of_their_own(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """Concurrent sends are written one after another by the sender's own thread, not the
    event loop's pool; after `close` a later send starts a new writer."""
    sender = MaildirSender(tmp_path / "mail")
    threads: list[str] = []
    add = sender._box.add

    def noted(payload: bytes) -> str:
        threads.append(threading.current_thread().name)
        return add(payload)

    monkeypatch.setattr(sender._box, "add", noted)

    def row(number: int) -> OutboxRow:
        payload = f"Subject: email {number}\n\nbody {number}\n".encode()
        return OutboxRow(number, None, "outcome", "email", "a@b.example", payload, None, None, 0)

    async def scenario() -> None:
        await asyncio.gather(*(sender.send(row(number)) for number in range(6)))
        await sender.close()
        await sender.send(row(6))
        await sender.close()

    asyncio.run(scenario())
    assert len(threads) == 7 and len(set(threads[:6])) == 1
    assert threads[0].startswith("maildir") and threads[6].startswith("maildir")
    subjects = sorted(str(message["Subject"])
                      for message in mailbox.Maildir(tmp_path / "mail", create=False))
    assert subjects == [f"email {number}" for number in range(7)]


def test_a_waiting_recipient_does_not_hold_back_another(harness: Harness) -> None:
    """First come first served per recipient: a row waiting for its retry holds only its own
    recipient's later rows."""
    harness.submit(example("declaration.xml"))
    harness.submit(example("appeal.xml"))
    harness.database.transaction_sync(lambda tx: tx.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE id = (SELECT MIN(id) FROM outbox"
        " WHERE channel = 'email')",
        ((datetime(2030, 1, 1, tzinfo=UTC)).isoformat(),)))
    delivered: list[str] = []
    asyncio.run(dispatcher(harness, Recorder(delivered)).drain_once())
    assert delivered == ["accounts@importer.example"]
    held = harness.scalar("SELECT COUNT(*) FROM outbox WHERE channel = 'email'"
                          " AND status = 'pending' AND recipient = 'edi@broker42.example'")
    assert held == 2, "the broker's later row waits behind its earlier one"


def test_a_drain_reads_once_unless_its_read_was_full(harness: Harness) -> None:
    """Rows committed later come with a wakeup, so a drain whose read was not full reads the
    outbox once: for the three emails of two messages to two recipients, one read, then one
    transaction recording the three deliveries."""
    harness.submit(example("declaration.xml"))
    harness.submit(example("appeal.xml"))
    transactions: list[str] = []
    database = harness.database
    original = database.transaction

    async def counted(work: Any) -> Any:
        transactions.append(job_name(work))
        return await original(work)

    def submitted(work: Any) -> Any:
        transactions.append(job_name(work))
        return database.submit(work)

    loop = dispatcher(harness, Recorder([]))
    loop.database = SimpleNamespace(  # type: ignore[assignment]
        transaction=counted, submit=submitted)
    assert asyncio.run(loop.drain_once()) is None
    assert transactions == ["Read", "_mark_delivered"]
    assert statuses(harness) == [("delivered", 1)] * 3


def queue_email(tx: Tx, recipient: str, text: str) -> None:
    outbox.enqueue(tx, None, False, [outbox.Delivery("email", recipient, text.encode())],
                   datetime(2026, 11, 23, tzinfo=UTC), instance="gw1")


def test_rows_due_while_the_loop_waits_are_read_before_the_next_transaction(
    harness: Harness
) -> None:
    """`due` called while the loop waits starts its read at once: the read runs before a
    transaction submitted right after the call (the next arrivals' journal commit), so the
    row goes out while that transaction still holds the database thread."""
    sent = threading.Event()
    delivered: list[str] = []

    class Signalling(Recorder):
        async def send(self, row: OutboxRow) -> None:
            await super().send(row)
            sent.set()

    loop = dispatcher(harness, Signalling(delivered))

    def next_commit(tx: Tx) -> bool:  # holds the database thread until the row was sent
        return sent.wait(timeout=2)

    async def scenario() -> bool:
        task = asyncio.create_task(loop.run())
        await wait_until(lambda: loop._waiting)
        await harness.database.transaction(
            lambda tx: queue_email(tx, "edi@broker42.example", "answer"))
        loop.due()
        sent_meanwhile = await harness.database.transaction(next_commit)
        await wait_until(lambda: statuses(harness) == [("delivered", 1)])
        task.cancel()
        return sent_meanwhile

    assert asyncio.run(scenario()), "the row waited for the transaction submitted after it"
    assert delivered == ["edi@broker42.example"]


def test_rows_due_during_a_drain_go_once_and_in_order(harness: Harness) -> None:
    """`due` called while a drain is under way only wakes the loop (a read then could find
    rows sent but not yet recorded): every row is sent once, each recipient's in order."""
    sent: list[bytes] = []

    class Queueing(Recorder):
        async def send(self, row: OutboxRow) -> None:
            sent.append(row.payload)
            if row.payload == b"first":
                await loop.database.transaction(
                    lambda tx: queue_email(tx, "edi@broker42.example", "second"))
                loop.due()
                assert not loop._waiting

    loop = dispatcher(harness, Queueing([]))

    async def scenario() -> None:
        task = asyncio.create_task(loop.run())
        await wait_until(lambda: loop._waiting)
        await harness.database.transaction(
            lambda tx: queue_email(tx, "edi@broker42.example", "first"))
        loop.due()
        await wait_until(lambda: statuses(harness) == [("delivered", 1)] * 2)
        for _ in range(3):  # a further due: nothing is sent again
            loop.due()
            await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(scenario())
    assert sent == [b"first", b"second"]


def test_a_read_handed_over_is_the_loop_s_next_read_unless_it_drained_since(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read made in another transaction (`hand_over`, `take`) feeds the waiting loop's next
    drain without a read of its own; one whose token is older than a drain is dropped (the
    rows it holds may have gone meanwhile), and the loop reads for itself."""
    sent: list[bytes] = []
    reads: list[str] = []

    class Noting(Recorder):
        async def send(self, row: OutboxRow) -> None:
            sent.append(row.payload)

    monkeypatch.setattr(dispatch, "RECORD_LATER_S", 1.0)  # no read of the loop's own soon
    loop = dispatcher(harness, Noting([]))
    loop.database = noting_submits(harness.database, reads)

    async def scenario() -> None:
        task = asyncio.create_task(loop.run())
        await wait_until(lambda: loop._waiting)
        reads.clear()
        read = loop.hand_over()
        assert read is not None

        def queue_and_read(tx: Tx) -> Any:
            queue_email(tx, "edi@broker42.example", "handed")
            return read(tx)

        loop.take(read, await harness.database.transaction(queue_and_read))
        await wait_until(lambda: sent == [b"handed"])
        await wait_until(lambda: loop._waiting)
        assert "Read" not in reads

        stale = loop.hand_over()
        assert stale is not None
        found = await harness.database.transaction(
            lambda tx: (queue_email(tx, "edi@broker42.example", "meanwhile"), stale(tx))[1])
        loop.due()  # a drain runs between the read and its hand-over
        await wait_until(lambda: sent == [b"handed", b"meanwhile"])
        await wait_until(lambda: loop._waiting)
        loop.take(stale, found)  # dropped: it still lists "meanwhile" as due
        await asyncio.sleep(0.1)
        await wait_until(lambda: statuses(harness) == [("delivered", 1)] * 2)
        task.cancel()

    asyncio.run(scenario())
    assert sent == [b"handed", b"meanwhile"]
    assert statuses(harness) == [("delivered", 1)] * 2


def test_a_held_recipient_does_not_hide_others_behind_a_full_read(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipient waiting for its retry, whose rows fill whole reads, does not keep the
    other recipients' rows unseen: the read goes on past them (here a read is one row)."""
    monkeypatch.setattr(outbox, "FETCH_LIMIT_ROWS", 1)
    harness.submit(example("declaration.xml"))
    harness.submit(example("appeal.xml"))
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT recipient FROM outbox WHERE channel = 'email' ORDER BY id"))
    held = str(rows[0][0])
    harness.database.transaction_sync(lambda tx: tx.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE id = (SELECT MIN(id) FROM outbox"
        " WHERE channel = 'email')", ((datetime(2030, 1, 1, tzinfo=UTC)).isoformat(),)))
    delivered: list[str] = []
    next_due = asyncio.run(dispatcher(harness, Recorder(delivered)).drain_once())
    others = [str(row[0]) for row in rows if str(row[0]) != held]
    assert others and delivered == others
    assert next_due == datetime(2030, 1, 1, tzinfo=UTC)


def test_maildir_made_anew_between_emails_is_the_one_flushed(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Someone removes the Maildir and makes its folders again while the daemon runs: the next
    email lands in the new folders, and it is their new/ that is flushed with its name."""
    from gateway.delivery.maildir import MaildirWriter  # noqa: PLC0415

    directory = tmp_path / "mail"
    writer = MaildirWriter(directory)
    writer.add(b"Subject: one\n\nbody\n")
    shutil.rmtree(directory)
    for part in ("tmp", "new", "cur"):
        (directory / part).mkdir(parents=True)
    flushed: list[list[str]] = []
    fsync = os.fsync

    def noted(descriptor: int) -> None:
        path = os.readlink(f"/proc/self/fd/{descriptor}")
        if path == str(directory / "new"):
            flushed.append(sorted(os.listdir(path)))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", noted)
    name = writer.add(b"Subject: two\n\nbody\n")
    writer.flush()
    assert os.listdir(directory / "new") == [name]
    assert flushed == [[name]]
    assert stat.S_IMODE(os.stat(directory / "new" / name).st_mode) == 0o600


def test_maildir_name_clash_fails_instead_of_replacing_an_email(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two emails given the same name (a process id reused, the clock stepped back): the second
    fails (and is retried by its delivery loop under a new name); the first is kept."""
    from gateway.delivery import maildir  # noqa: PLC0415

    monkeypatch.setattr(maildir, "unique_name", lambda *_: "1.M1P1Q1.host")
    writer = maildir.MaildirWriter(tmp_path / "mail")
    writer.add(b"Subject: first\n\nbody\n")
    with pytest.raises(FileExistsError):
        writer.add(b"Subject: second\n\nbody\n")
    assert (tmp_path / "mail" / "new" / "1.M1P1Q1.host").read_bytes().startswith(
        b"Subject: first")
    assert os.listdir(tmp_path / "mail" / "tmp") == []


def test_maildir_names_are_those_of_mailbox() -> None:
    from gateway.delivery.maildir import unique_name  # noqa: PLC0415

    assert unique_name(1700000000.25, 7, "a/b:c") == \
        rf"1700000000.M250000P{os.getpid()}Q7.a\057b\072c"


def delivered_at(harness: Harness) -> list[str | None]:
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT delivered_at FROM outbox WHERE channel = 'email' ORDER BY id"))
    return [row[0] for row in rows]


def test_the_loop_records_a_drain_s_deliveries_in_its_next_read(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drain's deliveries are recorded in the transaction of the loop's next read, not in
    one of their own, each with the time it went (not the time of the record)."""
    monkeypatch.setattr(dispatch, "RECORD_LATER_S", 5.0)  # no read of the loop's own
    sent: list[str] = []
    jobs: list[str] = []
    loop = dispatcher(harness, Recorder(sent))
    loop.database = noting_submits(harness.database, jobs)
    went = harness.clock[0]

    async def scenario() -> None:
        task = asyncio.create_task(loop.run())
        await wait_until(lambda: loop._waiting)
        for number, recipient in enumerate(("edi@broker42.example", "ops@broker42.example")):
            await harness.database.transaction(
                lambda tx, to=recipient: queue_email(tx, to, "answer"))
            loop.due()
            await wait_until(lambda n=number: len(sent) > n and loop._waiting)
            advance(harness, 60)
        task.cancel()

    asyncio.run(scenario())
    assert jobs == ["Read"] * 3  # the first drain's, and one for each row
    assert delivered_at(harness) == [went.isoformat(), None]


def test_deliveries_no_read_comes_for_are_recorded_soon(harness: Harness) -> None:
    """Without a next read, the loop reads on its own within RECORD_LATER_S (not at its idle
    wakeup, IDLE_WAKE_S), and that read records the deliveries."""
    jobs: list[str] = []
    loop = dispatcher(harness, Recorder([]))
    loop.database = noting_submits(harness.database, jobs)

    async def scenario() -> float:
        task = asyncio.create_task(loop.run())
        await wait_until(lambda: loop._waiting)
        await harness.database.transaction(
            lambda tx: queue_email(tx, "edi@broker42.example", "answer"))
        loop.due()
        started = time.monotonic()
        await wait_until(lambda: statuses(harness) == [("delivered", 1)])
        task.cancel()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < dispatch.IDLE_WAKE_S / 2
    assert jobs == ["Read"] * 3


def test_between_drains_waits_for_a_handed_read_to_be_drained(harness: Harness) -> None:
    """`between_drains` returns once the loop waits with no read for its next drain: a read
    handed over and not yet drained (the loop is still waiting, woken) keeps it waiting until
    that drain's publish is done, when a read can be handed over again."""
    held = asyncio.Event()
    release = asyncio.Event()

    class Held(Recorder):
        async def send(self, row: OutboxRow) -> None:
            held.set()
            await release.wait()
            await super().send(row)

    sent: list[str] = []
    loop = dispatcher(harness, Held(sent))

    async def scenario() -> None:
        task = asyncio.create_task(loop.run())
        await wait_until(lambda: loop._waiting)
        read = loop.hand_over()
        assert read is not None
        found = await harness.database.transaction(
            lambda tx: (queue_email(tx, "edi@broker42.example", "handed"), read(tx))[1])
        loop.take(read, found)
        assert loop._waiting and loop.hand_over() is None  # woken, its next read in hand
        waiting = asyncio.create_task(loop.between_drains(5.0))
        await asyncio.wait_for(held.wait(), 2.0)
        await asyncio.sleep(0.05)
        assert not waiting.done(), "returned while the loop's drain was under way"
        release.set()
        await asyncio.wait_for(waiting, 2.0)
        assert loop.hand_over() is not None
        task.cancel()

    asyncio.run(scenario())
    assert sent == ["edi@broker42.example"]
