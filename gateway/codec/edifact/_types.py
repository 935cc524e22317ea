"""The values `tokenize` returns: an interchange, its messages and their problems."""

from dataclasses import dataclass
from datetime import datetime

from gateway.codec.edifact.tokenizer import Segment, Separators
from gateway.validation.problems import CODES, Problem, has_errors

SUPPORTED_MESSAGE_TYPES = ("CUSDEC", "REMADV")
SUPPORTED_DIRECTORIES = (("D", "96B"), ("D", "21A"))


@dataclass(frozen=True)
class EdiProblem(Problem):
    """A problem found in EDIFACT syntax, with the ISO 9735 syntax error code (data element
    0085) that CONTRL reports for it."""

    syntax_error: str = "18"


def edi_problem(code: str, text: str, syntax_error: str, path: str | None,
                line: int | None) -> EdiProblem:
    return EdiProblem(code, CODES[code].severity, text, path, line, syntax_error)


@dataclass(frozen=True)
class EdiMessage:
    """One UNH...UNT message: one message in the sense of the contract."""

    reference: str
    """UNH 0062, the message reference number."""
    message_type: str
    """UNH S009 0065, e.g. CUSDEC."""
    version: tuple[str, str]
    """UNH S009 0052 and 0054, e.g. ("D", "96B")."""
    agency: str
    segments: tuple[Segment, ...]
    """UNH to UNT inclusive (without UNT when it is missing)."""
    problems: tuple[Problem, ...] = ()

    @property
    def directory(self) -> str:
        """Version and release together, e.g. D96B."""
        return self.version[0] + self.version[1]

    @property
    def supported(self) -> bool:
        return (self.message_type in SUPPORTED_MESSAGE_TYPES
                and self.version in SUPPORTED_DIRECTORIES)

    @property
    def rejected(self) -> bool:
        """Whether the message is syntactically broken (CONTRL UCM action 4)."""
        return has_errors(self.problems)

    @property
    def first_number(self) -> int:
        """The segment number of its UNH in the interchange."""
        return self.segments[0].number

    def position(self, segment_number: int) -> int:
        """The position of a segment in the message, UNH being 1 (CONTRL UCS 0096)."""
        return segment_number - self.first_number + 1


@dataclass(frozen=True)
class Interchange:
    """An interchange as read: its service characters, UNB fields, messages and problems."""

    separators: Separators
    una: bool
    """Whether a service string advice (UNA) opened it."""
    syntax_identifier: str
    """UNB S001 0001: UNOA, UNOB or UNOC ("" when the UNB cannot be read)."""
    syntax_version: int
    """UNB S001 0002: 3 or 4 (0 when it cannot be read)."""
    sender: str
    """UNB S002 0004, the interchange sender identification."""
    sender_qualifier: str
    recipient: str
    """UNB S003 0010, the interchange recipient identification."""
    recipient_qualifier: str
    prepared_date: str
    prepared_time: str
    prepared_at: datetime | None
    """UNB S004 date and time, read as Eastern time; None when missing or invalid."""
    control_reference: str
    """UNB 0020, the interchange control reference."""
    test: bool
    """UNB 0035 test indicator is 1."""
    segments: tuple[Segment, ...]
    """Every segment after the UNA, in order (UNB and UNZ included)."""
    messages: tuple[EdiMessage, ...]
    problems: tuple[Problem, ...]
    """The interchange's own problems: any error rejects the whole interchange."""

    @property
    def sound(self) -> bool:
        """Whether the envelope is sound (CONTRL UCI action 7)."""
        return not has_errors(self.problems)

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        """The interchange's problems, then each message's."""
        found = list(self.problems)
        for message in self.messages:
            found.extend(message.problems)
        return tuple(found)

    def message(self, reference: str) -> EdiMessage | None:
        return next((item for item in self.messages if item.reference == reference), None)
