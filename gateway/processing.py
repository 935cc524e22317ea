"""From a journalled message to its outcome: check, route, record, queue the deliveries.

The handler's writes, the outcome and its outbox rows commit in one transaction. Transient
storage failures are retried (tenacity); when retries run out, or on an internal error, the
message goes to the dead-letter store with GW001 and the status `deferred`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_random_exponential as wait_jittered

from gateway import metrics
from gateway.answers import Answers
from gateway.codec.edifact import Interchange
from gateway.config import Config
from gateway.edifact_flow import (
    check_part,
    interchange_outcome,
    kind_of_message,
    part_key,
    tokenized,
)
from gateway.faults import crash_point, poison_point
from gateway.handling import HandlerContext, HandlerResult
from gateway.outcome import Outcome, from_json
from gateway.partners import Registry
from gateway.routing import route
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.store.database import Database, StoreUnavailable, Tx
from gateway.store.journal import (
    JournalEntry,
    StoredBytes,
    add_part,
    parent_role_of,
    pending_entries,
)
from gateway.validation.pipeline import Checked, CheckSettings, Sending, check
from gateway.validation.problems import problem

log = structlog.get_logger("gateway.processing")
T = TypeVar("T")
BATCH_ROWS = 50
INLINE_RETRY_WAIT_S_MAX = 2.0
"""Processing is first come first served, so one message's retries hold the queue: keep them
short; a message that still fails is dead-lettered and replayed by the operator."""


@dataclass
class Batch:
    """One transaction's messages: the outcomes of those that went through, the errors of
    those that failed."""

    started: float
    entries: list[JournalEntry] = field(default_factory=list)
    done: dict[int, Outcome] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)


class Processor:
    def __init__(self, database: Database, config: Config, registry: Callable[[], Registry],
                 calendar: BusinessCalendar, now: Callable[[], datetime]) -> None:
        self.database = database
        self.config = config
        self.registry = registry
        self.calendar = calendar
        self.now = now
        self.check_settings = CheckSettings(config.gateway.max_message_bytes,
                                            config.transaction_check_digit)
        self.more_pending = True
        """Whether the last `run_pending` may have left work behind: a full batch, or the
        messages of an interchange it journalled. Otherwise new work comes with a wakeup."""
        self._busy = 0
        """`run_pending` and `with_journal` calls under way."""
        self.carried: list[tuple[JournalEntry, list[str]]] = []
        """Messages that failed in `with_journal`, with that attempt's error: the next
        `run_pending` processes them alone."""
        self._stored_bytes = StoredBytes()
        """An interchange's bytes, read once for all its messages (each needs them twice)."""
        self.answers = Answers(lambda: self.config, registry, calendar, now, self._stored_bytes)
        self._held: set[int] = set()
        """Their ids, noted on the database thread before that transaction commits, so that
        a batch read right after it (a `run_pending` that overlapped it) leaves them for
        `carried` instead of trying them again uncounted."""

    async def run_pending(self) -> int:
        """Process what is pending, oldest first; how many were processed.

        One transaction on the database thread reads the batch, checks each message and
        applies it inside its own savepoint, and commits once (group commit: one disk flush
        for many messages, and no hop between threads per message). A message that fails is
        rolled back alone and then goes through `process`, with its retries and dead letter.
        """
        self._busy += 1
        try:
            carried, self.carried = self.carried, []
            self._held.difference_update(entry.id for entry, _ in carried)
            for entry, errors in carried:
                await self.process(entry, errors)
            batch = Batch(time.perf_counter())
            self.more_pending = False
            try:
                await self.database.transaction(lambda tx: self._run_batch(tx, batch))
            except StoreUnavailable:
                batch.done.clear()  # rolled back: each of its messages goes alone, with retries
            for entry, errors in self._settle(batch):
                await self.process(entry, errors)
            return len(carried) + len(batch.entries)
        finally:
            self._busy -= 1

    def idle(self) -> bool:
        """Nothing is being processed, nor known to be waiting."""
        return not (self._busy or self.more_pending or self.carried)

    async def with_journal(self, journal: Callable[[Tx], T],
                           after: Callable[[Tx], None] | None = None) -> tuple[T, Batch]:
        """`journal` and then what is pending, in one transaction: when traffic is light and
        processing `idle`, the messages that arrive one by one cost one commit and one hop to
        the database thread instead of two (docs/performance.md). A message that fails here
        is rolled back alone and left pending, with its error, for the next `run_pending`
        (`settle_joined`). The transaction's own failure is raised: nothing was written, or
        (a lost reply) all of it."""
        self._busy += 1
        batch = Batch(time.perf_counter())

        def work(tx: Tx) -> T:
            journalled = journal(tx)
            self._run_batch(tx, batch)
            if after is not None:
                after(tx)
            self._held.update(batch.failures)
            return journalled

        try:
            return await self.database.transaction(work), batch
        except BaseException:  # not committed (or not known to be): no longer held back
            self._held.difference_update(batch.failures)
            raise
        finally:
            self._busy -= 1

    def settle_joined(self, batch: Batch) -> None:
        """The end of `with_journal`'s batch, once its arrivals are acknowledged: its messages
        logged, and those that failed kept for the next `run_pending`."""
        self.carried.extend(self._settle(batch))

    def _settle(self, batch: Batch) -> list[tuple[JournalEntry, list[str]]]:
        """Log and count a committed batch's messages; those to process alone, with the
        errors of their first attempt."""
        if not batch.entries:
            return []
        self.more_pending = self.more_pending or len(batch.entries) >= BATCH_ROWS
        crash_point("after-handler-commit")
        share_s = (time.perf_counter() - batch.started) / len(batch.entries)
        alone = []
        for entry in batch.entries:
            outcome = batch.done.get(entry.id)
            if outcome is None:
                failure = batch.failures.get(entry.id)
                alone.append((entry, [failure] if failure is not None else []))
                continue
            metrics.PROCESSING_SECONDS.observe(share_s)
            metrics.MESSAGES.labels(outcome.kind, outcome.status).inc()
            log.info("message processed", inbox_id=entry.id, sender=entry.sender,
                     message_id=entry.message_id, kind=entry.kind, status=outcome.status,
                     reference=outcome.reference, codes=[p.code for p in outcome.problems],
                     duration_ms=round(share_s * 1000, 2), attempts=1,
                     batch=len(batch.entries))
        return alone

    def _run_batch(self, tx: Tx, batch: Batch) -> None:
        """Reads the pending entries into `batch` and works each; a failure is noted in its
        `failures` (it is the message's first attempt). Messages left pending by a failure in
        `with_journal` are not taken: they go alone, with that attempt counted."""
        batch.entries[:] = [entry for entry in pending_entries(tx, self.config.gateway.id,
                                                               BATCH_ROWS)
                            if entry.id not in self._held]
        for entry in batch.entries:
            tx.execute("SAVEPOINT message")  # one name: each is released before the next
            try:
                poison_point(entry.message_id)
                batch.done[entry.id] = self._work(tx, entry)
            except StoreUnavailable as error:
                batch.failures[entry.id] = f"{type(error).__name__}: {error}"[:2000]
                raise
            except Exception as error:  # rolled back alone, then processed alone
                batch.failures[entry.id] = f"{type(error).__name__}: {error}"[:2000]
                tx.execute("ROLLBACK TO SAVEPOINT message")
            tx.execute("RELEASE SAVEPOINT message")

    async def process(self, entry: JournalEntry, earlier_errors: list[str] | None = None) -> None:
        """One message alone, with retries; `earlier_errors` are attempts already made (in a
        batch) and count towards `[retries] attempts`."""
        structlog.contextvars.bind_contextvars(inbox_id=entry.id, sender=entry.sender,
                                               message_id=entry.message_id, kind=entry.kind)
        errors: list[str] = list(earlier_errors or [])
        started = time.perf_counter()
        try:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(max(1, self.config.retries.attempts - len(errors))),
                wait=wait_jittered(multiplier=0.05, max=min(INLINE_RETRY_WAIT_S_MAX,
                                                            self.config.retries.backoff_s_max)),
                retry=retry_if_exception_type(Exception),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        metrics.RETRIES.inc()
                    outcome = await self._attempt(entry, errors)
            elapsed_s = time.perf_counter() - started
            metrics.PROCESSING_SECONDS.observe(elapsed_s)
            metrics.MESSAGES.labels(outcome.kind, outcome.status).inc()
            crash_point("after-handler-commit")
            log.info("message processed", status=outcome.status, reference=outcome.reference,
                     codes=[p.code for p in outcome.problems],
                     duration_ms=round(elapsed_s * 1000, 2), attempts=len(errors) + 1)
        except Exception as error:
            log.error("message deferred", error=type(error).__name__, attempts=len(errors))
            failure = error
            await self.database.transaction(lambda tx: self._defer(tx, entry, failure, errors))
            metrics.MESSAGES.labels(entry.kind, "deferred").inc()
        finally:
            structlog.contextvars.unbind_contextvars("inbox_id", "sender", "message_id", "kind")

    async def _attempt(self, entry: JournalEntry, errors: list[str]) -> Outcome:
        """One attempt; its error, if any, is kept for the dead-letter record."""
        try:
            poison_point(entry.message_id)
            return await self.database.transaction(lambda tx: self._work_if_pending(tx, entry))
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}"[:2000])
            raise

    def _work_if_pending(self, tx: Tx, entry: JournalEntry) -> Outcome:
        """`_work`, unless the message has its outcome already: a batch whose COMMIT reached
        PostgreSQL but whose reply was lost with the connection raised StoreUnavailable after
        recording it. Processing it again would answer it twice (and a declaration the second
        time with DEC002)."""
        row = tx.one("SELECT status FROM inbox WHERE id = ?", (entry.id,))
        if row is not None and row[0] != "pending":
            current = tx.one("SELECT facts FROM outcomes WHERE inbox_id = ? AND superseded = 0",
                             (entry.id,))
            if current is not None:
                return from_json(str(current[0]))
        return self._work(tx, entry)

    def _work(self, tx: Tx, entry: JournalEntry) -> Outcome:
        """Check one journalled message and apply it: its outcome, recorded with its
        deliveries."""
        if entry.syntax == "edifact" and \
                entry.payload_bytes <= self.config.gateway.max_message_bytes:
            return self._edifact_work(tx, entry)
        if entry.role == "conflict":
            return self._conflict(tx, entry)
        if entry.role == "resend":
            return self._resend(tx, entry)
        return self._apply(tx, entry, self.check_entry(entry))

    def _edifact_work(self, tx: Tx, entry: JournalEntry) -> Outcome:
        if entry.role == "resend":
            return self._resend(tx, entry)
        if entry.role == "conflict":
            return self._conflict(tx, entry)
        payload = self._stored_bytes(tx, entry)
        if payload is None:
            raise RuntimeError(f"the bytes of EDIFACT entry {entry.id} are not stored")
        if entry.role == "original":
            return self._interchange(tx, entry, tokenized(payload))
        if parent_role_of(tx, entry) == "resend":
            return self._resend_part(tx, entry)
        assert entry.part_index is not None
        checked = check_part(payload, entry.part_index, settings=self.check_settings,
                             sending=Sending(entry.sender, self.registry()),
                             received_at=entry.received_at, calendar=self.calendar)
        return self._apply(tx, entry, checked)

    def _interchange(self, tx: Tx, entry: JournalEntry, interchange: Interchange) -> Outcome:
        """The CONTRL answer, then each message journalled as its own entry."""
        outcome = interchange_outcome(
            interchange, acknowledgement_id=self.answers.acknowledgement_id(tx),
            sender=entry.sender, kind=entry.kind, received_at=entry.received_at,
            respond_by=entry.respond_by)
        self.answers.record(tx, entry, outcome, identity=outcome.status)
        if interchange.sound:
            self._add_parts(tx, entry, interchange)
        return outcome

    def _add_parts(self, tx: Tx, entry: JournalEntry, interchange: Interchange) -> None:
        self.more_pending = True
        for index, message in enumerate(interchange.messages):
            kind = kind_of_message(message)
            deadline = respond_by(self.calendar, self.config.standards.for_kind(kind),
                                  entry.received_at)
            add_part(tx, entry, index, part_key(interchange, message), kind, deadline)

    def _resend_part(self, tx: Tx, entry: JournalEntry) -> Outcome:
        """A message of a re-sent interchange: its original message's outcome with DUP001."""
        row = tx.one(
            "SELECT o.facts FROM inbox p JOIN inbox r ON r.id = ? JOIN outcomes o"
            " ON o.inbox_id = p.id AND o.superseded = 0 WHERE p.role = 'part'"
            " AND p.original_id = r.original_id AND p.part_index = ?",
            (entry.original_id, entry.part_index))
        if row is None:
            raise StoreUnavailable(f"no original outcome for re-sent part {entry.id}")
        outcome = from_json(str(row[0])).with_problem(
            problem("DUP001", "a re-send of a message already processed: the original outcome"))
        self.answers.record(tx, entry, outcome,
                            identity=f"{outcome.status}+DUP001#{entry.id}", resent=True)
        return outcome

    def check_entry(self, entry: JournalEntry) -> Checked:
        """Stages 1 to 8 (stateless) of a journalled message."""
        if entry.payload is None or entry.payload_bytes > self.config.gateway.max_message_bytes:
            text = f"{entry.payload_bytes} bytes, the maximum is " \
                   f"{self.config.gateway.max_message_bytes}"
            return Checked(entry.kind, None, (problem("XML003", text),), entry.message_id)
        sending = Sending(entry.sender, self.registry())
        return check(entry.payload, settings=self.check_settings, sending=sending,
                     received_at=entry.received_at, calendar=self.calendar)

    def _context(self, entry: JournalEntry, post: bool) -> HandlerContext:
        return HandlerContext(
            inbox_id=entry.id, sender=entry.sender, received_at=entry.received_at,
            respond_by=entry.respond_by, calendar=self.calendar, billing=self.config.billing,
            post=post,
        )

    def _apply(self, tx: Tx, entry: JournalEntry, checked: Checked) -> Outcome:
        result = HandlerResult("rejected")
        if checked.message is not None and checked.business_rules and checked.rejected:
            # the stateful rules of stage 8 too, reported with the stateless ones; nothing is
            # written (as for a Test message), only their problems are kept
            found = route(tx, checked.message, self._context(entry, post=False)).problems
            result = HandlerResult("rejected", found)
        elif checked.message is not None and not checked.rejected:
            result = route(tx, checked.message, self._context(entry, post=not checked.test))
            crash_point("in-handler-transaction")
        outcome = Outcome(
            acknowledgement_id=self.answers.acknowledgement_id(tx),
            ref_message_id=checked.ref_message_id,
            sender=entry.sender,
            kind=checked.kind,
            reference=reference_of(checked, result),
            status=result.status,
            test=checked.test,
            received_at=entry.received_at,
            respond_by=entry.respond_by,
            problems=(*checked.problems, *result.problems),
            assessment=result.assessment,
            balance=result.balance,
            payment_due=result.payment_due,
            case_number=result.case_number,
            importer_account=(checked.message.importer_account
                              if checked.message is not None else None),
        )
        self.answers.record(tx, entry, outcome, identity=outcome.status)
        return outcome

    def _conflict(self, tx: Tx, entry: JournalEntry) -> Outcome:
        text = f"MessageID {entry.message_id or entry.message_key} was used before for " \
               "different content"
        outcome = Outcome(
            acknowledgement_id=self.answers.acknowledgement_id(tx), ref_message_id=entry.message_id,
            sender=entry.sender, kind=entry.kind, reference=None, status="rejected", test=False,
            received_at=entry.received_at, respond_by=entry.respond_by,
            problems=(problem("DUP002", text),),
        )
        self.answers.record(tx, entry, outcome, identity=f"rejected+DUP002#{entry.id}")
        return outcome

    def _resend(self, tx: Tx, entry: JournalEntry) -> Outcome:
        """The original outcome again, with DUP001; ours if the original has none yet."""
        row = tx.one("SELECT facts FROM outcomes WHERE inbox_id = ? AND superseded = 0",
                     (entry.original_id,))
        if row is None:
            raise StoreUnavailable(f"original {entry.original_id} of a re-send has no outcome")
        original = from_json(str(row[0]))
        outcome = original.with_problem(problem("DUP001", "a re-send of a message already "
                                                          "processed: the original outcome"))
        self.answers.record(tx, entry, outcome,
                            identity=f"{outcome.status}+DUP001#{entry.id}", resent=True)
        if entry.syntax == "edifact" and original.status == "accepted":
            payload = self._stored_bytes(tx, entry)
            if payload is not None:
                self._add_parts(tx, entry, tokenized(payload))
        return outcome

    def _defer(self, tx: Tx, entry: JournalEntry, error: Exception, errors: list[str]) -> None:
        outcome = Outcome(
            acknowledgement_id=self.answers.acknowledgement_id(tx), ref_message_id=entry.message_id,
            sender=entry.sender, kind=entry.kind, reference=None, status="deferred",
            test=False, received_at=entry.received_at, respond_by=entry.respond_by,
            problems=(problem("GW001", "internal failure; the message will be replayed"),),
        )
        # the failure may be in the input itself: the record of it must not fail the same way
        self.answers.record(tx, entry, outcome, identity="deferred", answer_required=False)
        tx.execute(
            "INSERT INTO dead_letters (inbox_id, error, attempts, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (inbox_id) DO UPDATE SET error = excluded.error,"
            " attempts = excluded.attempts, created_at = excluded.created_at,"
            " resolved_at = NULL, resolution = NULL",
            (entry.id, f"{type(error).__name__}: {error}"[:2000], len(errors),
             self.now().isoformat()),
        )
        for number, text in enumerate(errors, start=1):
            tx.execute("INSERT INTO dead_letter_attempts (inbox_id, attempt, error, at)"
                       " VALUES (?, ?, ?, ?)", (entry.id, number, text, self.now().isoformat()))

def reference_of(checked: Checked, result: HandlerResult) -> str | None:
    """The Acknowledgement's Reference (CONTRACT section 3): TransactionNumber/Version of a
    declaration, PaymentReference of a payment, the case number of an appeal or account
    request; none for an appeal or account request that opened no case (rejected, or Test)."""
    if checked.kind in ("appeal", "account-request"):
        return result.case_number
    return checked.reference
