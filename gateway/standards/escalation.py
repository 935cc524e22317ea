"""Escalation: warn the operators before a deadline is missed, once per deadline.

A deadline whose clock still runs when `escalate_at_percent` of its window has passed is
raised: a log event and a metric first (mail may be what is failing), then an email to the
operators. A deadline that passes with its clock running is counted as missed, once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from gateway import metrics
from gateway.config import Config
from gateway.delivery.alerts import queue_alert
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import Standard
from gateway.store.database import Tx
from gateway.store.journal import stored_time

log = structlog.get_logger("gateway.escalation")
ESCALATION_INTERVAL_S = 30.0


@dataclass(frozen=True)
class OpenDeadline:
    inbox_id: int
    sender: str
    kind: str
    message_id: str | None
    received_at: datetime
    respond_by: datetime
    escalated: bool
    missed: bool


def elapsed_percent(calendar: BusinessCalendar, standard: Standard, received_at: datetime,
                    respond_by: datetime, now: datetime) -> Decimal:
    """How much of the window has passed, in business time for business-day standards."""
    if standard.unit == "business":
        total = calendar.business_seconds_between(received_at, respond_by)
        used = calendar.business_seconds_between(received_at, now)
    else:
        total = int((respond_by - received_at).total_seconds())
        used = int((now - received_at).total_seconds())
    if total <= 0:
        return Decimal(100)
    return Decimal(used) * 100 / Decimal(total)


def earliest_escalation(calendar: BusinessCalendar, threshold_percent: Decimal) -> timedelta:
    """No deadline reaches its escalation point sooner after receipt: every window is at least
    one day (one business day: an opening span), and business time runs no faster than the
    clock. A burst's fresh messages are left out of the scan this way."""
    shortest_window = min(calendar.span, timedelta(days=1))
    return shortest_window * float(max(Decimal(0), threshold_percent) / 100)


def open_deadlines(tx: Tx, instance: str, received_before: datetime) -> list[OpenDeadline]:
    """Deadlines received before `received_before` whose clock runs and that are not yet both
    escalated and missed; a case awaiting the client's information has its clock paused and is
    left out."""
    rows = tx.all(
        "SELECT id, sender, kind, message_id, received_at, respond_by, escalated_at, missed_at"
        " FROM inbox WHERE clock_stopped_at IS NULL AND instance = ? AND received_at <= ?"
        " AND (escalated_at IS NULL OR missed_at IS NULL)"
        " AND NOT EXISTS (SELECT 1 FROM cases WHERE cases.inbox_id = inbox.id"
        "  AND cases.status = 'awaiting_information')"
        " ORDER BY respond_by", (instance, stored_time(received_before))
    )
    return [
        OpenDeadline(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3]),
                     datetime.fromisoformat(str(r[4])), datetime.fromisoformat(str(r[5])),
                     r[6] is not None, r[7] is not None)
        for r in rows
    ]


class Escalator:
    def __init__(self, config: Config, calendar: BusinessCalendar) -> None:
        self.config = config
        self.calendar = calendar

    def escalate(self, tx: Tx, now: datetime) -> list[int]:
        """Raise every deadline that reached its escalation point; the ids raised now."""
        threshold = self.config.standards.escalate_at_percent
        raised = []
        at_risk = 0
        received_before = now - earliest_escalation(self.calendar, threshold)
        for deadline in open_deadlines(tx, self.config.gateway.id, received_before):
            standard = self.config.standards.for_kind(deadline.kind)
            percent = elapsed_percent(self.calendar, standard, deadline.received_at,
                                      deadline.respond_by, now)
            if percent >= threshold:
                at_risk += 1
            if percent >= threshold and not deadline.escalated:
                self._raise(tx, deadline, percent, now)
                raised.append(deadline.inbox_id)
            if now > deadline.respond_by and not deadline.missed:
                tx.execute("UPDATE inbox SET missed_at = ? WHERE id = ?",
                           (now.isoformat(), deadline.inbox_id))
                metrics.DEADLINES_MISSED.labels(deadline.kind).inc()
                log.error("deadline missed", inbox_id=deadline.inbox_id, kind=deadline.kind,
                          sender=deadline.sender, respond_by=deadline.respond_by.isoformat())
        metrics.DEADLINES_AT_RISK.set(at_risk)
        return raised

    def _raise(self, tx: Tx, deadline: OpenDeadline, percent: Decimal, now: datetime) -> None:
        tx.execute("UPDATE inbox SET escalated_at = ? WHERE id = ?",
                   (now.isoformat(), deadline.inbox_id))
        metrics.DEADLINES_ESCALATED.labels(deadline.kind).inc()
        due_local = deadline.respond_by.astimezone(self.calendar.zone)
        log.warning("deadline at risk", inbox_id=deadline.inbox_id, kind=deadline.kind,
                    sender=deadline.sender, message_id=deadline.message_id,
                    elapsed_percent=f"{percent:.0f}", respond_by=deadline.respond_by.isoformat())
        text = (
            f"The {deadline.kind} {deadline.message_id or '(no MessageID)'} from "
            f"{deadline.sender} has used {percent:.0f} % of its service-standard window.\n"
            f"Received: {deadline.received_at.astimezone(self.calendar.zone):%Y-%m-%d %H:%M %Z}\n"
            f"Respond by: {due_local:%A %Y-%m-%d %H:%M %Z}\n"
            f"Journal id: {deadline.inbox_id}\n"
        )
        queue_alert(tx, self.config, key=f"escalation:{deadline.inbox_id}",
                    subject=f"Deadline at risk: {deadline.kind} from {deadline.sender}",
                    text=text, now=now)
