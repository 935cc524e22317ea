"""Input classification (CONTRACT section 1) and the bounded scans for the dedup key and kind
(section 3, order of checks)."""

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.codec.classify import (
    SCAN_LIMIT_BYTES,
    scan_interchange_reference,
    scan_kind,
    scan_message_id,
    syntax_of,
)
from gateway.codec.edifact import Segment, Separators, serialize, tokenize

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


@pytest.mark.parametrize("element", [
    b"<MessageID >D-2</MessageID>",
    b'<MessageID xmlns="urn:carm-gateway:message:1">D-2</MessageID>',
    b"<MessageID><![CDATA[D-2]]></MessageID>",
    b"<MessageID>\n  D-2\n</MessageID>",
])
def test_message_id_written_any_way_the_parser_reads_it_is_the_key(element: bytes) -> None:
    """White space or attributes in the tag, CDATA, white space around the value: the key is
    the MessageID the parser will read, so the same MessageID cannot dodge dedup."""
    payload = b'<Payment xmlns="urn:carm-gateway:message:1"><Header>' + element + \
        b"<Sender>BRK42</Sender></Header></Payment>"
    assert scan_message_id(payload) == "D-2"


def test_a_message_id_inside_a_comment_is_not_the_key() -> None:
    """A comment before the Header is not the MessageID (it would fake another message's key
    and get that one a false DUP002)."""
    payload = b'<Payment xmlns="urn:carm-gateway:message:1"><!-- <MessageID>D-9</MessageID> -->' \
        b"<Header><MessageID>D-1</MessageID></Header></Payment>"
    assert scan_message_id(payload) == "D-1"


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


# EDIFACT with the service characters of its UNA (CONTRACT section 5)

CUSTOM = Separators(component="#", element="*", decimal=".", release="!", terminator="~")


def with_separators(payload: bytes, separators: Separators) -> bytes:
    """The interchange rewritten by the project's writer under other service characters."""
    return serialize(tokenize(payload), separators, una=True, line_break=True)


def test_edifact_scans_use_the_separators_of_the_una() -> None:
    """An interchange that declares `#*.! ~` in its UNA has the reference, MessageID and kind
    of its twin in the default separators: its dedup key does not fall back to the hash."""
    default = (EXAMPLES / "edifact" / "declaration-d96b.edi").read_bytes()
    custom = with_separators(default, CUSTOM)
    assert custom.startswith(b"UNA#*.! ~")
    assert scan_interchange_reference(custom) == "BRK42E000101"
    assert scan_message_id(custom) == "BRK42E000101/1"
    assert scan_kind(custom) == "declaration"
    assert scan_kind(with_separators(
        (EXAMPLES / "edifact" / "payment-remadv.edi").read_bytes(), CUSTOM)) == "payment"


def test_released_separators_do_not_shift_the_unb_elements() -> None:
    """A released element separator inside the sender is part of the sender, so the
    reference is still the fifth element, and a released terminator ends no segment."""
    payload = (b"UNB+UNOC:3+BRK?+42:ZZZ+CARMGW:ZZZ+261123:1405+REF0042'"
               b"UNH+M?'1+CUSDEC:D:96B:UN'BGM+929'UNT+2+M?'1'UNZ+1+REF0042'")
    assert scan_interchange_reference(payload) == "REF0042"
    assert scan_message_id(payload) == "REF0042/M'1"
    assert tokenize(payload).control_reference == "REF0042"


def test_a_reference_longer_than_fourteen_characters_is_no_key() -> None:
    """The control reference is an..14: a longer one is not cut to a shorter key that another
    interchange could share; the hash of the bytes keys it."""
    payload = b"UNB+UNOC:3+BRK42+CARMGW+261123:1405+REF0042REF0042X'" + UNH_CUSDEC
    assert scan_interchange_reference(payload) is None
    assert scan_message_id(payload) is None


def test_a_unh_past_the_scan_limit_is_not_looked_for() -> None:
    """The EDIFACT scans read the first SCAN_LIMIT_BYTES only, never the whole interchange."""
    padding = b"FTX+AAI+++" + b"A" * SCAN_LIMIT_BYTES + b"'"
    payload = b"UNA:+.? '" + UNB + padding + UNH_CUSDEC
    assert scan_interchange_reference(payload) == "REF0042"
    assert scan_message_id(payload) is None
    assert scan_kind(payload) == "unknown"


@given(
    st.sampled_from([Separators(), Separators.default(4), CUSTOM,
                     Separators("|", "^", ",", None, None, "\\")]),
    st.text(st.sampled_from("AZ09-+:'?*#!~|^\\ "), min_size=1, max_size=14),
    st.text(st.sampled_from("AZ09+:'?"), min_size=1, max_size=14),
)
def test_the_scanned_reference_is_the_one_the_tokenizer_reads(
        separators: Separators, reference: str, sender: str) -> None:
    """Whatever the service characters and released characters, the dedup key is the control
    reference the CONTRL will quote."""
    if separators.release is None:
        assume(not set(reference + sender) & set(separators.service_characters))
    unb = Segment.of("UNB", ("UNOC", "4" if separators.repetition else "3"), sender, "CARMGW",
                     ("261123", "1405"), reference)
    payload = serialize([unb, Segment.of("UNH", "1", ("CUSDEC", "D", "96B", "UN"))],
                        separators, una=True)
    assert scan_interchange_reference(payload) == tokenize(payload).control_reference == reference


# leading blanks (CONTRACT section 1: the first non-blank bytes decide)


@pytest.mark.parametrize(
    ("first", "syntax"), [(b"<a/>", "xml"), (b"<?xml version='1.0'?><a/>", "xml"),
                          (b"UNA:+.? '", "edifact"), (b"UNB+UNOC:3", "edifact"),
                          (b"hello", "unknown")],
)
def test_blanks_longer_than_the_scan_limit_are_skipped(first: bytes, syntax: str) -> None:
    """However many blanks come first, the first non-blank bytes decide the syntax."""
    assert syntax_of(b" \t\r\n" * SCAN_LIMIT_BYTES + first) == syntax
    assert syntax_of(b"\xef\xbb\xbf" + b"\n" * (2 * SCAN_LIMIT_BYTES) + first) == syntax


def test_scans_start_after_the_leading_blanks() -> None:
    """The scan limit counts from the first non-blank byte: the MessageID, the kind and the
    UNB reference after many blanks are found."""
    blanks = b" " * (2 * SCAN_LIMIT_BYTES)
    xml = blanks + xml_with_message_id("ID-1").removeprefix(b'<?xml version="1.0"?>\n')
    assert (scan_message_id(xml), scan_kind(xml)) == ("ID-1", "payment")
    edifact = blanks + b"UNA:+.? '" + UNB + UNH_CUSDEC
    assert scan_interchange_reference(edifact) == "REF0042"
    assert (scan_message_id(edifact), scan_kind(edifact)) == ("REF0042/M0001", "declaration")
