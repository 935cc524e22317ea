"""EDIFACT through the same pipeline as XML (CONTRACT section 5).

An interchange is journalled as one entry keyed by its UNB reference; processing it answers
with a CONTRL and journals each UNH message as an entry of its own (a `part`), which then gets
its own outcome, deadline and email, answered as CUSRES (declarations) or APERAK (payments).
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from gateway.codec.edifact import (
    EdiMessage,
    Interchange,
    aperak,
    contrl,
    cusres,
    map_message,
    tokenize,
)
from gateway.codec.messages import Kind
from gateway.outcome import Outcome
from gateway.standards.calendar import BusinessCalendar
from gateway.validation.pipeline import Checked, CheckSettings, Sending, check_message
from gateway.validation.problems import Problem, has_errors, problem

KIND_OF_TYPE: dict[str, Kind] = {"CUSDEC": "declaration", "REMADV": "payment"}

TOKENIZED_INTERCHANGES_MAX = 1
"""How many tokenized interchanges are kept for reuse. Each message of an interchange is
checked and answered on its own, each time from the interchange's bytes: tokenizing them again
every time made an interchange of n messages cost n times its own size (26,000 messages in
1 MB: hours on the database thread). An interchange's messages are journalled together, when
it is processed, and processed in that order after it, so one is enough: two interchanges
that arrive together cost one tokenization more each, not one per message. Each costs about
30 times its size in memory (30 MB for 1 MB), held until the next interchange."""


@functools.lru_cache(maxsize=TOKENIZED_INTERCHANGES_MAX)
def tokenized(payload: bytes) -> Interchange:
    """`tokenize(payload)`, kept for the next message of the same interchange. Keyed by the
    bytes themselves, so it can never answer for other bytes; the Interchange is immutable
    (frozen dataclasses of tuples), so sharing it is safe."""
    return tokenize(payload)


def part_key(interchange: Interchange, message: EdiMessage) -> str:
    """The MessageID of an EDIFACT message: `{UNB reference}/{UNH reference}`."""
    return f"{interchange.control_reference}/{message.reference}"


def kind_of_message(message: EdiMessage) -> Kind:
    return KIND_OF_TYPE.get(message.message_type, "unknown")


def check_part(payload: bytes, index: int, *, settings: CheckSettings, sending: Sending | None,
               received_at: datetime, calendar: BusinessCalendar) -> Checked:
    """Stages 3 to 8 (stateless) of one message of an interchange."""
    interchange = tokenized(payload)
    message = interchange.messages[index]
    kind = kind_of_message(message)
    key = part_key(interchange, message)
    if message.rejected:
        return Checked(kind, None, message.problems, key)
    decoded, problems = map_message(interchange, message)
    if decoded is None or has_errors(problems):
        return Checked(kind, None, tuple(problems), key)
    return check_message(decoded, settings=settings, sending=sending, received_at=received_at,
                         calendar=calendar, problems=list(problems))


def interchange_outcome(interchange: Interchange, *, acknowledgement_id: str, sender: str,
                        kind: Kind, received_at: datetime, respond_by: datetime) -> Outcome:
    """The answer to the interchange itself: accepted when its envelope is sound."""
    return Outcome(
        acknowledgement_id=acknowledgement_id,
        ref_message_id=interchange.control_reference or None,
        sender=sender,
        kind=kind,
        reference=interchange.control_reference or None,
        status="accepted" if interchange.sound else "rejected",
        test=interchange.test,
        received_at=received_at,
        respond_by=respond_by,
        problems=interchange.problems,
    )


def syntax_rejected(outcome: Outcome) -> bool:
    """A message that failed EDIFACT syntax: the CONTRL already answered it on MQTT."""
    return outcome.status == "rejected" and any(p.code.startswith("EDI") for p in outcome.problems)


def renderer(payload: bytes, part_index: int | None, *, sender: str, now: datetime,
             extra: list[Problem] | None = None,
             whole: bool = True) -> Callable[[Outcome], bytes] | None:
    """How an outcome is written on MQTT: CONTRL for an interchange, CUSRES or APERAK for a
    message of one; None for a message the CONTRL already rejected.

    Of an interchange over the size limit, or rejected and over `[retention]
    rejected_payload_bytes_max`, only its first bytes are kept (`whole` False): its CONTRL is
    built from the envelope alone and rejects the interchange with the outcome's syntax
    problems (XML003 is 0085 code 18), whatever the cut-off bytes would have shown."""
    interchange = tokenized(payload)
    if part_index is None:
        if not whole:
            interchange = replace(interchange, messages=(), problems=())

        def write_contrl(outcome: Outcome) -> bytes:
            found = list(extra or [])
            if not whole:
                found += outcome.problems  # CONTRL reports only its codes (CONTRL_CODES)
            added: dict[str | None, Sequence[Problem]] = {None: found} if found else {}
            return contrl(interchange, added, reference=_reference(outcome), now=now,
                          partner_id=sender)

        return write_contrl
    message = interchange.messages[part_index]
    writer = cusres if message.message_type == "CUSDEC" else aperak

    def write_business(outcome: Outcome) -> bytes | None:
        if syntax_rejected(outcome) and message.rejected:
            return None
        return writer(interchange, message, outcome, reference=_reference(outcome), now=now)

    return write_business  # type: ignore[return-value]


def _reference(outcome: Outcome) -> str:
    """A UNB interchange control reference (at most 14 characters) for a response."""
    return outcome.acknowledgement_id.rsplit("-", 1)[-1][-14:]


def duplicate_problem(reference: str) -> Problem:
    return problem("DUP002", f"interchange reference {reference} was used before for "
                             "different content")
