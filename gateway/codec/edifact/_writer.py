"""Writing complete interchanges: UNA, UNB, messages between UNH and UNT, UNZ."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.codec.edifact._characters import SYNTAX_LEVELS, fit
from gateway.codec.edifact._structure import EASTERN
from gateway.codec.edifact.tokenizer import Element, Segment, Separators, segments_text

DEFAULT_SYNTAX_IDENTIFIER = "UNOC"
"""Used when the request's syntax identifier is not one the gateway supports."""
DEFAULT_SYNTAX_VERSION = 3


@dataclass(frozen=True)
class Party:
    """An interchange sender or recipient: identification (0004/0010) and qualifier (0007)."""

    identification: str
    qualifier: str = ""

    @property
    def element(self) -> Element:
        return (self.identification, self.qualifier) if self.qualifier else (self.identification,)


@dataclass(frozen=True)
class OutgoingMessage:
    reference: str
    identifier: tuple[str, str, str, str]
    """UNH S009: message type, version, release, agency."""
    body: Sequence[Segment]
    """The segments between UNH and UNT."""


@dataclass(frozen=True)
class Envelope:
    syntax_identifier: str
    syntax_version: int
    sender: Party
    recipient: Party
    prepared: datetime
    reference: str
    test: bool = False

    @property
    def level(self) -> str:
        identifier = self.syntax_identifier
        return identifier if identifier in SYNTAX_LEVELS else DEFAULT_SYNTAX_IDENTIFIER

    @property
    def version(self) -> int:
        return self.syntax_version if self.syntax_version in (3, 4) else DEFAULT_SYNTAX_VERSION


def _fitted(segment: Segment, level: str) -> Segment:
    elements = tuple(tuple(fit(component, level) for component in element)
                     for element in segment.elements)
    return Segment(segment.tag, elements)


def _unb(envelope: Envelope) -> Segment:
    local = envelope.prepared.astimezone(EASTERN)
    date_text = local.strftime("%Y%m%d" if envelope.version == 4 else "%y%m%d")
    elements: list[str | Element | None] = [
        (envelope.level, str(envelope.version)),
        envelope.sender.element,
        envelope.recipient.element,
        (date_text, local.strftime("%H%M")),
        envelope.reference,
    ]
    if envelope.test:
        elements += ["", "", "", "", "", "1"]
    return Segment.of("UNB", *elements)


def interchange_segments(envelope: Envelope,
                         messages: Iterable[OutgoingMessage]) -> list[Segment]:
    """UNB, each message from UNH to UNT, UNZ; every value fitted to the syntax level."""
    segments = [_unb(envelope)]
    count = 0
    for message in messages:
        body = [Segment.of("UNH", message.reference, message.identifier), *message.body]
        body.append(Segment.of("UNT", str(len(body) + 1), message.reference))
        segments.extend(body)
        count += 1
    segments.append(Segment.of("UNZ", str(count), envelope.reference))
    return [_fitted(segment, envelope.level) for segment in segments]


def write_interchange(envelope: Envelope, messages: Iterable[OutgoingMessage]) -> bytes:
    """The interchange as bytes: UNA with the syntax version's default separators, one segment
    per line, ISO 8859-1 (every level's repertoire is a subset of it)."""
    separators = Separators.default(envelope.version)
    text = separators.una + "\r\n" + segments_text(
        interchange_segments(envelope, messages), separators, line_break=True)
    return text.encode("latin-1")
