"""Case steps (CONTRACT sections 6 and 8): the operator moves a case along the case table.

Each step is journalled with who, when and why, emailed to the sender and the importer, and
has its effect: `acknowledge` stops an appeal's clock, `decide` an account request's;
`request-info` pauses the clock (the client then has 30 calendar days), `resume` restarts it
with the paused time added; an allowed decision with an amount credits the account (appeal)
or pays a credit out (refund request).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from gateway.appeals.states import CaseState, IllegalStep, next_state
from gateway.config import Config
from gateway.delivery.email_content import header_message_id, plain_email
from gateway.ledger.billing import period_of
from gateway.ledger.offsets import settle_credits
from gateway.ledger.postings import CREDIT_ITEM, RECEIVABLE, Entry, Leg, item_balance_cents, post
from gateway.money import format_amount, from_cents, to_cents
from gateway.partners import Registry
from gateway.standards.calendar import BusinessCalendar
from gateway.store.database import Tx
from gateway.store.outbox import Delivery, enqueue

CLIENT_ANSWER_DAYS = 30
OUTCOMES = ("allowed", "partly", "denied")


class CaseError(ValueError):
    """A step that cannot be taken: unknown case, illegal step, or a bad decision."""


@dataclass(frozen=True)
class Case:
    case_number: str
    case_type: str
    subtype: str
    importer_account: str
    sender: str
    reference: str | None
    status: CaseState
    opened_at: datetime
    respond_by: datetime
    clock_stopped_at: datetime | None
    info_requested_at: datetime | None
    decided_at: datetime | None
    outcome: str | None
    decided_amount: Decimal | None
    inbox_id: int

    @property
    def client_answer_due(self) -> datetime | None:
        """While information is awaited: the client's 30 calendar days."""
        if self.status != "awaiting_information" or self.info_requested_at is None:
            return None
        return self.info_requested_at + timedelta(days=CLIENT_ANSWER_DAYS)

    def overdue(self, now: datetime) -> bool:
        """Past RespondBy with the clock still running (not paused, not stopped)."""
        return (self.clock_stopped_at is None and self.status != "awaiting_information"
                and self.status not in ("decided", "withdrawn") and now > self.respond_by)


@dataclass(frozen=True)
class Step:
    at: datetime
    step: str
    actor: str
    note: str | None


_CASE_COLUMNS = (
    "case_number, case_type, subtype, importer_account, sender, reference, status, opened_at,"
    " respond_by, clock_stopped_at, info_requested_at, decided_at, outcome,"
    " decided_amount_cents, inbox_id"
)


def _moment(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _case(row: tuple[object, ...]) -> Case:
    opened, respond_by = _moment(row[7]), _moment(row[8])
    assert opened is not None and respond_by is not None
    return Case(
        case_number=str(row[0]), case_type=str(row[1]), subtype=str(row[2]),
        importer_account=str(row[3]), sender=str(row[4]),
        reference=None if row[5] is None else str(row[5]), status=row[6],  # type: ignore[arg-type]
        opened_at=opened, respond_by=respond_by, clock_stopped_at=_moment(row[9]),
        info_requested_at=_moment(row[10]), decided_at=_moment(row[11]),
        outcome=None if row[12] is None else str(row[12]),
        decided_amount=None if row[13] is None else from_cents(int(str(row[13]))),
        inbox_id=int(str(row[14])),
    )


def find_case(tx: Tx, case_number: str) -> Case | None:
    row = tx.one(f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_number = ?",  # noqa: S608
                 (case_number,))
    return None if row is None else _case(row)


def list_cases(tx: Tx, case_type: str, status: str | None) -> list[Case]:
    rows = tx.all(
        f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_type = ?"  # noqa: S608
        " AND (CAST(? AS TEXT) IS NULL OR status = ?) ORDER BY opened_at, case_number",
        (case_type, status, status),
    )
    return [_case(row) for row in rows]


def case_steps(tx: Tx, case_number: str) -> list[Step]:
    rows = tx.all("SELECT at, step, actor, note FROM case_steps WHERE case_number = ?"
                  " ORDER BY id", (case_number,))
    return [Step(datetime.fromisoformat(str(r[0])), str(r[1]), str(r[2]),
                 None if r[3] is None else str(r[3])) for r in rows]


@dataclass(frozen=True)
class StepRequest:
    case_number: str
    step: str
    actor: str
    note: str | None = None
    outcome: str | None = None
    amount: Decimal | None = None


class CaseDesk:
    """Takes operator steps inside a transaction; pure rules, effects on the tables."""

    def __init__(self, config: Config, registry: Registry, calendar: BusinessCalendar) -> None:
        self.config = config
        self.registry = registry
        self.calendar = calendar

    def take(self, tx: Tx, request: StepRequest, now: datetime, case_type: str) -> Case:
        case = find_case(tx, request.case_number)
        if case is None or case.case_type != case_type:
            raise CaseError(f"no {case_type} case {request.case_number}")
        tx.lock_account(case.importer_account)
        try:
            state = next_state(case.status, request.step)
        except IllegalStep as error:
            raise CaseError(f"{case.case_number}: {error}") from None
        self._check_decision(case, request)
        self._record(tx, case, request, state, now)
        if request.step == "decide":
            self._apply_decision(tx, case, request, now)
        if request.step == "withdraw" and case.subtype == "refund":
            self._settle(tx, case, now)  # offsetting waited for the request: it resumes
        updated = find_case(tx, case.case_number)
        assert updated is not None
        self._notify(tx, updated, request, now)
        return updated

    def _check_decision(self, case: Case, request: StepRequest) -> None:
        if request.step != "decide":
            return
        if request.outcome not in OUTCOMES:
            raise CaseError(f"--outcome must be one of {', '.join(OUTCOMES)}")
        if request.outcome == "denied" and request.amount is not None:
            raise CaseError("a denied case takes no --amount")
        pays = case.case_type == "appeal" or case.subtype == "refund"
        if request.outcome != "denied" and request.amount is None and pays:
            raise CaseError(f"an {request.outcome} decision of this case needs --amount: what is "
                            f"{'credited' if case.case_type == 'appeal' else 'refunded'}")
        if request.amount is not None and request.amount <= 0:
            raise CaseError("--amount must be greater than 0")
        if request.amount is not None and request.amount != request.amount.quantize(
                Decimal("0.01")):
            raise CaseError("--amount has at most two fraction digits")
        if request.amount is not None and case.case_type == "account-request" and \
                case.subtype != "refund":
            raise CaseError(f"an amount is paid out only for a refund request, not {case.subtype}")

    def _record(self, tx: Tx, case: Case, request: StepRequest, state: CaseState,
                now: datetime) -> None:
        stamp = now.isoformat()
        tx.execute("UPDATE cases SET status = ? WHERE case_number = ?",
                   (state, case.case_number))
        tx.execute("INSERT INTO case_steps (case_number, step, actor, note, at)"
                   " VALUES (?, ?, ?, ?, ?)",
                   (case.case_number, request.step, request.actor, request.note, stamp))
        stops = (case.case_type == "appeal" and request.step == "acknowledge") or (
            case.case_type == "account-request" and request.step in ("decide", "withdraw"))
        if case.case_type == "appeal" and request.step == "withdraw":
            stops = True
        if stops:
            if case.info_requested_at is not None:  # withdrawn while paused: the pause counts
                self._extend(tx, case, now)
            self._stop_clock(tx, case, stamp)
        if request.step == "request-info":
            tx.execute("UPDATE cases SET info_requested_at = ? WHERE case_number = ?",
                       (stamp, case.case_number))
        if request.step == "resume" and case.info_requested_at is not None:
            self._extend(tx, case, now)
        if request.step == "decide":
            tx.execute("UPDATE cases SET decided_at = ?, outcome = ?, decided_amount_cents = ?"
                       " WHERE case_number = ?",
                       (stamp, request.outcome,
                        None if request.amount is None else to_cents(request.amount),
                        case.case_number))

    @staticmethod
    def _stop_clock(tx: Tx, case: Case, stamp: str) -> None:
        tx.execute("UPDATE cases SET clock_stopped_at = ? WHERE case_number = ?"
                   " AND clock_stopped_at IS NULL", (stamp, case.case_number))
        tx.execute("UPDATE inbox SET clock_stopped_at = ? WHERE id = ?"
                   " AND clock_stopped_at IS NULL", (stamp, case.inbox_id))

    def _extend(self, tx: Tx, case: Case, now: datetime) -> None:
        """The clock was paused while the client's information was awaited: RespondBy moves
        by the paused time (business time for a business-day standard), at most the client's
        30 calendar days (after them the case may be decided on the record, and the clock
        runs again). A pause that began after RespondBy moves nothing: the case was late."""
        paused_at = case.info_requested_at
        assert paused_at is not None
        if case.clock_stopped_at is not None:
            return
        resumed_at = min(now, paused_at + timedelta(days=CLIENT_ANSWER_DAYS))
        respond_by = case.respond_by
        standard = self.config.standards.for_kind(case.case_type)
        if paused_at >= case.respond_by:
            pass
        elif standard.unit == "business":
            remaining = self.calendar.business_seconds_between(paused_at, case.respond_by)
            respond_by = self.calendar.add_business_time(resumed_at,
                                                         timedelta(seconds=remaining))
        else:
            respond_by = case.respond_by + (resumed_at - paused_at)
        tx.execute("UPDATE cases SET respond_by = ?, info_requested_at = NULL"
                   " WHERE case_number = ?", (respond_by.isoformat(), case.case_number))
        tx.execute("UPDATE inbox SET respond_by = ? WHERE id = ?",
                   (respond_by.isoformat(), case.inbox_id))

    def _apply_decision(self, tx: Tx, case: Case, request: StepRequest, now: datetime) -> None:
        if request.amount is None or request.outcome == "denied":
            if case.subtype == "refund":
                self._settle(tx, case, now)
            return
        cents = to_cents(request.amount)
        on = self.calendar.local_date(now)
        if case.case_type == "appeal":
            legs = (Leg(RECEIVABLE, CREDIT_ITEM, -cents), Leg("revenue:appeals",
                                                              case.case_number, cents))
            entry_type = "appeal-credit"
        else:
            credit = -(item_balance_cents(tx, case.importer_account, CREDIT_ITEM) or 0)
            if cents > credit:
                raise CaseError(f"a refund of {format_amount(request.amount)} is more than the "
                                f"credit standing ({format_amount(from_cents(credit))})")
            legs = (Leg(RECEIVABLE, CREDIT_ITEM, cents), Leg("cash", case.case_number, -cents))
            entry_type = "refund"
        post(tx, Entry(importer_account=case.importer_account, entry_type=entry_type,
                       reference=case.case_number, inbox_id=None, effective_on=on,
                       posted_at=now, period=period_of(on).name, legs=legs))
        self._settle(tx, case, now)

    def _settle(self, tx: Tx, case: Case, now: datetime) -> None:
        settle_credits(tx, case.importer_account, posted_at=now,
                       effective_on=self.calendar.local_date(now), inbox_id=None)

    def _notify(self, tx: Tx, case: Case, request: StepRequest, now: datetime) -> None:
        """Every step goes to the sender and to the importer by email."""
        smtp = self.config.smtp
        recipients = []
        sender = self.registry.sender(case.sender)
        if sender is not None and sender.notify != "none":
            recipients.append(sender.email)
        account = self.registry.account(case.importer_account)
        if account is not None and account.email not in recipients:
            recipients.append(account.email)
        deliveries = []
        kind = "appeal" if case.case_type == "appeal" else "account request"
        for address in recipients:
            message_id = header_message_id(self.config.gateway.cluster, case.sender,
                                           case.case_number, f"step:{request.step}:{now}",
                                           address, smtp.domain)
            payload = plain_email(
                sender_address=smtp.sender, recipient=address,
                subject=f"[CARM] {_STEP_WORDS[request.step]}: {kind} {case.case_number}",
                text=self._step_text(case, request, kind), message_id=message_id, now=now)
            deliveries.append(Delivery("email", address, payload, header_message_id=message_id))
        enqueue(tx, None, False, deliveries, now, instance=self.config.gateway.id,
                purpose="case-step")

    def _step_text(self, case: Case, request: StepRequest, kind: str) -> str:
        zone = self.calendar.zone
        lines = [
            f"Your {kind} {case.case_number} ({case.subtype}, {case.reference or '-'}) is now "
            f"{case.status.replace('_', ' ')}.",
            "",
            f"Importer account: {case.importer_account}",
            f"Opened:           {case.opened_at.astimezone(zone):%Y-%m-%d %H:%M %Z}",
            f"Step:             {request.step} by the CBSA gateway operator",
        ]
        if request.note:
            lines.append(f"Reason or note:   {request.note}")
        if case.client_answer_due is not None:
            lines.append("Please send the information requested by "
                         f"{case.client_answer_due.astimezone(zone):%Y-%m-%d %H:%M %Z} "
                         f"({CLIENT_ANSWER_DAYS} calendar days).")
        if case.outcome:
            lines.append(f"Decision:         {case.outcome}")
        if case.decided_amount is not None:
            effect = "credited to the account" if case.case_type == "appeal" else "refunded"
            lines.append(f"Amount {effect}: {format_amount(case.decided_amount)} CAD")
        return "\n".join(lines) + "\n"


_STEP_WORDS = {
    "acknowledge": "Acknowledged", "review": "Under review", "request-info":
    "Information requested", "resume": "Review resumed", "decide": "Decided",
    "withdraw": "Withdrawn",
}
