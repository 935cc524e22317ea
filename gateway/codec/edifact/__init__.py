"""UN/EDIFACT for the gateway (CONTRACT section 5; docs/edifact.md is the implementation guide).

- `tokenize(payload)`: the interchange, its messages and every syntax and envelope problem
  (EDI001, EDI002, EDI003); never raises.
- `map_message(interchange, message)`: CUSDEC to Declaration, REMADV to Payment (SCH001).
- `contrl`, `cusres`, `aperak`: the answers, each a complete interchange.
- `serialize`: segments back to bytes; `to_xml` and `from_xml_to_edifact` for `convert`.

All are pure functions: no I/O, no clock (the time is passed in).
"""

from collections.abc import Iterable

from gateway.codec.edifact._types import (
    SUPPORTED_DIRECTORIES,
    SUPPORTED_MESSAGE_TYPES,
    EdiMessage,
    EdiProblem,
    Interchange,
)
from gateway.codec.edifact.envelope import EASTERN, tokenize
from gateway.codec.edifact.mapping import map_message
from gateway.codec.edifact.responses import aperak, contrl, cusres
from gateway.codec.edifact.tokenizer import Element, Segment, Separators, segments_text
from gateway.codec.edifact.xml_form import from_xml_to_edifact, to_xml

__all__ = [
    "EASTERN",
    "SUPPORTED_DIRECTORIES",
    "SUPPORTED_MESSAGE_TYPES",
    "EdiMessage",
    "EdiProblem",
    "Element",
    "Interchange",
    "Segment",
    "Separators",
    "aperak",
    "contrl",
    "cusres",
    "from_xml_to_edifact",
    "map_message",
    "serialize",
    "to_xml",
    "tokenize",
]


def serialize(content: Interchange | Iterable[Segment], separators: Separators | None = None,
              *, una: bool | None = None, line_break: bool = False) -> bytes:
    """The segments (or every segment of an interchange) as bytes, the inverse of `tokenize`:
    a release character is put before each service character inside a value.

    Separators default to the interchange's own (or to syntax version 3's for bare segments);
    `una` (default: whether the interchange had one) writes the service string advice first;
    `line_break` puts CR LF after each segment. Raises UnicodeEncodeError for a character
    outside ISO 8859-1."""
    if isinstance(content, Interchange):
        separators = separators or content.separators
        una = content.una if una is None else una
        segments: Iterable[Segment] = content.segments
    else:
        separators = separators or Separators()
        segments = content
    advice = separators.una + ("\r\n" if line_break else "") if una else ""
    return (advice + segments_text(segments, separators, line_break=line_break)).encode("latin-1")
