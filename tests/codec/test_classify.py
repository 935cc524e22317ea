"""Input classification (CONTRACT section 1) and the bounded scans for the dedup key and kind
(section 3, order of checks)."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.codec.classify import SCAN_LIMIT_BYTES, scan_kind, scan_message_id, syntax_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

UNB = b"UNB+UNOC:3+BRK42:ZZZ+CARMGW:ZZZ+261123:1405+REF0042'"
UNH_CUSDEC = b"UNH+M0001+CUSDEC:D:96B:UN'"
UNH_REMADV = b"UNH+M0002+REMADV:D:21A:UN'"


def xml_with_message_id(message_id: str, padding: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0"?>\n' + padding
        + b'<Payment xmlns="urn:carm-gateway:message:1"><Header><MessageID>'
        + message_id.encode() + b"</MessageID><Sender>BRK42</Sender></Header></Payment>"
    )


# syntax_of


@pytest.mark.parametrize(
    "payload",
    [b"UNA:+.? 'UNB+UNOC:3", b"UNB+UNOC:3+X", b"  \r\n\tUNB+UNOC:3", b"\n\nUNA:+.? '"],
)
def test_una_or_unb_after_blanks_is_edifact(payload: bytes) -> None:
    """EDIFACT when the first non-blank bytes are UNA or UNB."""
    assert syntax_of(payload) == "edifact"


@pytest.mark.parametrize(
    "payload",
    [b"<a/>", b"   <a/>", b"\r\n\t <?xml version='1.0'?><a/>", b"\xef\xbb\xbf<a/>", b"<!-- x -->"],
)
def test_angle_bracket_after_blanks_is_xml(payload: bytes) -> None:
    """XML when the first non-blank byte is `<` (a UTF-8 byte order mark is not content)."""
    assert syntax_of(payload) == "xml"


@pytest.mark.parametrize(
    "payload",
    [b"", b"   \n", b"hello <a/>", b"UNZ+1+REF'", b"unb+UNOC:3", b"{\"json\": 1}", b"\x00<a/>",
     "<a/>".encode("utf-16")],
)
def test_anything_else_is_unknown(payload: bytes) -> None:
    """Neither `<` nor UNA/UNB first: unknown (answered as XML001 with Kind unknown)."""
    assert syntax_of(payload) == "unknown"


@given(st.binary(max_size=64))
def test_syntax_depends_only_on_the_first_non_blank_bytes(tail: bytes) -> None:
    """Whatever follows, a leading `<` means XML and a leading UNB means EDIFACT."""
    assert syntax_of(b" \n<" + tail) == "xml"
    assert syntax_of(b"\tUNB" + tail) == "edifact"


# scan_message_id


def test_message_id_is_found_in_the_header() -> None:
    """The MessageID of an XML Header is the dedup key."""
    assert scan_message_id((EXAMPLES / "declaration.xml").read_bytes()) == "BRK42-2026-000101"


def test_message_id_is_found_in_a_document_that_is_not_well_formed() -> None:
    """The scan does not need a parse: a broken document still has its key."""
    payload = (EXAMPLES / "invalid-xml001-not-well-formed.xml").read_bytes()
    assert scan_message_id(payload) == "BRK42-2026-000501"


def test_message_id_with_a_namespace_prefix_is_found() -> None:
    """A prefixed element name is the same element."""
    payload = b'<m:Payment xmlns:m="urn:carm-gateway:message:1"><m:Header>' \
              b"<m:MessageID> A.b:c/d-1 </m:MessageID></m:Header></m:Payment>"
    assert scan_message_id(payload) == "A.b:c/d-1"


def test_message_id_within_the_scan_limit_is_found() -> None:
    """A MessageID that ends inside the first SCAN_LIMIT_BYTES is found."""
    start = xml_with_message_id("X")
    room = SCAN_LIMIT_BYTES - start.index(b"</MessageID>") - 100
    payload = xml_with_message_id("ID-1", b"<!--" + b"x" * room + b"-->")
    assert payload.index(b"</MessageID>") < SCAN_LIMIT_BYTES
    assert scan_message_id(payload) == "ID-1"


def test_message_id_beyond_the_scan_limit_is_not_found() -> None:
    """The scan is bounded: a MessageID past SCAN_LIMIT_BYTES is not looked for."""
    payload = xml_with_message_id("ID-1", b"<!--" + b"x" * SCAN_LIMIT_BYTES + b"-->")
    assert payload.index(b"<MessageID>") > SCAN_LIMIT_BYTES
    assert scan_message_id(payload) is None


@pytest.mark.parametrize("message_id", ["", "has space", "x" * 65, "semi;colon"])
def test_message_id_of_the_wrong_form_is_not_a_key(message_id: str) -> None:
    """Only [A-Za-z0-9._:/-]{1,64} is a MessageID; anything else falls back to the hash key."""
    assert scan_message_id(xml_with_message_id(message_id)) is None


def test_edifact_message_id_is_interchange_reference_slash_message_reference() -> None:
    """EDIFACT: `{UNB interchange control reference}/{UNH message reference}`."""
    payload = b"UNA:+.? '" + UNB + UNH_CUSDEC + b"BGM+929'UNT+2+M0001'UNZ+1+REF0042'"
    assert scan_message_id(payload) == "REF0042/M0001"


def test_edifact_without_unh_has_no_message_id() -> None:
    """Without a UNH there is no message reference, so no MessageID."""
    assert scan_message_id(UNB + b"UNZ+0+REF0042'") is None


def test_unknown_input_has_no_message_id() -> None:
    """Input that is neither XML nor EDIFACT has no MessageID, even if it mentions one."""
    assert scan_message_id(b"junk <MessageID>ID-1</MessageID>") is None


# scan_kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("declaration.xml", "declaration"),
        ("payment.xml", "payment"),
        ("appeal.xml", "appeal"),
        ("account-request.xml", "account-request"),
        ("invalid-xml001-not-well-formed.xml", "declaration"),
    ],
)
def test_kind_is_the_root_element_of_xml(name: str, kind: str) -> None:
    """The kind comes from the root's local name, after the declaration and comments."""
    assert scan_kind((EXAMPLES / name).read_bytes()) == kind


def test_kind_of_a_prefixed_root_is_found() -> None:
    """A namespace prefix on the root does not hide its kind."""
    assert scan_kind(b'<m:Appeal xmlns:m="urn:carm-gateway:message:1"/>') == "appeal"


def test_kind_of_a_foreign_root_is_unknown() -> None:
    """A root outside the vocabulary is unknown."""
    assert scan_kind(b"<root><element/></root>") == "unknown"


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (UNB + UNH_CUSDEC, "declaration"),
        (UNB + UNH_REMADV, "payment"),
        (UNB + b"UNH+M1+INVOIC:D:96A:UN'", "unknown"),
        (b"hello", "unknown"),
        (b"", "unknown"),
    ],
)
def test_kind_of_edifact_is_its_message_type(payload: bytes, kind: str) -> None:
    """CUSDEC is a declaration, REMADV a payment, any other type unknown."""
    assert scan_kind(payload) == kind


def test_kind_beyond_the_scan_limit_is_unknown() -> None:
    """The kind scan is bounded too: a root past SCAN_LIMIT_BYTES is not looked for."""
    payload = b"<!--" + b"x" * SCAN_LIMIT_BYTES + b'-->\n<Declaration xmlns="urn:x"/>'
    assert scan_kind(payload) == "unknown"
