"""The envelope checks: UNB, UNH...UNT messages and UNZ (EDI001, EDI002, EDI003)."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.codec.edifact._characters import SYNTAX_LEVELS, is_number, quoted, whole_number
from gateway.codec.edifact._types import (
    SUPPORTED_DIRECTORIES,
    SUPPORTED_MESSAGE_TYPES,
    EdiMessage,
    EdiProblem,
    Interchange,
    edi_problem,
)
from gateway.codec.edifact.tokenizer import Segment, Separators
from gateway.validation.problems import Problem

EASTERN = ZoneInfo("America/Toronto")
"""UNB date and time are read in this zone (CONTRACT section 5)."""

MAX_PROBLEMS = 100
"""At most this many problems are kept per interchange and per message."""

SEGMENT_TAGS = {
    "CUSDEC": frozenset({
        "UNH", "BGM", "CST", "LOC", "DTM", "GEI", "GIS", "FII", "MEA", "EQD", "SEL", "FTX",
        "RFF", "PAC", "PCI", "TDT", "TPL", "DOC", "NAD", "CTA", "COM", "TOD", "MOA", "CUX",
        "EFI", "CED", "QTY", "UNS", "DMS", "PYT", "PCD", "ALC", "RTE", "LIN", "PIA", "PRI",
        "QVR", "GIR", "IMD", "GIN", "GDS", "TAX", "CNT", "AUT", "UNT",
    }),
    "REMADV": frozenset({
        "UNH", "BGM", "DTM", "RFF", "FII", "PAI", "FTX", "GEI", "GIS", "NAD", "CTA", "COM",
        "CUX", "DOC", "MOA", "AJT", "QTY", "TAX", "INP", "DLI", "PIA", "UNS", "ALC", "UNT",
    }),
}
"""The segments of the message structures (directory D21A, plus GIS of D96B)."""

_ENDS_A_MESSAGE = frozenset({"UNH", "UNZ", "UNB", "UNG", "UNE"})

SEGMENT_COUNT_DIGITS_MAX = 10
"""UNT 0074, the number of segments in a message, is n..10 (ISO 9735): a longer count cannot
match, and is not converted (`int` refuses more than 4,300 digits)."""
MESSAGE_COUNT_DIGITS_MAX = 6
"""UNZ 0036, the interchange control count, is n..6."""


def prepared_at(date_text: str, time_text: str) -> datetime | None:
    """UNB date (YYMMDD or CCYYMMDD) and time (HHMM) as an aware Eastern datetime."""
    if not (is_number(date_text) and is_number(time_text) and len(time_text) == 4):
        return None
    if len(date_text) == 6:
        date_text = "20" + date_text
    if len(date_text) != 8:
        return None
    try:
        return datetime(int(date_text[:4]), int(date_text[4:6]), int(date_text[6:]),
                        int(time_text[:2]), int(time_text[2:]), tzinfo=EASTERN)
    except ValueError:
        return None


def _unb_problems(unb: Segment) -> list[EdiProblem]:
    line = unb.number
    problems = []
    identifier, version = unb.component(1, 1), unb.component(1, 2)
    if identifier not in SYNTAX_LEVELS:
        text = f"syntax identifier {identifier!r} is not supported: use UNOA, UNOB or UNOC"
        problems.append(edi_problem("EDI001", text, "2", "UNB+1:1", line))
    if version not in ("3", "4"):
        text = f"syntax version {version!r} is not supported: use 3 or 4"
        problems.append(edi_problem("EDI001", text, "2", "UNB+1:2", line))
    for path, element, name in (("UNB+2:1", 2, "sender identification (0004)"),
                                ("UNB+3:1", 3, "recipient identification (0010)"),
                                ("UNB+5", 5, "interchange control reference (0020)")):
        if not unb.component(element, 1):
            problems.append(edi_problem("EDI001", f"UNB has no {name}", "13", path, line))
    date_text, time_text = unb.component(4, 1), unb.component(4, 2)
    if not date_text or not time_text:
        problems.append(edi_problem("EDI001", "UNB has no date and time of preparation (S004)",
                                    "13", "UNB+4", line))
    elif prepared_at(date_text, time_text) is None:
        text = f"UNB date and time {date_text}:{time_text} is not a valid YYMMDD or " \
               "CCYYMMDD date and HHMM time"
        problems.append(edi_problem("EDI001", text, "12", "UNB+4", line))
    if unb.component(11, 1) not in ("", "1"):
        text = f"UNB test indicator (0035) {unb.component(11, 1)!r} is not 1"
        problems.append(edi_problem("EDI001", text, "12", "UNB+11", line))
    return problems


def _tag_problem(segment: Segment, message_type: str) -> EdiProblem | None:
    tag = segment.tag
    allowed = SEGMENT_TAGS.get(message_type)
    if allowed is not None and tag in allowed:
        return None
    if len(tag) != 3 or not tag.isalnum() or not tag.isupper() or not tag[0].isalpha():
        text = f"segment {segment.number} has no valid segment tag: {tag!r}"
        return edi_problem("EDI001", text, "12", tag or None, segment.number)
    if allowed is not None:
        text = f"segment {tag} is not a segment of {message_type}"
        return edi_problem("EDI001", text, "15", tag, segment.number)
    return None


def _trailer_problems(unh: Segment, unt: Segment, count: int) -> list[EdiProblem]:
    problems = []
    counted = unt.component(1, 1)
    value = whole_number(counted, SEGMENT_COUNT_DIGITS_MAX)
    if not is_number(counted):
        text = f"UNT number of segments (0074) {quoted(counted)} is not a number"
        problems.append(edi_problem("EDI001", text, "12", "UNT+1", unt.number))
    elif value != count:
        given = quoted(counted) if value is None else value
        text = f"UNT gives {given} segments (0074), the message has {count}"
        problems.append(edi_problem("EDI002", text, "29", "UNT+1", unt.number))
    if unt.component(2, 1) != unh.component(1, 1):
        text = f"UNT message reference (0062) {unt.component(2, 1)!r} differs from UNH's " \
               f"{unh.component(1, 1)!r}"
        problems.append(edi_problem("EDI002", text, "28", "UNT+2", unt.number))
    return problems


def _header_problems(unh: Segment, seen: set[str]) -> list[EdiProblem]:
    line = unh.number
    reference, message_type = unh.component(1, 1), unh.component(2, 1)
    version = (unh.component(2, 2), unh.component(2, 3))
    problems = []
    if not reference:
        problems.append(edi_problem("EDI001", "UNH has no message reference (0062)", "13",
                                    "UNH+1", line))
    elif reference in seen:
        text = f"message reference {reference!r} is used twice in the interchange"
        problems.append(edi_problem("EDI001", text, "26", "UNH+1", line))
    if not message_type or not all(version):
        text = "UNH has no message type, version and release (S009)"
        problems.append(edi_problem("EDI001", text, "13", "UNH+2", line))
    elif message_type not in SUPPORTED_MESSAGE_TYPES:
        text = f"message type {message_type} is not supported: send CUSDEC or REMADV"
        problems.append(edi_problem("EDI003", text, "14", "UNH+2:1", line))
    elif version not in SUPPORTED_DIRECTORIES:
        text = f"directory {version[0]}{version[1]} is not supported: use D96B or D21A"
        path = "UNH+2:2" if version[0] != "D" else "UNH+2:3"
        problems.append(edi_problem("EDI003", text, "14", path, line))
    return problems


class _Walk:
    """One pass over the segments after the UNB: messages, stray segments, the UNZ."""

    def __init__(self, invalid_characters: Mapping[int, EdiProblem], truncated: bool) -> None:
        self.invalid_characters = invalid_characters
        self.truncated = truncated
        self.problems: list[Problem] = []
        self.messages: list[EdiMessage] = []
        self.references: set[str] = set()
        self.unz: Segment | None = None

    def run(self, segments: Sequence[Segment]) -> None:
        current: list[Segment] | None = None
        for segment in segments:
            tag = segment.tag
            if current is not None:
                if tag == "UNT":
                    current.append(segment)
                    self.close(current, complete=True)
                    current = None
                    continue
                if tag not in _ENDS_A_MESSAGE:
                    current.append(segment)
                    continue
                self.close(current, complete=False)
                current = None
            if self.unz is not None:
                self.stray(segment, "after UNZ")
            elif tag == "UNH":
                current = [segment]
            elif tag == "UNZ":
                self.unz = segment
            elif tag in ("UNG", "UNE"):
                text = f"segment {segment.number}: functional groups ({tag}) are not supported"
                self.add(edi_problem("EDI001", text, "15", tag, segment.number))
            else:
                self.stray(segment, "outside any message")
        if current is not None:
            self.close(current, complete=False)

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def stray(self, segment: Segment, where: str) -> None:
        self.add(edi_problem("EDI001", f"segment {segment.number} ({segment.tag}) is {where}",
                             "33", segment.tag or None, segment.number))
        if segment.number in self.invalid_characters:
            self.add(self.invalid_characters[segment.number])

    def close(self, segments: list[Segment], *, complete: bool) -> None:
        unh = segments[0]
        message_type = unh.component(2, 1)
        problems: list[Problem] = list(_header_problems(unh, self.references))
        self.references.add(unh.component(1, 1))
        for segment in segments:
            if len(problems) >= MAX_PROBLEMS:
                break
            found = self.invalid_characters.get(segment.number)
            if found is None and segment is not unh and segment.tag != "UNT":
                found = _tag_problem(segment, message_type)
            if found is not None:
                problems.append(found)
        if complete:
            problems.extend(_trailer_problems(unh, segments[-1], len(segments)))
        elif not self.truncated:
            text = f"the message {unh.component(1, 1)!r} ends at segment " \
                   f"{segments[-1].number} without a UNT"
            problems.append(edi_problem("EDI002", text, "29", "UNT", segments[-1].number))
        self.messages.append(EdiMessage(
            reference=unh.component(1, 1),
            message_type=message_type,
            version=(unh.component(2, 2), unh.component(2, 3)),
            agency=unh.component(2, 4),
            segments=tuple(segments),
            problems=tuple(problems[:MAX_PROBLEMS]),
        ))

    def trailer(self, unb: Segment, last: Segment) -> None:
        unz = self.unz
        if unz is None:
            if not self.truncated:
                text = f"the interchange ends at segment {last.number} without a UNZ"
                self.add(edi_problem("EDI002", text, "29", "UNZ", last.number))
            return
        if unz.number in self.invalid_characters:
            self.add(self.invalid_characters[unz.number])
        counted = unz.component(1, 1)
        if whole_number(counted, MESSAGE_COUNT_DIGITS_MAX) != len(self.messages):
            text = f"UNZ gives {quoted(counted)} messages (0036), the interchange has " \
                   f"{len(self.messages)}"
            self.add(edi_problem("EDI002", text, "29", "UNZ+1", unz.number))
        if unz.component(2, 1) != unb.component(5, 1):
            text = f"UNZ interchange control reference (0020) {unz.component(2, 1)!r} " \
                   f"differs from UNB's {unb.component(5, 1)!r}"
            self.add(edi_problem("EDI002", text, "28", "UNZ+2", unz.number))
        if not self.messages:
            self.add(edi_problem("EDI001", "the interchange has no message", "32", "UNZ",
                                 unz.number))


def check_envelope(segments: tuple[Segment, ...], separators: Separators, *, una: bool,
                   una_problem: EdiProblem | None, broken: EdiProblem | None,
                   invalid_characters: Mapping[int, EdiProblem]) -> Interchange:
    """The interchange with every problem of its envelope and messages."""
    unb = segments[0] if segments and segments[0].tag == "UNB" else None
    walk = _Walk(invalid_characters, truncated=broken is not None)
    problems: list[Problem] = []
    if una_problem is not None:
        problems.append(una_problem)
    elif unb is None:
        line = segments[0].number if segments else (2 if una else 1)
        problems.append(edi_problem("EDI001", "the interchange does not start with a UNB",
                                    "13", "UNB", line))
    else:
        problems.extend(_unb_problems(unb))
        if unb.number in invalid_characters:
            problems.append(invalid_characters[unb.number])
        walk.run(segments[1:])
        walk.trailer(unb, segments[-1])
        problems.extend(walk.problems)
    if broken is not None and una_problem is None:
        problems.append(broken)
    header = unb or Segment("")
    return Interchange(
        separators=separators,
        una=una,
        syntax_identifier=header.component(1, 1),
        syntax_version=int(header.component(1, 2)) if header.component(1, 2) in ("3", "4")
        else 0,
        sender=header.component(2, 1),
        sender_qualifier=header.component(2, 2),
        recipient=header.component(3, 1),
        recipient_qualifier=header.component(3, 2),
        prepared_date=header.component(4, 1),
        prepared_time=header.component(4, 2),
        prepared_at=prepared_at(header.component(4, 1), header.component(4, 2)),
        control_reference=header.component(5, 1),
        test=header.component(11, 1) == "1",
        segments=segments,
        messages=tuple(walk.messages) if una_problem is None else (),
        problems=tuple(problems[:MAX_PROBLEMS]),
    )
