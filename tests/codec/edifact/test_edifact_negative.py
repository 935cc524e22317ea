"""The negative set: broken interchanges get the right problem code at the exact segment, a
CONTRL with the right actions and 0085 code, and never an exception (CONTRACT sections 3, 5)."""

from dataclasses import dataclass

import pytest
from edifact_samples import EDIFACT_EXAMPLES, NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codec.edifact import Interchange, Segment, contrl, tokenize

UNB_3 = b"UNB+UNOA:3+BRK42+CARMGW+261123:1405+IC1'"
PAYMENT = (b"UNH+1+REMADV:D:96B:UN'BGM+481+PAY-1+9'DTM+138:20261123:102'PAI+::2'"
           b"NAD+IM+123456782RM0001'UNS+S'MOA+12:10.00'UNT+8+1'")


@dataclass(frozen=True)
class Expected:
    code: str
    line: int
    syntax_error: str
    """The 0085 code CONTRL reports."""
    message_level: bool
    """Whether only the message is rejected (UCM 4 under UCI 7) or the interchange (UCI 4)."""
    path: str


EXAMPLE_CASES = {
    "invalid-edi001-truncated.edi": Expected("EDI001", 12, "13", False, "MOA"),
    "invalid-edi001-bad-una.edi": Expected("EDI001", 1, "20", False, "UNA"),
    "invalid-edi001-stray-release.edi": Expected("EDI001", 14, "22", False, "UNZ"),
    "invalid-edi001-unoa-character.edi": Expected("EDI001", 4, "21", True, "BGM+2:1"),
    "invalid-edi001-unknown-segment.edi": Expected("EDI001", 8, "15", True, "ZZZ"),
    "invalid-edi001-missing-unb.edi": Expected("EDI001", 2, "13", False, "UNB"),
    "invalid-edi002-unt-count.edi": Expected("EDI002", 13, "29", True, "UNT+1"),
    "invalid-edi002-unt-reference.edi": Expected("EDI002", 13, "28", True, "UNT+2"),
    "invalid-edi002-unz-count.edi": Expected("EDI002", 14, "29", False, "UNZ+1"),
    "invalid-edi002-unz-reference.edi": Expected("EDI002", 14, "28", False, "UNZ+2"),
    "invalid-edi002-missing-unz.edi": Expected("EDI002", 13, "29", False, "UNZ"),
    "invalid-edi002-one-of-two-messages.edi": Expected("EDI002", 24, "29", True, "UNT+1"),
    "invalid-edi003-message-type.edi": Expected("EDI003", 3, "14", True, "UNH+2:3"),
}

SYNTHETIC_CASES = {
    "unsupported message type": (
        UNB_3 + PAYMENT.replace(b"REMADV", b"ORDERS") + b"UNZ+1+IC1'",
        Expected("EDI003", 2, "14", True, "UNH+2:1")),
    "unsupported directory": (
        UNB_3 + PAYMENT.replace(b"D:96B", b"D:96A") + b"UNZ+1+IC1'",
        Expected("EDI003", 2, "14", True, "UNH+2:3")),
    "unsupported syntax identifier": (
        UNB_3.replace(b"UNOA", b"UNOD") + PAYMENT + b"UNZ+1+IC1'",
        Expected("EDI001", 1, "2", False, "UNB+1:1")),
    "unsupported syntax version": (
        UNB_3.replace(b"UNOA:3", b"UNOA:2") + PAYMENT + b"UNZ+1+IC1'",
        Expected("EDI001", 1, "2", False, "UNB+1:2")),
    "lower case in UNOA": (
        UNB_3 + PAYMENT.replace(b"PAY-1", b"pay-1") + b"UNZ+1+IC1'",
        Expected("EDI001", 3, "21", True, "BGM+2:1")),
    "non-ASCII in UNOB": (
        UNB_3.replace(b"UNOA", b"UNOB") + PAYMENT.replace(b"PAY-1", b"PAY-\xe91") +
        b"UNZ+1+IC1'",
        Expected("EDI001", 3, "21", True, "BGM+2:1")),
    "control character in UNOC": (
        UNB_3.replace(b"UNOA", b"UNOC") + PAYMENT.replace(b"PAY-1", b"PAY-\x851") +
        b"UNZ+1+IC1'",
        Expected("EDI001", 3, "21", True, "BGM+2:1")),
    "line break inside a segment": (
        UNB_3 + PAYMENT.replace(b"PAY-1", b"PAY-\n1") + b"UNZ+1+IC1'",
        Expected("EDI001", 3, "21", True, "BGM+2:1")),
    "UNZ count not a number": (
        UNB_3 + PAYMENT + b"UNZ+X+IC1'",
        Expected("EDI002", 10, "29", False, "UNZ+1")),
    "UNT count not a number": (
        UNB_3 + PAYMENT.replace(b"UNT+8", b"UNT+8X") + b"UNZ+1+IC1'",
        Expected("EDI001", 9, "12", True, "UNT+1")),
    "message reference used twice": (
        UNB_3 + PAYMENT + PAYMENT + b"UNZ+2+IC1'",
        Expected("EDI001", 10, "26", True, "UNH+1")),
    "segment outside any message": (
        UNB_3 + b"BGM+481+PAY-1+9'" + PAYMENT + b"UNZ+1+IC1'",
        Expected("EDI001", 2, "33", False, "BGM")),
    "functional group": (
        UNB_3 + b"UNG+REMADV+BRK42+CARMGW+261123:1405+G1+UN+D:96B'" + PAYMENT +
        b"UNE+1+G1'UNZ+1+IC1'",
        Expected("EDI001", 2, "15", False, "UNG")),
    "segment after UNZ": (
        UNB_3 + PAYMENT + b"UNZ+1+IC1'UNH+2'",
        Expected("EDI001", 11, "33", False, "UNH")),
    "no message": (
        UNB_3 + b"UNZ+0+IC1'",
        Expected("EDI001", 2, "32", False, "UNZ")),
    "UNH before the UNT": (
        UNB_3 + PAYMENT.replace(b"UNT+8+1'", b"") + PAYMENT.replace(b"UNH+1", b"UNH+2")
        .replace(b"UNT+8+1", b"UNT+8+2") + b"UNZ+2+IC1'",
        Expected("EDI002", 8, "29", True, "UNT")),
    "release character at the very end": (
        UNB_3 + PAYMENT + b"UNZ+1+IC1'?",
        Expected("EDI001", 11, "22", False, "UNZ")),
    "UNA too short": (
        b"UNA:+",
        Expected("EDI001", 1, "20", False, "UNA")),
    "UNA with a letter": (
        b"UNA:+.?*X" + UNB_3 + PAYMENT + b"UNZ+1+IC1'",
        Expected("EDI001", 1, "20", False, "UNA")),
    "UNB without a reference": (
        UNB_3.replace(b"+IC1", b"") + PAYMENT + b"UNZ+1+IC1'",
        Expected("EDI001", 1, "13", False, "UNB+5")),
    "UNB with an impossible date": (
        UNB_3.replace(b"261123", b"261323") + PAYMENT + b"UNZ+1+IC1'",
        Expected("EDI001", 1, "12", False, "UNB+4")),
    "empty payload": (
        b"",
        Expected("EDI001", 1, "13", False, "UNB")),
    "UNT count with a superscript digit (isdigit, not 0-9)": (
        UNB_3.replace(b"UNOA", b"UNOC") + PAYMENT.replace(b"UNT+8+1'", "UNT+²8+1'"
                                                          .encode("latin-1")) + b"UNZ+1+IC1'",
        Expected("EDI001", 9, "12", True, "UNT+1")),
    "invalid segment tag": (
        UNB_3.replace(b"UNOA", b"UNOB") + PAYMENT.replace(b"PAI+", b"pai+") + b"UNZ+1+IC1'",
        Expected("EDI001", 5, "12", True, "pai")),
}


def contrl_of(interchange: Interchange) -> list[Segment]:
    response = tokenize(contrl(interchange, {}, reference="GW1", now=NOW, partner_id="BRK42"))
    assert [p.code for p in response.all_problems] == ["EDI003"]  # CONTRL is not accepted input
    return list(response.segments)


def assert_case(interchange: Interchange, expected: Expected) -> None:
    problems = interchange.all_problems
    found = [problem for problem in problems
             if problem.code == expected.code and problem.line == expected.line]
    assert found, [(p.code, p.line, p.path, p.text) for p in problems]
    assert found[0].path == expected.path
    assert getattr(found[0], "syntax_error", None) == expected.syntax_error
    owners = [message for message in interchange.messages if found[0] in message.problems]
    assert bool(owners) == expected.message_level
    segments = contrl_of(interchange)
    uci = next(segment for segment in segments if segment.tag == "UCI")
    if expected.message_level:
        assert uci.component(4, 1) == "7"
        reports = [segment for segment in segments if segment.tag == "UCM"]
        ucm = reports[interchange.messages.index(owners[0])]
        assert ucm.component(3, 1) == "4"
        reported = {ucm.component(4, 1)} | {
            segment.component(1, 1) for segment in segments if segment.tag == "UCD"} | {
            segment.component(2, 1) for segment in segments if segment.tag == "UCS"}
        assert expected.syntax_error in reported
    else:
        assert uci.component(4, 1) == "4"
        assert uci.component(5, 1) == expected.syntax_error
        assert all(segment.component(3, 1) == "4" for segment in segments
                   if segment.tag == "UCM")


@pytest.mark.parametrize("name", sorted(EXAMPLE_CASES))
def test_invalid_example_gets_its_code_position_and_contrl(name: str) -> None:
    """Each invalid example of examples/edifact/ gives its code at its segment number, and a
    CONTRL rejecting the interchange (UCI 4) or only that message (UCI 7, UCM 4)."""
    interchange = tokenize((EDIFACT_EXAMPLES / name).read_bytes())
    assert_case(interchange, EXAMPLE_CASES[name])


@pytest.mark.parametrize("name", sorted(SYNTHETIC_CASES))
def test_broken_interchange_gets_its_code_position_and_contrl(name: str) -> None:
    """Each kind of syntax or envelope break: code, segment number, path, 0085 and actions."""
    payload, expected = SYNTHETIC_CASES[name]
    assert_case(tokenize(payload), expected)


def test_the_good_messages_of_an_interchange_go_on() -> None:
    """One broken message gets UCM 4; the other keeps UCM 7 and can be mapped."""
    interchange = tokenize((EDIFACT_EXAMPLES / "invalid-edi002-one-of-two-messages.edi")
                           .read_bytes())
    assert interchange.sound
    assert [message.rejected for message in interchange.messages] == [False, True]
    actions = [segment.component(3, 1) for segment in contrl_of(interchange)
               if segment.tag == "UCM"]
    assert actions == ["7", "4"]


def test_a_truncated_interchange_is_not_also_reported_for_its_missing_trailers() -> None:
    """When the text breaks off inside a segment, that is the one problem: no EDI002 for the
    UNT and UNZ that never came."""
    interchange = tokenize((EDIFACT_EXAMPLES / "invalid-edi001-truncated.edi").read_bytes())
    assert [problem.code for problem in interchange.all_problems] == ["EDI001"]


def test_duplicate_interchange_gets_uci_action_4_with_code_26() -> None:
    """DUP002 (same interchange reference, other bytes), passed under the key None."""
    from gateway.validation.problems import problem  # noqa: PLC0415

    interchange = tokenize((EDIFACT_EXAMPLES / "payment-remadv.edi").read_bytes())
    duplicate = problem("DUP002", "interchange BRK42E000201 was used for other content")
    response = tokenize(contrl(interchange, {None: [duplicate]}, reference="GW1", now=NOW))
    uci = next(segment for segment in response.segments if segment.tag == "UCI")
    assert (uci.component(4, 1), uci.component(5, 1)) == ("4", "26")


def test_contrl_for_an_interchange_without_unb_is_addressed_to_the_topic_sender() -> None:
    """Without a readable UNB the CONTRL goes to `partner_id` and echoes UNKNOWN."""
    response = tokenize(contrl(tokenize(b"UNH+1'"), {}, reference="GW1", now=NOW,
                               partner_id="BRK42"))
    unb = response.segments[0]
    assert unb.component(3, 1) == "BRK42"
    uci = next(segment for segment in response.segments if segment.tag == "UCI")
    assert uci.component(1, 1) == "UNKNOWN"
    assert (uci.component(4, 1), uci.component(5, 1)) == ("4", "13")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_reported_never_raised(payload: bytes) -> None:
    """Arbitrary bytes give an interchange with problems and a CONTRL that reads back."""
    interchange = tokenize(payload)
    assert interchange.all_problems
    contrl_of(interchange)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0, max_value=400), cut=st.integers(0, 5),
       insert=st.binary(max_size=4))
def test_garbled_examples_are_reported_never_raised(position: int, cut: int,
                                                    insert: bytes) -> None:
    """Bytes cut out of or put into a valid interchange never crash the tokenizer, and the
    CONTRL written for the result is itself a sound interchange."""
    payload = (EDIFACT_EXAMPLES / "payment-remadv.edi").read_bytes()
    position %= len(payload)
    garbled = payload[:position] + insert + payload[position + cut:]
    contrl_of(tokenize(garbled))
