"""The order of checks (CONTRACT section 3), stages 1 to 7 and the stateless part of stage 8.

Every problem of a stage is reported; an error stops the later stages. The stateful rules of
stage 8 run in the handler's transaction (gateway/handlers.py) and are added to these.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.codec.classify import Syntax, scan_kind, scan_message_id, syntax_of
from gateway.codec.messages import KIND_OF_ROOT, Appeal, Declaration, Kind, Message, Payment
from gateway.codec.xml_documents import decode, kind_of, validate_schema
from gateway.codec.xml_parser import XmlRefused, parse
from gateway.identifiers import account_valid, transaction_valid
from gateway.partners import Registry
from gateway.standards.calendar import BusinessCalendar
from gateway.validation.problems import Problem, has_errors, problem
from gateway.validation.rules import stateless_problems

LATE_AFTER_BUSINESS_DAYS = 5


@dataclass(frozen=True)
class CheckSettings:
    max_message_bytes: int = 1_048_576
    transaction_check_digit: str = "luhn"


@dataclass(frozen=True)
class Checked:
    """What stages 1 to 8 (stateless) found; `message` is set once the schema passed."""

    kind: Kind
    message: Message | None
    problems: tuple[Problem, ...]
    ref_message_id: str | None
    business_rules: bool = False
    """Stages 1 to 7 passed and the stateless rules of stage 8 ran: the stateful ones are to
    run too, whatever these found (stage 8 reports all its problems together)."""

    @property
    def rejected(self) -> bool:
        return has_errors(self.problems)

    @property
    def reference(self) -> str | None:
        return self.message.reference if self.message is not None else None

    @property
    def test(self) -> bool:
        return self.message is not None and self.message.header.test


@dataclass(frozen=True)
class Sending:
    """Who sent it, for stages 5 and 6; absent when `validate` runs offline."""

    topic_sender: str
    registry: Registry


def _decode_stages(payload: bytes, syntax: Syntax,
                   settings: CheckSettings) -> tuple[Kind, Message | None, list[Problem]]:
    """Stages 1 to 4: size, forbidden constructs, well-formedness, schema."""
    if len(payload) > settings.max_message_bytes:
        text = f"{len(payload)} bytes, the maximum is {settings.max_message_bytes}"
        return scan_kind(payload), None, [problem("XML003", text)]
    if syntax == "unknown":
        return "unknown", None, [problem("XML001", "neither XML nor EDIFACT", line=1)]
    if syntax == "edifact":
        raise AssertionError("check() answers EDIFACT before decoding XML")
    try:
        root = parse(payload)
    except XmlRefused as refused:
        return scan_kind(payload), None, refused.problems
    kind = kind_of(root)
    schema_problems = validate_schema(root)
    if schema_problems:
        return kind, None, schema_problems
    return kind, decode(root), []


def _sender_stage(message: Message, sending: Sending) -> list[Problem]:
    """Stage 5: AUTH002 and AUTH003, both reported."""
    problems = []
    if message.header.sender != sending.topic_sender:
        path = f"/{_root(message)}/Header/Sender"
        text = f"Header/Sender {message.header.sender} differs from the topic's sender " \
               f"{sending.topic_sender}"
        problems.append(problem("AUTH002", text, path, message.source_lines.get(path)))
    if sending.registry.sender(sending.topic_sender) is None:
        problems.append(problem("AUTH003", f"sender {sending.topic_sender} is not registered"))
    return problems


_ROOT_OF_KIND = {kind: root for root, kind in KIND_OF_ROOT.items()}


def _root(message: Message) -> str:
    return _ROOT_OF_KIND[message.kind]


def _account_stage(message: Message, sending: Sending | None) -> list[Problem]:
    """Stage 6: ACC001, then ACC002, then AUTH001; the first failure ends the stage."""
    account = message.importer_account
    path = f"/{_root(message)}/ImporterAccount"

    def at_account(code: str, text: str) -> list[Problem]:
        return [problem(code, text, path, message.source_lines.get(path))]

    if not account_valid(account):
        return at_account("ACC001", f"{account} is not a valid RM account")
    if sending is None:
        return []
    if sending.registry.account(account) is None:
        return at_account("ACC002", f"account {account} is not registered")
    sender = sending.registry.sender(sending.topic_sender)
    if sender is None or account not in sender.accounts:
        return at_account("AUTH001", f"sender {sending.topic_sender} is not delegated for "
                                     f"{account}")
    return []


def _transaction_numbers(message: Message) -> list[tuple[str, str]]:
    root = _root(message)
    if isinstance(message, Declaration):
        return [(message.transaction_number, f"/{root}/TransactionNumber")]
    if isinstance(message, Payment):
        return [
            (item.transaction_number, f"/{root}/Allocation[{index}]/TransactionNumber")
            for index, item in enumerate(message.allocations, start=1)
        ]
    if isinstance(message, Appeal) and message.transaction_number:
        return [(message.transaction_number, f"/{root}/TransactionNumber")]
    return []


def _transaction_stage(message: Message, settings: CheckSettings) -> list[Problem]:
    """Stage 7: TXN001 for every transaction number the message names."""
    return [
        problem("TXN001", f"{number}: the check digit is wrong", path,
                message.source_lines.get(path))
        for number, path in _transaction_numbers(message)
        if not transaction_valid(number, settings.transaction_check_digit)
    ]


def check(payload: bytes, *, settings: CheckSettings, sending: Sending | None,
          received_at: datetime, calendar: BusinessCalendar) -> Checked:
    """Run the stages in order on one payload."""
    syntax = syntax_of(payload)
    if syntax == "edifact" and len(payload) <= settings.max_message_bytes:
        return _check_first_message(payload, settings=settings, sending=sending,
                                    received_at=received_at, calendar=calendar)
    kind, message, problems = _decode_stages(payload, syntax, settings)
    if message is None:
        return Checked(kind, None, tuple(problems), scan_message_id(payload))
    return check_message(message, settings=settings, sending=sending,
                         received_at=received_at, calendar=calendar)


def _check_first_message(payload: bytes, *, settings: CheckSettings, sending: Sending | None,
                         received_at: datetime, calendar: BusinessCalendar) -> Checked:
    """An EDIFACT interchange as one input: its envelope, then its first message (the daemon
    and `validate` check every message: gateway.edifact_flow)."""
    from gateway.codec.edifact import tokenize  # noqa: PLC0415 (edifact_flow imports us)
    from gateway.edifact_flow import check_part  # noqa: PLC0415

    interchange = tokenize(payload)
    if not interchange.sound or not interchange.messages:
        return Checked(scan_kind(payload), None, interchange.problems,
                       interchange.control_reference or None)
    return check_part(payload, 0, settings=settings, sending=sending, received_at=received_at,
                      calendar=calendar)


def check_message(message: Message, *, settings: CheckSettings, sending: Sending | None,
                  received_at: datetime, calendar: BusinessCalendar,
                  problems: list[Problem] | None = None) -> Checked:
    """Stages 5 to 8 (stateless) of a decoded message, from XML or from EDIFACT."""
    problems = list(problems or [])
    ref_message_id = message.header.message_id

    def late(declaration: Declaration) -> list[Problem]:
        late_from = calendar.end_of_business_days_after(
            declaration.release_date, LATE_AFTER_BUSINESS_DAYS
        )
        if received_at < late_from:
            return []
        path = "/Declaration/ReleaseDate"
        text = f"received after the 5th business day following release on " \
               f"{declaration.release_date}"
        return [problem("DEC004", text, path, declaration.source_lines.get(path))]

    def sender_stage() -> list[Problem]:
        return _sender_stage(decoded, sending) if sending is not None else []

    def account_stage() -> list[Problem]:
        return _account_stage(decoded, sending)

    def transaction_stage() -> list[Problem]:
        return _transaction_stage(decoded, settings)

    def business_stage() -> list[Problem]:
        return stateless_problems(decoded, calendar.local_date(received_at), late)

    decoded = message
    stages: list[Callable[[], list[Problem]]] = [sender_stage, account_stage, transaction_stage]
    for stage in stages:
        found = stage()
        problems.extend(found)
        if has_errors(found):
            return Checked(message.kind, message, tuple(problems), ref_message_id)
    problems.extend(business_stage())
    return Checked(message.kind, message, tuple(problems), ref_message_id, business_rules=True)
