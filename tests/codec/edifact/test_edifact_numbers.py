"""Numbers in EDIFACT text: counts and values of any length are coded problems, never a crash
(Python's `int` refuses more than 4,300 digits), and a value with more digits than the schema
allows is SCH001, never rounded (CONTRACT sections 3 and 5)."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codec.edifact import (
    Interchange,
    Segment,
    contrl,
    map_message,
    serialize,
    tokenize,
)
from gateway.codec.messages import Declaration, Payment

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "edifact"
NOW = datetime(2026, 11, 23, 19, 6, tzinfo=UTC)
HUGE = "9" * 5000
"""More digits than `int` converts from text (4,300)."""


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def replaced(payload: bytes, old: bytes, new: bytes) -> bytes:
    assert payload.count(old) == 1, old
    return payload.replace(old, new)


def mapped(payload: bytes) -> tuple[Interchange, Declaration | Payment | None, list[str]]:
    """The interchange, its first message mapped, and every code found, with positions."""
    interchange = tokenize(payload)
    message = interchange.messages[0]
    decoded, problems = map_message(interchange, message)
    found = [f"{item.code} {item.path}" for item in (*interchange.all_problems, *problems)]
    return interchange, decoded, found


def test_a_huge_unz_count_is_an_envelope_mismatch() -> None:
    """UNZ 0036 with 5,000 digits is EDI002 (0085 code 29) at UNZ+1, not a ValueError."""
    payload = replaced(example("payment-remadv.edi"), b"UNZ+1+", f"UNZ+{HUGE}+".encode())
    interchange = tokenize(payload)
    assert [(p.code, p.path, p.syntax_error) for p in interchange.problems] == [
        ("EDI002", "UNZ+1", "29")]
    assert len(interchange.problems[0].text) < 200, "the value is quoted cut short"


def test_a_huge_unt_count_is_a_message_mismatch() -> None:
    """UNT 0074 with 5,000 digits rejects its message with EDI002 at UNT+1."""
    payload = replaced(example("payment-remadv.edi"), b"UNT+11+", f"UNT+{HUGE}+".encode())
    interchange = tokenize(payload)
    assert interchange.sound
    assert [(p.code, p.path) for p in interchange.messages[0].problems] == [
        ("EDI002", "UNT+1")]


def test_counts_with_leading_zeros_still_match() -> None:
    """Leading zeros do not count: UNT+0000000000011 and UNZ+0001 match, however many."""
    payload = replaced(example("payment-remadv.edi"), b"UNT+11+",
                       b"UNT+" + b"0" * 5000 + b"11+")
    payload = replaced(payload, b"UNZ+1+", b"UNZ+0001+")
    assert tokenize(payload).all_problems == ()


@pytest.mark.parametrize(("old", "new", "path"), [
    (b"CST+1+", f"CST+{HUGE}+".encode(), "SCH001 CST+1:1"),
    (b"12345000001235::1'", f"12345000001235::{HUGE}'".encode(), "SCH001 RFF+1:4"),
    (b"CST+1+", b"CST+1000+", "SCH001 CST+1:1"),
])
def test_a_huge_whole_number_is_sch001(old: bytes, new: bytes, path: str) -> None:
    """A CUSDEC line number or Version of any length is SCH001 at its position."""
    _, decoded, found = mapped(replaced(example("declaration-d96b.edi"), old, new))
    assert decoded is None and found == [path]


@pytest.mark.parametrize("amount", [
    "1234.5600000000000000000000000001",  # 32 digits: rounded to 1234.56 under 28 digits
    "5000.0000000000000000000000000001",
    "0.0000000000000000000000000001",
    "1234567890123456",  # 16 digits in all
    HUGE,
    "1." + "0" * 5000 + "1",
])
def test_an_amount_with_too_many_digits_is_sch001(amount: str) -> None:
    """The schema's limits (2 fraction digits, 15 in all) are counted on the text, as the XML
    path does: nothing is rounded into an accepted amount."""
    payload = replaced(example("payment-remadv.edi"), b"MOA+12:1234.56'",
                       f"MOA+12:{amount}'".encode())
    _, decoded, found = mapped(payload)
    assert decoded is None and found == ["SCH001 MOA+1:2"]


@pytest.mark.parametrize(("old", "new", "path"), [
    (b"+1.3900'", b"+1.3900000000000000000000000000001'", "SCH001 CUX+3:1"),
    (b":::6.5'", b":::6.50000000000000000000000000001'", "SCH001 TAX+5:4"),
    (b"NMB:10'", b"NMB:10.00000000000000000000000000001'", "SCH001 MEA+3:2"),
])
def test_rates_and_quantities_are_not_rounded_either(old: bytes, new: bytes, path: str) -> None:
    """ExchangeRate (6 fraction digits, 15 in all), DutyRate (4 fraction digits) and Quantity
    (18 digits) are checked on the text too."""
    _, decoded, found = mapped(replaced(example("declaration-d96b.edi"), old, new))
    assert decoded is None and path in found


def test_trailing_and_leading_zeros_do_not_count() -> None:
    """As in the schema, `0001234.560000...` is the value 1234.56: accepted, exactly."""
    payload = replaced(example("payment-remadv.edi"), b"MOA+12:1234.56'",
                       b"MOA+12:0001234.56" + b"0" * 40 + b"'")
    _, decoded, found = mapped(payload)
    assert found == []
    assert isinstance(decoded, Payment) and decoded.amount == Decimal("1234.56")


HUGE_NUMBERS = st.builds(
    lambda sign, digits, count, tail: sign + digits * count + tail,
    st.sampled_from(["", "-", "0"]),
    st.sampled_from(["9", "1", "0", "12"]),
    st.integers(min_value=4300, max_value=6000),
    st.sampled_from(["", ".5", ",25", "." + "0" * 30 + "1"]),
)
VALUES = st.one_of(
    HUGE_NUMBERS,
    st.from_regex(r"-?[0-9]{1,40}([.,][0-9]{1,40})?", fullmatch=True),
    st.text(st.characters(codec="latin-1"), max_size=12),
)
EXAMPLE_NAMES = ["declaration-d96b.edi", "declaration-d21a.edi", "payment-remadv.edi"]


@st.composite
def mutated_interchanges(draw: st.DrawFn) -> bytes:
    """An example interchange with a few components (counts included) replaced by numbers of
    any length or arbitrary text."""
    interchange = tokenize(example(draw(st.sampled_from(EXAMPLE_NAMES))))
    segments = list(interchange.segments)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=len(segments) - 1))
        segment = segments[index]
        if not segment.elements:
            continue
        element = draw(st.integers(min_value=0, max_value=len(segment.elements) - 1))
        components = list(segment.elements[element])
        component = draw(st.integers(min_value=0, max_value=len(components) - 1))
        components[component] = draw(VALUES)
        elements = list(segment.elements)
        elements[element] = tuple(components)
        segments[index] = Segment(segment.tag, tuple(elements))
    return serialize(segments, interchange.separators, una=True)


def read_everything(payload: bytes) -> None:
    """Tokenize, map every message and write the CONTRL: none of it may raise."""
    interchange = tokenize(payload)
    for message in interchange.messages:
        map_message(interchange, message)
    contrl(interchange, {}, reference="GW1", now=NOW, partner_id="BRK42")


@settings(max_examples=200, deadline=None)
@given(mutated_interchanges())
def test_mutated_interchanges_are_reported_never_raised(payload: bytes) -> None:
    """Any component of a sound interchange, replaced by a number of any length or by any
    text, gives problems, never an exception, from the tokenizer and from the mapping."""
    read_everything(payload)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=16),
    st.builds(lambda start, number: start + number.encode() + b"'",
              st.sampled_from([b"", b"UNT+", b"UNZ+", b"CST+", b"MOA+12:", b"RFF+AAE:1::"]),
              HUGE_NUMBERS),
    st.sampled_from([b"'", b"+", b":", b"?", b"UNS+D'", b"UNS+S'", b"UNH+1+REMADV:D:96B:UN'",
                     b"UNH+1+CUSDEC:D:96B:UN'"]),
), max_size=16))
def test_any_bytes_with_huge_digit_runs_are_reported_never_raised(parts: list[bytes]) -> None:
    """Arbitrary segments after a sound UNB, with digit runs beyond `int`'s limit anywhere."""
    read_everything(b"UNB+UNOC:3+BRK42+CARMGW+261123:1405+R1'" + b"".join(parts))
