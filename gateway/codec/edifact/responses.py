"""The EDIFACT answers of CONTRACT section 5: CONTRL for every interchange, CUSRES for a
declaration's outcome, APERAK for a payment's. Each is a complete interchange of its own, in the
request's syntax identifier and version, from the request's recipient to its sender.
"""

import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from gateway.codec.edifact._structure import EASTERN
from gateway.codec.edifact._types import EdiMessage, EdiProblem, Interchange
from gateway.codec.edifact._writer import Envelope, OutgoingMessage, Party, write_interchange
from gateway.codec.edifact.tokenizer import Segment
from gateway.money import format_amount
from gateway.outcome import Outcome, Status
from gateway.validation.problems import Problem

GATEWAY_PARTY = "CARMGW"
"""The gateway's interchange identification when the request's UNB recipient is unreadable."""
UNKNOWN = "UNKNOWN"
CONTRL_IDENTIFIER = ("CONTRL", "D", "3", "UN")
ACCEPTED, REJECTED = "7", "4"
"""UCI/UCM 0083 actions: acknowledged, and rejected with everything below."""
CONTRL_CODES = ("EDI001", "EDI002", "EDI003", "DUP002", "XML003")
"""The problem codes CONTRL reports; business problems go in CUSRES or APERAK. XML003 is an
interchange over the size limit."""
DEFAULT_SYNTAX_ERRORS = {"EDI001": "18", "EDI003": "14", "DUP002": "26", "XML003": "18"}
"""0085 for a problem that does not carry its own: unspecified, value not supported,
duplicate detected, and unspecified again for the size limit (0085 has no code for it).
EDI002 is 28 (references) or 29 (counts and trailers) by its path."""
RESPONSE_TYPE: dict[Status, str] = {"accepted": "AP", "rejected": "RE", "deferred": "AJ",
                                    "received": "AB"}
"""BGM 4343 response type for each Status: accepted, rejected, pending, acknowledged."""
TEXT_CHUNK = 70
"""FTX 4440 is an..70 in D96B: a problem's text spans up to 3 components, then come its path
and its line."""
TEXT_CHUNKS = 3
_PATH = re.compile(r"([A-Z0-9]{3})(?:\+([0-9]+)(?::([0-9]+))?)?")


def _syntax_error(item: Problem) -> str:
    if isinstance(item, EdiProblem):
        return item.syntax_error
    if item.code == "EDI002":
        return "28" if (item.path or "").endswith("+2") else "29"
    return DEFAULT_SYNTAX_ERRORS.get(item.code, "18")


def _where(item: Problem) -> tuple[str, str, str]:
    """Segment tag, data element and component positions from an EDIFACT path."""
    found = _PATH.fullmatch(item.path or "")
    if found is None:
        return "", "", ""
    return found[1], found[2] or "", found[3] or ""


def _errors(found: Iterable[Problem]) -> list[Problem]:
    """The errors CONTRL reports, each once: a problem handed in again (say, from a stored
    outcome) is the same as the one `tokenize` found, whose 0085 code is kept."""
    unique: dict[tuple[str, str, str | None, int | None], Problem] = {}
    for item in found:
        if item.severity != "error" or item.code not in CONTRL_CODES:
            continue
        key = (item.code, item.text, item.path, item.line)
        if key not in unique or isinstance(item, EdiProblem):
            unique[key] = item
    return list(unique.values())


def _envelope(interchange: Interchange, reference: str, now: datetime,
              partner_id: str | None) -> Envelope:
    return Envelope(
        syntax_identifier=interchange.syntax_identifier,
        syntax_version=interchange.syntax_version,
        sender=Party(interchange.recipient or GATEWAY_PARTY, interchange.recipient_qualifier),
        recipient=Party(interchange.sender or partner_id or UNKNOWN,
                        interchange.sender_qualifier),
        prepared=now,
        reference=reference,
        test=interchange.test,
    )


def _service_report(first: Problem | None) -> list[str | tuple[str, ...]]:
    """0085, 0013 and S011 of a UCI or UCM for its first error, when it concerns a service
    segment."""
    if first is None:
        return []
    tag, element, component = _where(first)
    if not tag.startswith("UN"):
        return [_syntax_error(first)]
    position = (element, component) if component else (element,)
    return [_syntax_error(first), tag, position]


def _message_report(message: EdiMessage, errors: Sequence[Problem],
                    rejected: bool) -> list[Segment]:
    service = [item for item in errors if _where(item)[0] in ("UNH", "UNT", "")]
    identifier = (message.message_type, *message.version, message.agency)
    action = REJECTED if errors or rejected else ACCEPTED
    report = [Segment.of("UCM", message.reference, identifier, action,
                         *_service_report(service[0] if service else None))]
    by_segment: dict[int, list[Problem]] = {}
    for item in errors:
        if item not in service[:1] and item.line is not None:
            by_segment.setdefault(item.line, []).append(item)
    for line, found in sorted(by_segment.items()):
        whole = next((item for item in found if not _where(item)[1]), None)
        report.append(Segment.of("UCS", str(message.position(line)),
                                 _syntax_error(whole) if whole else None))
        for item in found:
            _, element, component = _where(item)
            if element:
                position = (element, component) if component else (element,)
                report.append(Segment.of("UCD", _syntax_error(item), position))
    return report


def contrl(interchange: Interchange, problems_by_message: Mapping[str | None, Sequence[Problem]],
           *, reference: str, now: datetime, partner_id: str | None = None) -> bytes:
    """CONTRL for an interchange: UCI action 7 when its envelope is sound, 4 when it is broken
    (or a duplicate: DUP002 under the key None); for each message UCM action 4 when it is
    syntactically broken, 7 otherwise, with UCS/UCD positions and 0085 codes.

    `problems_by_message` adds problems to those `tokenize` found: under a UNH message
    reference for that message, under None for the interchange. Only EDI001, EDI002, EDI003 and
    DUP002 are reported. `partner_id` (the topic's sender) addresses the CONTRL when the UNB
    cannot be read."""
    interchange_errors = _errors([*interchange.problems, *problems_by_message.get(None, ())])
    duplicates = [item for item in interchange_errors if item.code == "DUP002"]
    first = (duplicates or interchange_errors)[0] if interchange_errors else None
    sender = Party(interchange.sender or partner_id or UNKNOWN, interchange.sender_qualifier)
    recipient = Party(interchange.recipient or GATEWAY_PARTY, interchange.recipient_qualifier)
    body = [Segment.of("UCI", interchange.control_reference or UNKNOWN, sender.element,
                       recipient.element, REJECTED if interchange_errors else ACCEPTED,
                       *_service_report(first))]
    for message in interchange.messages:
        errors = _errors([*message.problems, *problems_by_message.get(message.reference, ())])
        body.extend(_message_report(message, errors, rejected=bool(interchange_errors)))
    envelope = _envelope(interchange, reference, now, partner_id)
    return write_interchange(envelope, [OutgoingMessage("1", CONTRL_IDENTIFIER, body)])


def _eastern(moment: datetime) -> str:
    return moment.astimezone(EASTERN).strftime("%Y%m%d%H%M")


def _problem_text(item: Problem) -> tuple[str, ...]:
    """FTX C108: the text in up to 3 components of at most 70 characters (broken at spaces
    where possible; joined again they give the text), then the path and the line."""
    chunks = textwrap.wrap(item.text, TEXT_CHUNK, drop_whitespace=False,
                           break_on_hyphens=False)[:TEXT_CHUNKS]
    location = (item.path or "")[:TEXT_CHUNK], str(item.line) if item.line else ""
    if not any(location):
        return tuple(chunks)
    return (*chunks, *[""] * (TEXT_CHUNKS - len(chunks)), *location)


def _heading(document_code: str, outcome: Outcome, now: datetime) -> list[Segment]:
    segments = [
        Segment.of("BGM", document_code, outcome.acknowledgement_id, "9",
                   RESPONSE_TYPE[outcome.status]),
        Segment.of("DTM", ("137", _eastern(now), "203")),
    ]
    if outcome.respond_by is not None:
        segments.append(Segment.of("DTM", ("63", _eastern(outcome.respond_by), "203")))
    if outcome.payment_due is not None:
        segments.append(Segment.of("DTM", ("140", outcome.payment_due.strftime("%Y%m%d"),
                                           "102")))
    if outcome.balance is not None:
        segments.append(Segment.of("FTX", "PMT", "", "BALANCE", format_amount(outcome.balance)))
    return segments


def _references(interchange: Interchange, message: EdiMessage,
                outcome: Outcome) -> list[Segment]:
    message_id = outcome.ref_message_id or f"{interchange.control_reference}/{message.reference}"
    return [Segment.of("RFF", ("ACW", message_id))]


def _problem_segments(outcome: Outcome, *, error_point: bool) -> list[Segment]:
    segments = []
    for item in outcome.problems:
        if error_point:
            segments.append(Segment.of("ERP", "1"))
        segments.append(Segment.of("ERC", item.code))
        segments.append(Segment.of("FTX", "AAO", "", item.severity.upper(),
                                   _problem_text(item)))
    return segments


def _identifier(message_type: str, message: EdiMessage) -> tuple[str, str, str, str]:
    version = message.version if message.supported else ("D", "21A")
    return (message_type, version[0], version[1], "UN")


def cusres(interchange: Interchange, message: EdiMessage, outcome: Outcome, *, reference: str,
           now: datetime) -> bytes:
    """CUSRES with a declaration's outcome, in the request's directory version."""
    body = _heading("962", outcome, now) + _references(interchange, message, outcome)
    if outcome.reference and "/" in outcome.reference:
        transaction, version = outcome.reference.split("/", 1)
        body.append(Segment.of("RFF", ("AAE", transaction, "", version)))
    body += _problem_segments(outcome, error_point=True)
    if outcome.assessment is not None:
        totals = outcome.assessment
        for function, tax_type, amount in (("3", "CUD", totals.duty),
                                           ("3", "EXC", totals.excise_tax),
                                           ("3", "GST", totals.gst), ("4", "TOT", totals.total)):
            body.append(Segment.of("TAX", function, tax_type))
            body.append(Segment.of("MOA", ("161", format_amount(amount), "CAD")))
    envelope = _envelope(interchange, reference, now, None)
    return write_interchange(envelope, [OutgoingMessage(
        "1", _identifier("CUSRES", message), body)])


def aperak(interchange: Interchange, message: EdiMessage, outcome: Outcome, *, reference: str,
           now: datetime) -> bytes:
    """APERAK with a payment's outcome, in the request's directory version."""
    body = _heading("312", outcome, now) + _references(interchange, message, outcome)
    if outcome.reference:
        body.append(Segment.of("RFF", ("PQ", outcome.reference)))
    body += _problem_segments(outcome, error_point=False)
    envelope = _envelope(interchange, reference, now, None)
    return write_interchange(envelope, [OutgoingMessage(
        "1", _identifier("APERAK", message), body)])
