"""An interchange and its messages, as `tokenize` finds them (CONTRACT section 5).

`tokenize` never raises: what is wrong is reported as problems, each with the segment number as
its line and an EDIFACT position as its path (docs/edifact.md, "Positions"):

- `TAG`          the segment as a whole (a missing segment: the one that was due),
- `TAG+e`        its e-th data element (1-based, the tag not counted),
- `TAG+e:c`      the c-th component of that element.

Problems of the envelope (UNA, UNB, UNZ, segments outside any message, a break in the text)
are the interchange's: it is rejected as a whole. Problems inside one UNH...UNT are that
message's: it alone is rejected while the others go on.
"""

from dataclasses import dataclass

from gateway.codec.edifact import _characters
from gateway.codec.edifact._structure import EASTERN, check_envelope, prepared_at
from gateway.codec.edifact._types import EdiMessage, EdiProblem, Interchange, edi_problem
from gateway.codec.edifact.tokenizer import Segment, Separators, parse_segment, split_released

UTF8_BOM = "\xef\xbb\xbf"
_BLANK = " \t\r\n"
_BETWEEN_SEGMENTS = "\r\n"

__all__ = [
    "EASTERN", "EdiMessage", "EdiProblem", "Interchange", "prepared_at", "separators_of",
    "tokenize",
]


@dataclass(frozen=True)
class _Advice:
    separators: Separators
    una: bool
    problem: EdiProblem | None
    body: str


def _una(text: str) -> _Advice:
    """The service string advice at the start of the text, if any."""
    if not text.startswith("UNA"):
        return _Advice(Separators(), False, None, text)
    characters = text[3:9]
    body = text[9:].lstrip(_BETWEEN_SEGMENTS)
    problem = _una_problem(characters)
    if problem is not None:
        return _Advice(Separators(), True, problem, body)
    component, element, decimal, release, repetition, terminator = tuple(characters)
    separators = Separators(component, element, decimal, None if release == " " else release,
                            None if repetition == " " else repetition, terminator)
    return _Advice(separators, True, None, body)


def _una_problem(characters: str) -> EdiProblem | None:
    text = None
    if len(characters) < 6:
        text = "UNA must give six service characters"
    else:
        component, element, decimal, release, repetition, terminator = tuple(characters)
        used = [component, element, terminator]
        used += [character for character in (release, repetition) if character != " "]
        if decimal not in ".,":
            text = f"UNA decimal mark {decimal!r} is neither '.' nor ','"
        elif len(set(used)) != len(used) or decimal in used:
            text = f"UNA service characters {characters!r} are not all different"
        elif any(character.isalnum() for character in used) or " " in (component, element,
                                                                     terminator):
            text = f"UNA service characters {characters!r} include a letter, digit or space"
    if text is None:
        return None
    return edi_problem("EDI001", text, "20", "UNA", 1)


def _syntax_version(body: str, separators: Separators) -> int:
    """The syntax version of the UNB at the start of the body (0 when it cannot be read),
    which decides the default repetition separator."""
    head = body[:1024].lstrip(_BLANK)
    first = split_released(head, separators.terminator, separators.release)[0]
    version = parse_segment(first, separators, 0).component(1, 2)
    return int(version) if version in ("1", "2", "3", "4") else 0


def separators_of(text: str) -> tuple[Separators, str]:
    """The service characters `tokenize` reads the text with (its UNA, else the defaults of
    its UNB's syntax version), and the text after the UNA. Only the UNA and the UNB decide
    them, so a scan that must stay bounded (the dedup key, gateway/codec/classify.py) can pass
    the first bytes of an interchange and still split them as `tokenize` would."""
    advice = _una(text)
    return _final_separators(advice), advice.body


def _final_separators(advice: _Advice) -> Separators:
    version = _syntax_version(advice.body, advice.separators)
    separators = advice.separators
    if not advice.una:
        return Separators.default(version)
    if version != 4 and separators.repetition is not None:
        return Separators(separators.component, separators.element, separators.decimal,
                          separators.release, None, separators.terminator)
    return separators


def _break_problem(remainder: str, separators: Separators, number: int) -> EdiProblem:
    """EDI001 for text after the last terminator: a stray release character or a segment that
    breaks off (a truncated interchange)."""
    release = separators.release
    tail = remainder.rstrip(_BLANK).removesuffix(separators.terminator)
    run = len(tail) - len(tail.rstrip(release)) if release else 0
    tag = remainder.lstrip(_BLANK)[:3]
    path = tag if tag.isalnum() and len(tag) == 3 else "UNZ"
    if run % 2:
        text = f"segment {number} ends in a release character {release!r} with nothing to release"
        return edi_problem("EDI001", text, "22", path, number)
    text = f"segment {number} is not terminated by {separators.terminator!r}: the interchange " \
           "breaks off"
    return edi_problem("EDI001", text, "13", path, number)


def _character_problem(segment: Segment, level: str, separators: Separators) -> EdiProblem | None:
    """EDI001 for the first character of the segment outside the syntax level's repertoire."""
    pattern = _characters.invalid_character(level, separators.service_characters)
    if pattern is None:
        return None
    if pattern.search(segment.tag):
        return _invalid_character(segment, segment.tag, segment.tag, level)
    positions = segment.repetitions or tuple((element,) for element in segment.elements)
    for element_index, occurrences in enumerate(positions, start=1):
        for occurrence in occurrences:
            for component_index, value in enumerate(occurrence, start=1):
                if pattern.search(value):
                    path = f"{segment.tag}+{element_index}:{component_index}"
                    return _invalid_character(segment, value, path, level)
    return None


def _invalid_character(segment: Segment, value: str, path: str, level: str) -> EdiProblem:
    pattern = _characters.invalid_character(level, "")
    found = pattern.search(value) if pattern else None
    character = found[0] if found else "?"
    text = f"character {character!r} (0x{ord(character):02X}) is outside the repertoire of " \
           f"{level}"
    return edi_problem("EDI001", text, "21", path, segment.number)


def _invalid_characters(segments: tuple[Segment, ...], raws: list[str], body: str, level: str,
                        separators: Separators) -> dict[int, EdiProblem]:
    """EDI001 for each segment with a character outside the level's repertoire, by segment
    number. One search over the whole text first: the common case costs no more."""
    if level not in _characters.SYNTAX_LEVELS:
        return {}
    anywhere = _characters.invalid_character(level, separators.service_characters + "\r\n")
    if anywhere is not None and anywhere.search(body) is None and not any(
            "\n" in raw or "\r" in raw for raw in raws):
        return {}
    found = (_character_problem(segment, level, separators) for segment in segments)
    return {problem.line: problem for problem in found
            if problem is not None and problem.line is not None}


def tokenize(payload: bytes) -> Interchange:
    """The interchange in the payload with every syntax and envelope problem found; never raises."""
    text = _characters.decode(payload).removeprefix(UTF8_BOM).lstrip(_BLANK)
    advice = _una(text)
    separators = _final_separators(advice)
    first_number = 2 if advice.una else 1
    pieces = split_released(advice.body, separators.terminator, separators.release)
    raws = [piece.lstrip(_BETWEEN_SEGMENTS) for piece in pieces[:-1]]
    segments = tuple(
        parse_segment(raw, separators, number)
        for number, raw in enumerate(raws, start=first_number)
    )
    remainder = pieces[-1]
    broken: EdiProblem | None = None
    if remainder.strip(_BLANK):
        broken = _break_problem(remainder, separators, first_number + len(segments))
    level = segments[0].component(1, 1) if segments and segments[0].tag == "UNB" else ""
    invalid = _invalid_characters(segments, raws, advice.body, level, separators)
    return check_envelope(
        segments, separators, una=advice.una, una_problem=advice.problem, broken=broken,
        invalid_characters=invalid,
    )
