"""Input classification (CONTRACT section 1) and the bounded scans dedup needs."""

import re
from typing import Literal

from gateway.codec.edifact.envelope import separators_of
from gateway.codec.edifact.tokenizer import Segment, parse_segment, split_released
from gateway.codec.messages import KIND_OF_ROOT, Kind

Syntax = Literal["xml", "edifact", "unknown"]

SCAN_LIMIT_BYTES = 4096
"""How far from the first non-blank byte the dedup key and the kind are looked for."""

REFERENCE_CHARACTERS_MAX = 14
"""The UNB interchange control reference (0020) and the UNH message reference (0062) are an..14:
a longer one is no key, rather than cut to a shorter one that another interchange could share."""

_FIRST_NOT_BLANK = re.compile(rb"[^ \t\r\n]")
_UTF8_BOM = b"\xef\xbb\xbf"
_BETWEEN_SEGMENTS = "\r\n"
_MESSAGE_ID = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?MessageID(?:\s[^>]*)?>"  # white space or attributes in the tag
    rb"\s*(?:<!\[CDATA\[)?\s*([A-Za-z0-9._:/-]{1,64})\s*(?:\]\]>)?\s*<")
_COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.DOTALL)
"""A comment, or an unclosed one up to the end of the head: what it holds is no MessageID."""
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")


def scan_head(payload: bytes) -> bytes:
    """The first SCAN_LIMIT_BYTES from the first non-blank byte (a UTF-8 byte order mark is not
    content). The blanks before it are skipped, however many: the payload is bounded by the
    size limit, and finding the first other byte is one linear search that copies nothing."""
    start = len(_UTF8_BOM) if payload.startswith(_UTF8_BOM) else 0
    first = _FIRST_NOT_BLANK.search(payload, start)
    if first is None:
        return b""
    return payload[first.start():first.start() + SCAN_LIMIT_BYTES]


def _syntax_of_head(head: bytes) -> Syntax:
    if head.startswith((b"UNA", b"UNB")):
        return "edifact"
    if head.startswith(b"<"):
        return "xml"
    return "unknown"


def _segments(head: bytes) -> list[Segment]:
    """The first segment and the UNH segments of the head of an interchange, split with the
    service characters of its UNA (or its syntax version's) and its release character
    honoured, as `tokenize` splits them; a segment the scan limit cuts is left out. Only the
    head is read and only those segments are parsed: this runs for every arrival."""
    separators, body = separators_of(head.decode("latin-1"))  # as tokenize decodes bytes
    pieces = split_released(body, separators.terminator, separators.release)[:-1]
    raws = (piece.lstrip(_BETWEEN_SEGMENTS) for piece in pieces)
    return [parse_segment(raw, separators, number) for number, raw in enumerate(raws, start=1)
            if number == 1 or raw.startswith("UNH")]


def _reference(value: str) -> str | None:
    return value if 0 < len(value) <= REFERENCE_CHARACTERS_MAX else None


def _interchange_reference(segments: list[Segment]) -> str | None:
    """The control reference of the UNB that starts the interchange (the one its CONTRL
    quotes); an interchange that does not start with one has none."""
    if not segments or segments[0].tag != "UNB":
        return None
    return _reference(segments[0].component(5))


def syntax_of(payload: bytes) -> Syntax:
    """EDIFACT when the first non-blank bytes are UNA or UNB, XML when `<`."""
    return _syntax_of_head(scan_head(payload))


def scan_message_id(payload: bytes) -> str | None:
    """The MessageID from a bounded scan of the Header (XML) or of UNB/UNH (EDIFACT)."""
    head = scan_head(payload)
    syntax = _syntax_of_head(head)
    if syntax == "xml":
        match = _MESSAGE_ID.search(_COMMENT.sub(b"", head) if b"<!--" in head else head)
        return match[1].decode("ascii") if match else None
    if syntax == "edifact":
        segments = _segments(head)
        interchange = _interchange_reference(segments)
        unh = next((segment for segment in segments if segment.tag == "UNH"), None)
        message = _reference(unh.component(1)) if unh is not None else None
        if interchange is not None and message is not None:
            return f"{interchange}/{message}"
    return None


def scan_interchange_reference(payload: bytes) -> str | None:
    """The UNB interchange control reference of an EDIFACT interchange (its dedup key)."""
    head = scan_head(payload)
    if _syntax_of_head(head) != "edifact":
        return None
    return _interchange_reference(_segments(head))


def scan_kind(payload: bytes) -> Kind:
    """The message kind from the root element's local name (XML) or message type (EDIFACT)."""
    head = scan_head(payload)
    syntax = _syntax_of_head(head)
    if syntax == "xml":
        for match in _ROOT.finditer(head):
            name = match[1].decode("ascii", "replace")
            if name.startswith(("?", "!")):
                continue
            return KIND_OF_ROOT.get(name, "unknown")
    if syntax == "edifact":
        message_types = {segment.component(2) for segment in _segments(head)
                         if segment.tag == "UNH"}
        if "CUSDEC" in message_types:
            return "declaration"
        if "REMADV" in message_types:
            return "payment"
    return "unknown"
