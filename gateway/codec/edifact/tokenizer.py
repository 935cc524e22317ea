"""UN/EDIFACT syntax below the envelope (ISO 9735): service characters, segments, and the
splitting and joining of segment text with release characters.

Splitting is done with `str.split` and a repair pass that re-joins the pieces whose separator
was released (an odd run of release characters before it), so text without release characters
never leaves the C fast path. That is what makes this several times faster than a
character-by-character tokenizer.
"""

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

Element = tuple[str, ...]
"""One occurrence of a data element: its components (a simple data element has one)."""


@dataclass(frozen=True, slots=True)
class Separators:
    """The service characters of an interchange (UNA, or the defaults of the syntax version).

    `release` is None when the UNA gives a space there (no release character);
    `repetition` is None in syntax version 3 and when the UNA gives a space there.
    """

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str | None = "?"
    repetition: str | None = None
    terminator: str = "'"

    @classmethod
    def default(cls, syntax_version: int) -> "Separators":
        """`:+.? '` for syntax version 3, `:+.?*'` for version 4."""
        return cls(repetition="*") if syntax_version == 4 else cls()

    @property
    def una(self) -> str:
        """The service string advice that declares these characters."""
        return (f"UNA{self.component}{self.element}{self.decimal}{self.release or ' '}"
                f"{self.repetition or ' '}{self.terminator}")

    @property
    def service_characters(self) -> str:
        """The characters that must be released inside a value."""
        return "".join(
            character
            for character in (self.component, self.element, self.terminator, self.release,
                              self.repetition)
            if character
        )


def _element_of(value: "str | Element | None") -> Element:
    if value is None:
        return ("",)
    if isinstance(value, str):
        return (value,)
    trimmed = list(value)
    while len(trimmed) > 1 and trimmed[-1] == "":
        trimmed.pop()
    return tuple(trimmed) or ("",)


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment: its tag and data elements, each a tuple of components.

    `number` is the 1-based position of the segment in its interchange (UNA counted when
    present); it does not take part in equality. In syntax version 4 a data element may repeat:
    `repetitions` then holds every occurrence at each position, and `elements` the first.
    """

    tag: str
    elements: tuple[Element, ...] = ()
    number: int = field(default=0, compare=False)
    repetitions: tuple[tuple[Element, ...], ...] | None = None

    @classmethod
    def of(cls, tag: str, *elements: "str | Element | None") -> "Segment":
        """A segment to write: strings are simple data elements, tuples composites; trailing
        empty elements and components are left out, as ISO 9735 asks."""
        built = [_element_of(value) for value in elements]
        while built and built[-1] == ("",):
            built.pop()
        return cls(tag, tuple(built))

    def component(self, element: int, component: int = 1) -> str:
        """The component at 1-based positions, or "" when the segment does not have it."""
        if element > len(self.elements):
            return ""
        value = self.elements[element - 1]
        return value[component - 1] if component <= len(value) else ""

    def occurrences(self, element: int) -> tuple[Element, ...]:
        """Every occurrence of the data element at a 1-based position."""
        if self.repetitions is not None:
            return self.repetitions[element - 1]
        return (self.elements[element - 1],)

    def numbered(self, number: int) -> "Segment":
        return Segment(self.tag, self.elements, number, self.repetitions)


@functools.cache
def _unescape_pattern(release: str) -> re.Pattern[str]:
    return re.compile(re.escape(release) + "(.)", re.DOTALL)


def unescape(value: str, release: str | None) -> str:
    """The value with each release character removed from before the character it releases."""
    if release is None or release not in value:
        return value
    return _unescape_pattern(release).sub(r"\1", value)


def split_released(text: str, separator: str, release: str | None) -> list[str]:
    """`text.split(separator)`, except where the separator is released."""
    parts = text.split(separator)
    if release is None or release not in text:
        return parts
    joined: list[str] = []
    pending: list[str] = []
    for part in parts:
        pending.append(part)
        # The separator before `part` is not a release character, so the run of release
        # characters that ends the piece so far is the one that ends `part`.
        if (len(part) - len(part.rstrip(release))) % 2 == 0:
            joined.append(separator.join(pending))
            pending = []
    if pending:
        joined.append(separator.join(pending))
    return joined


def _components(text: str, separators: Separators) -> Element:
    release = separators.release
    if release is None or release not in text:
        return tuple(text.split(separators.component))
    return tuple(
        unescape(part, release)
        for part in split_released(text, separators.component, release)
    )


def parse_segment(raw: str, separators: Separators, number: int) -> Segment:
    """One segment from its text without the terminator (release characters honoured)."""
    release = separators.release
    released = release is not None and release in raw
    component = separators.component
    if released:
        parts = split_released(raw, separators.element, release)
        tag = _components(parts[0], separators)[0]
    else:
        parts = raw.split(separators.element)
        tag = parts[0].split(component)[0] if component in parts[0] else parts[0]
    repetition = separators.repetition
    if repetition is not None and repetition in raw:
        occurrences = tuple(
            tuple(
                _components(occurrence, separators)
                for occurrence in split_released(part, repetition, release)
            )
            for part in parts[1:]
        )
        if any(len(at_position) > 1 for at_position in occurrences):
            first = tuple(at_position[0] for at_position in occurrences)
            return Segment(tag, first, number, occurrences)
        return Segment(tag, tuple(at_position[0] for at_position in occurrences), number)
    if released:
        return Segment(tag, tuple(_components(part, separators) for part in parts[1:]), number)
    return Segment(
        tag,
        tuple(tuple(part.split(component)) if component in part else (part,)
              for part in parts[1:]),
        number,
    )


@functools.cache
def _escape_pattern(service_characters: str) -> re.Pattern[str]:
    return re.compile("([" + re.escape(service_characters) + "])")


def escape(value: str, separators: Separators) -> str:
    """The value with a release character before each service character in it."""
    release = separators.release
    if release is None:
        return value
    replacement = release.replace("\\", "\\\\") + r"\1"
    return _escape_pattern(separators.service_characters).sub(replacement, value)


def _element_text(element: Element, separators: Separators) -> str:
    return separators.component.join(escape(component, separators) for component in element)


def segment_text(segment: Segment, separators: Separators) -> str:
    """The segment as text, terminator included."""
    parts = [escape(segment.tag, separators)]
    if segment.repetitions is not None and separators.repetition is not None:
        parts.extend(
            separators.repetition.join(_element_text(item, separators) for item in at_position)
            for at_position in segment.repetitions
        )
    else:
        parts.extend(_element_text(element, separators) for element in segment.elements)
    return separators.element.join(parts) + separators.terminator


def segments_text(segments: Iterable[Segment], separators: Separators,
                  *, line_break: bool = False) -> str:
    """The segments as text; with `line_break`, a CR LF after each terminator."""
    end = "\r\n" if line_break else ""
    return "".join(segment_text(segment, separators) + end for segment in segments)
