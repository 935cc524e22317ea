"""Input classification (CONTRACT section 1) and the bounded scans dedup needs."""

import re
from typing import Literal

from gateway.codec.messages import KIND_OF_ROOT, Kind

Syntax = Literal["xml", "edifact", "unknown"]

SCAN_LIMIT_BYTES = 4096
"""How far into a payload the dedup key and the kind are looked for."""

_BLANK = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"
_MESSAGE_ID = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?MessageID>\s*([A-Za-z0-9._:/-]{1,64})\s*<")
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")
_UNB_REFERENCE = re.compile(rb"UNB\+(?:[^+']*\+){4}([^+':]{1,14})")
_UNH_REFERENCE = re.compile(rb"UNH\+([^+':]{1,14})")


def syntax_of(payload: bytes) -> Syntax:
    """EDIFACT when the first non-blank bytes are UNA or UNB, XML when `<`."""
    head = payload[:SCAN_LIMIT_BYTES].removeprefix(_UTF8_BOM).lstrip(_BLANK)
    if head.startswith((b"UNA", b"UNB")):
        return "edifact"
    if head.startswith(b"<"):
        return "xml"
    return "unknown"


def scan_message_id(payload: bytes) -> str | None:
    """The MessageID from a bounded scan of the Header (XML) or of UNB/UNH (EDIFACT)."""
    head = payload[:SCAN_LIMIT_BYTES]
    syntax = syntax_of(payload)
    if syntax == "xml":
        match = _MESSAGE_ID.search(head)
        return match[1].decode("ascii") if match else None
    if syntax == "edifact":
        unb = _UNB_REFERENCE.search(head)
        unh = _UNH_REFERENCE.search(head)
        if unb and unh:
            return f"{unb[1].decode('latin-1')}/{unh[1].decode('latin-1')}"
    return None


def scan_interchange_reference(payload: bytes) -> str | None:
    """The UNB interchange control reference of an EDIFACT interchange (its dedup key)."""
    if syntax_of(payload) != "edifact":
        return None
    unb = _UNB_REFERENCE.search(payload[:SCAN_LIMIT_BYTES])
    return unb[1].decode("latin-1") if unb else None


def scan_kind(payload: bytes) -> Kind:
    """The message kind from the root element's local name (XML) or message type (EDIFACT)."""
    head = payload[:SCAN_LIMIT_BYTES]
    syntax = syntax_of(payload)
    if syntax == "xml":
        for match in _ROOT.finditer(head):
            name = match[1].decode("ascii", "replace")
            if name.startswith(("?", "!")):
                continue
            return KIND_OF_ROOT.get(name, "unknown")
    if syntax == "edifact":
        if b"UNH+" in head and b"CUSDEC:" in head:
            return "declaration"
        if b"UNH+" in head and b"REMADV:" in head:
            return "payment"
    return "unknown"
