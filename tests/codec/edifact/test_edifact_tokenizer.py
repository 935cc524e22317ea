"""The EDIFACT tokenizer: service characters, release characters, repetitions, decimal marks and
line breaks (CONTRACT section 5), with round-trip properties through `serialize`."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codec.edifact import Segment, Separators, serialize, tokenize
from gateway.codec.edifact._structure import SEGMENT_TAGS

SERVICE_POOL = list(":+?*'!\"%&/()=;<>|#@~^$[]{}-")
"""Candidate service characters: anything but letters, digits, space and the decimal marks."""
TAGS = sorted(SEGMENT_TAGS["CUSDEC"] - {"UNH", "UNT"})
VALUE_CHARACTERS = st.one_of(
    st.sampled_from([*SERVICE_POOL, ".", ",", " "]),
    st.characters(codec="latin-1", exclude_categories=("Cc",)),
)
VALUES = st.text(VALUE_CHARACTERS, max_size=10)


@st.composite
def custom_separators(draw: st.DrawFn, version: int) -> Separators:
    component, element, release, repetition, terminator = draw(
        st.lists(st.sampled_from(SERVICE_POOL), min_size=5, max_size=5, unique=True))
    return Separators(component, element, draw(st.sampled_from(".,")), release,
                      repetition if version == 4 else None, terminator)


@st.composite
def data_segments(draw: st.DrawFn, version: int) -> Segment:
    tag = draw(st.sampled_from(TAGS))
    element = st.lists(VALUES, min_size=1, max_size=4).map(tuple)
    if version == 3:
        elements = draw(st.lists(element, max_size=5))
        return Segment(tag, tuple(elements))
    positions = draw(st.lists(st.lists(element, min_size=1, max_size=3).map(tuple),
                              max_size=5))
    first = tuple(occurrences[0] for occurrences in positions)
    repeated = any(len(occurrences) > 1 for occurrences in positions)
    return Segment(tag, first, repetitions=tuple(positions) if repeated else None)


def envelope(version: int, body: list[Segment]) -> list[Segment]:
    date = "20261123" if version == 4 else "261123"
    return [
        Segment.of("UNB", ("UNOC", str(version)), "BRK42", "CARMGW", (date, "1405"), "IC1"),
        Segment.of("UNH", "1", ("CUSDEC", "D", "96B", "UN")),
        *body,
        Segment.of("UNT", str(len(body) + 2), "1"),
        Segment.of("UNZ", "1", "IC1"),
    ]


def assert_round_trip(version: int, separators: Separators, body: list[Segment], *,
                      una: bool, line_break: bool) -> None:
    payload = serialize(envelope(version, body), separators, una=una, line_break=line_break)
    interchange = tokenize(payload)
    assert interchange.all_problems == ()
    assert interchange.separators == separators
    assert list(interchange.messages[0].segments[1:-1]) == body


@settings(max_examples=150, deadline=None)
@given(version=st.sampled_from([3, 4]), data=st.data(), line_break=st.booleans())
def test_values_survive_serialize_then_tokenize_with_default_separators(
        version: int, data: st.DataObject, line_break: bool) -> None:
    """Any values, service characters and release characters included, come back unchanged
    through the default separators of syntax version 3 and 4 (no UNA), with or without CR LF
    between segments."""
    body = data.draw(st.lists(data_segments(version), max_size=6))
    assert_round_trip(version, Separators.default(version), body, una=False,
                      line_break=line_break)


@settings(max_examples=150, deadline=None)
@given(version=st.sampled_from([3, 4]), data=st.data())
def test_values_survive_serialize_then_tokenize_with_a_custom_una(
        version: int, data: st.DataObject) -> None:
    """With any service characters declared in a UNA, values come back unchanged."""
    separators = data.draw(custom_separators(version))
    body = data.draw(st.lists(data_segments(version), max_size=6))
    assert_round_trip(version, separators, body, una=True, line_break=data.draw(st.booleans()))


def test_release_character_releases_every_service_character_and_itself() -> None:
    """`?` before `:`, `+`, `'`, `?` and (version 4) `*` makes them data."""
    payload = (b"UNB+UNOA:4+BRK42+CARMGW+20261123:1405+IC1'UNH+1+CUSDEC:D:96B:UN'"
               b"FTX+AAA+++A?:B?+C?'D??E?*F'UNT+3+1'UNZ+1+IC1'")
    interchange = tokenize(payload)
    assert interchange.all_problems == ()
    assert interchange.messages[0].segments[1].component(4, 1) == "A:B+C'D?E*F"


def test_version_4_repeats_a_data_element_with_the_repetition_separator() -> None:
    """In syntax version 4 without a UNA, `*` separates repetitions; in version 3 it is data."""
    text = b"UNH+1+CUSDEC:D:96B:UN'FTX+AAA+++A*B:C'UNT+3+1'UNZ+1+IC1'"
    version_4 = tokenize(b"UNB+UNOA:4+BRK42+CARMGW+20261123:1405+IC1'" + text)
    version_3 = tokenize(b"UNB+UNOA:3+BRK42+CARMGW+261123:1405+IC1'" + text)
    ftx_4 = version_4.messages[0].segments[1]
    assert ftx_4.occurrences(4) == (("A",), ("B", "C"))
    assert ftx_4.elements[3] == ("A",)
    assert version_3.messages[0].segments[1].elements[3] == ("A*B", "C")


def test_cr_lf_between_segments_is_tolerated_and_does_not_change_numbering() -> None:
    """CR, LF or both after a terminator are not part of the next segment; segment numbers
    count the UNA when there is one."""
    payload = (b"UNA:+.? '\r\nUNB+UNOA:3+BRK42+CARMGW+261123:1405+IC1'\n\n"
               b"UNH+1+CUSDEC:D:96B:UN'\r\nUNT+2+1'\rUNZ+1+IC1'\r\n")
    interchange = tokenize(payload)
    assert interchange.all_problems == ()
    assert [(segment.tag, segment.number) for segment in interchange.segments] == [
        ("UNB", 2), ("UNH", 3), ("UNT", 4), ("UNZ", 5)]


def test_a_space_in_the_una_means_no_release_and_no_repetition_character() -> None:
    """`UNA:+.  '` declares neither: `?` and `*` are then ordinary data."""
    payload = (b"UNA:+.  'UNB+UNOA:4+BRK42+CARMGW+20261123:1405+IC1'"
               b"UNH+1+CUSDEC:D:96B:UN'FTX+AAA+++A?*B'UNT+3+1'UNZ+1+IC1'")
    interchange = tokenize(payload)
    assert interchange.separators.release is None
    assert interchange.separators.repetition is None
    assert interchange.messages[0].segments[1].elements[3] == ("A?*B",)


def test_interchange_fields_come_from_the_unb() -> None:
    """Sender, recipient with qualifiers, date and time, reference, test indicator, syntax."""
    payload = (b"UNB+UNOB:4+BRK42:ZZ+CARMGW:14+20261123:1405+IC77++++++1'"
               b"UNH+1+REMADV:D:21A:UN'UNT+2+1'UNZ+1+IC77'")
    interchange = tokenize(payload)
    assert (interchange.syntax_identifier, interchange.syntax_version) == ("UNOB", 4)
    assert (interchange.sender, interchange.sender_qualifier) == ("BRK42", "ZZ")
    assert (interchange.recipient, interchange.recipient_qualifier) == ("CARMGW", "14")
    assert interchange.control_reference == "IC77"
    assert interchange.test
    assert interchange.prepared_at is not None
    assert interchange.prepared_at.isoformat() == "2026-11-23T14:05:00-05:00"
    message = interchange.messages[0]
    assert (message.reference, message.message_type, message.version) == (
        "1", "REMADV", ("D", "21A"))


def test_several_messages_per_interchange() -> None:
    """Each UNH...UNT is a message of its own with its segments numbered in the interchange."""
    one = b"UNH+A+CUSDEC:D:96B:UN'UNT+2+A'"
    two = b"UNH+B+REMADV:D:21A:UN'UNS+S'UNT+3+B'"
    interchange = tokenize(b"UNB+UNOA:3+BRK42+CARMGW+261123:1405+IC1'" + one + two +
                           b"UNZ+2+IC1'")
    assert interchange.all_problems == ()
    assert [message.reference for message in interchange.messages] == ["A", "B"]
    assert [segment.number for segment in interchange.messages[1].segments] == [4, 5, 6]
    assert interchange.messages[1].position(6) == 3


def test_a_utf8_bom_and_leading_blanks_are_skipped() -> None:
    """The classifier accepts them before UNA or UNB; so does the tokenizer."""
    payload = b"\xef\xbb\xbf \r\nUNB+UNOA:3+BRK42+CARMGW+261123:1405+IC1'" \
              b"UNH+1+CUSDEC:D:96B:UN'UNT+2+1'UNZ+1+IC1'"
    assert tokenize(payload).all_problems == ()


def test_serialize_writes_the_una_of_an_interchange_that_had_one() -> None:
    """Serializing a tokenized interchange gives its bytes again (CR LF aside)."""
    payload = (b"UNA|=,! 'UNB=UNOA|3=BRK42=CARMGW=261123|1405=IC1'"
               b"UNH=1=CUSDEC|D|96B|UN'FTX=AAA===A!=B!|C'UNT=3=1'UNZ=1=IC1'")
    interchange = tokenize(payload)
    assert interchange.all_problems == ()
    assert serialize(interchange) == payload
