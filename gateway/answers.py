"""An outcome recorded with its answers: the answer on MQTT in the syntax of the input and
the emails to its recipients, queued in the outbox in the transaction that records the outcome,
so that an outcome is never without its answers nor answered twice."""

from collections.abc import Callable
from datetime import datetime

import structlog

from gateway.codec.acknowledgement import render_acknowledgement
from gateway.config import Config
from gateway.delivery.email_content import header_message_id, render_email
from gateway.edifact_flow import duplicate_problem, renderer
from gateway.handling import next_number
from gateway.outcome import Outcome, to_json
from gateway.partners import Registry
from gateway.standards.calendar import BusinessCalendar
from gateway.store.database import Tx
from gateway.store.journal import JournalEntry, finish, oversize_head
from gateway.store.outbox import Delivery, enqueue

log = structlog.get_logger("gateway.processing")  # its events were logged there before


class Answers:
    """Records outcomes for `Processor`. `config` and `registry` are read at each use: the
    daemon reloads both."""

    def __init__(self, config: Callable[[], Config], registry: Callable[[], Registry],
                 calendar: BusinessCalendar, now: Callable[[], datetime],
                 stored_bytes: Callable[[Tx, JournalEntry], bytes | None]) -> None:
        self.config = config
        self.registry = registry
        self.calendar = calendar
        self.now = now
        self._stored_bytes = stored_bytes

    def acknowledgement_id(self, tx: Tx) -> str:
        instance = self.config().gateway.id
        return f"{instance}-{next_number(tx, f'acknowledgement:{instance}'):012d}"

    def record(self, tx: Tx, entry: JournalEntry, outcome: Outcome, identity: str,
               *, answer_required: bool = True, resent: bool = False) -> None:
        """The outcome with its deliveries; without `answer_required`, an MQTT answer that
        cannot be rendered is left out (logged) instead of failing the record. `resent`: the
        answer of a re-send (XML, or a message of a re-sent interchange)."""
        now = self.now()
        tx.execute("UPDATE outcomes SET superseded = 1 WHERE inbox_id = ? AND superseded = 0",
                   (entry.id,))
        outcome_id = tx.insert(
            "INSERT INTO outcomes (inbox_id, acknowledgement_id, status, kind, reference, facts,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (entry.id, outcome.acknowledgement_id, outcome.status, outcome.kind,
             outcome.reference, to_json(outcome), now.isoformat()),
        )
        deliveries = self._mqtt_delivery(tx, entry, outcome, now,
                                         answer_required=answer_required)
        if not (entry.syntax == "edifact" and entry.role != "part"
                and outcome.status == "accepted"):  # a sound interchange: its parts email
            deliveries += self._email_deliveries(entry, outcome, identity, now)
        enqueue(tx, outcome_id, stops_clock(outcome, resent=resent), deliveries, now,
                instance=self.config().gateway.id)
        finish(tx, entry.id, "deferred" if outcome.status == "deferred" else "done")
        if outcome.status == "rejected" and entry.payload is not None and \
                len(entry.payload) > self.config().retention.rejected_payload_bytes_max:
            # as for a payload over the size limit: an interchange keeps its envelope, so that
            # a re-send of it is answered with a CONTRL
            tx.execute("UPDATE inbox SET payload = ? WHERE id = ?",
                       (oversize_head(entry.payload, entry.syntax), entry.id))

    def _mqtt_delivery(self, tx: Tx, entry: JournalEntry, outcome: Outcome,
                       now: datetime, *, answer_required: bool = True) -> list[Delivery]:
        """The answer in the syntax of the input: an Acknowledgement for XML; CONTRL, CUSRES
        or APERAK for EDIFACT (none for a message its CONTRL already rejected, nor, without
        `answer_required`, for one whose answer cannot be rendered)."""
        payload: bytes | None = None
        edifact_bytes = self._stored_bytes(tx, entry) if entry.syntax == "edifact" else None
        if edifact_bytes is not None:
            extra = [duplicate_problem(entry.message_key)] if entry.role == "conflict" else None
            whole = len(edifact_bytes) == entry.payload_bytes  # else its envelope only
            try:
                write = renderer(edifact_bytes, entry.part_index, sender=entry.sender, now=now,
                                 extra=extra, whole=whole)
                payload = write(outcome) if write is not None else None
            except Exception as error:  # rendering is pure: nothing to roll back
                if answer_required:
                    raise
                log.error("answer not rendered; the outcome is recorded without it",
                          status=outcome.status, error=f"{type(error).__name__}: {error}"[:200])
                return []
            if payload is None:
                return []
        else:
            payload = render_acknowledgement(outcome)
        return [Delivery("mqtt", response_topic(entry.sender, entry.response_topic), payload,
                         correlation_data=entry.correlation_data)]

    def _email_deliveries(self, entry: JournalEntry, outcome: Outcome, identity: str,
                          now: datetime) -> list[Delivery]:
        registry = self.registry()
        addresses = email_recipients(registry, entry.sender, outcome)
        config = self.config()
        smtp = config.smtp
        deliveries = []
        for address in addresses:
            message_id = header_message_id(config.gateway.cluster, entry.sender,
                                           entry.message_key, identity, address, smtp.domain)
            payload = render_email(outcome, sender_address=smtp.sender, recipient=address,
                                   message_id=message_id, zone=self.calendar.zone, now=now)
            deliveries.append(Delivery("email", address, payload, header_message_id=message_id))
        return deliveries


def stops_clock(outcome: Outcome, *, resent: bool) -> bool:
    """Whether delivering `outcome` stops its message's service-standard clock.

    A final outcome does. A re-send's answer does, whatever it says: the message's deadline
    is its original's, which a case or a replay (of a `deferred` original) answers, and the
    re-send's answer is all it will get. `received` does too when no case will stop it: a
    Test appeal or account request opens none."""
    if outcome.final or resent:
        return True
    return outcome.status == "received" and outcome.case_number is None


def response_topic(sender: str, requested: str | None) -> str:
    """`carm/v1/out/{sender}`, or the request's response-topic when it lies under it."""
    base = f"carm/v1/out/{sender}"
    if requested and not any(c in requested for c in "+#\x00") and (
        requested == base or requested.startswith(base + "/")
    ):
        return requested
    return base


def email_recipients(registry: Registry, sender_id: str, outcome: Outcome) -> list[str]:
    """The sender per its `notify` setting; the importer too for an opened case.

    AUTH003 is answered on MQTT only: an unregistered sender has no address to write to.
    """
    sender = registry.sender(sender_id)
    if sender is None or any(p.code == "AUTH003" for p in outcome.problems):
        return []
    recipients = []
    if sender.notify == "all" or (sender.notify == "rejections" and outcome.status == "rejected"):
        recipients.append(sender.email)
    if outcome.case_number and outcome.importer_account:
        account = registry.account(outcome.importer_account)
        if account is not None and account.email not in recipients:
            recipients.append(account.email)
    return recipients
