"""CUSDEC and REMADV to the typed messages of section 2: the EDIFACT twins of the XML examples
give equal messages, equal assessments and the same problem codes, with segment numbers as
lines; values that break the section 2 types are SCH001 at their segment."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from edifact_samples import EDIFACT_EXAMPLES, EXAMPLES

from gateway.codec.edifact import map_message, tokenize
from gateway.codec.messages import Declaration, Message, Payment
from gateway.codec.xml_documents import decode
from gateway.codec.xml_parser import parse
from gateway.ledger.assessment import assess
from gateway.validation.problems import Problem
from gateway.validation.rules import stateless_problems


def xml(name: str) -> Message:
    return decode(parse((EXAMPLES / name).read_bytes()))


def edifact(payload: bytes, index: int = 0) -> tuple[Declaration | Payment | None,
                                                      list[Problem]]:
    interchange = tokenize(payload)
    assert interchange.all_problems == ()
    return map_message(interchange, interchange.messages[index])


def twin(name: str) -> Declaration | Payment:
    mapped, problems = edifact((EDIFACT_EXAMPLES / name).read_bytes())
    assert problems == []
    assert mapped is not None
    return mapped


def sch001(payload: bytes) -> list[tuple[str | None, int | None]]:
    mapped, problems = edifact(payload)
    assert mapped is None
    assert {problem.code for problem in problems} == {"SCH001"}
    return [(problem.path, problem.line) for problem in problems]


@pytest.mark.parametrize("name", ["declaration-d96b.edi", "declaration-d21a.edi"])
def test_cusdec_twin_maps_to_the_declaration_of_the_xml_example(name: str) -> None:
    """D96B (syntax 3, UNOC, UNA) and D21A (syntax 4, UNOB, defaults, decimal commas) both give
    the Declaration of examples/declaration.xml, apart from the Header, and the same
    assessment."""
    expected = xml("declaration.xml")
    mapped = twin(name)
    assert isinstance(mapped, Declaration) and isinstance(expected, Declaration)
    assert replace(mapped, header=expected.header) == expected
    assert assess(mapped) == assess(expected)
    assert assess(mapped).total == Decimal("1093.07")


def test_remadv_twin_maps_to_the_payment_of_the_xml_example() -> None:
    """examples/edifact/payment-remadv.edi gives the Payment of examples/payment.xml."""
    expected = xml("payment.xml")
    mapped = twin("payment-remadv.edi")
    assert isinstance(mapped, Payment)
    assert replace(mapped, header=expected.header) == expected


def test_header_comes_from_the_envelope() -> None:
    """MessageID `{UNB 0020}/{UNH 0062}`, Sender from UNB, SentAt read as Eastern time."""
    header = twin("declaration-d96b.edi").header
    assert header.message_id == "BRK42E000101/1"
    assert header.sender == "BRK42"
    assert header.sent_at == datetime(2026, 11, 23, 19, 5, tzinfo=UTC)
    assert header.sent_at.utcoffset() is not None
    assert header.test is False


def test_unb_test_indicator_1_is_the_header_test() -> None:
    """UNB 0035 = 1 makes Header/Test true."""
    payload = (EDIFACT_EXAMPLES / "payment-remadv.edi").read_bytes().replace(
        b"BRK42E000201'", b"BRK42E000201++++++1'", 1)
    mapped, _ = edifact(payload)
    assert mapped is not None and mapped.header.test


def test_source_lines_are_segment_numbers_for_the_business_rule_paths() -> None:
    """The paths the rules report map to the segment that carries the value."""
    declaration = twin("declaration-d96b.edi")
    lines = declaration.source_lines
    assert lines["/Declaration/DeclaredTotals/GST"] == 40
    assert lines["/Declaration/ExchangeRate"] == 9
    assert lines["/Declaration/Purpose"] == 4
    assert lines["/Declaration/Line[2]"] == 18
    assert lines["/Declaration/ImporterAccount"] == 7
    assert lines["/Declaration/Header/Sender"] == 2
    payment = twin("payment-remadv.edi")
    assert payment.source_lines["/Payment/Allocation[1]/TransactionNumber"] == 9
    assert payment.source_lines["/Payment/Amount"] == 12


def test_dec001_twin_gives_the_same_codes_as_the_xml_with_segment_numbers() -> None:
    """The stateless business rules find the same problems in both syntaxes; for EDIFACT the
    line is the segment of the declared amount."""
    received = datetime(2026, 11, 23, 19, 5, tzinfo=UTC).date()
    from_xml = stateless_problems(xml("invalid-dec001-declared-totals.xml"), received,
                                  lambda _: [])
    from_edifact = stateless_problems(twin("invalid-dec001-declared-totals.edi"), received,
                                      lambda _: [])
    assert [(p.code, p.path, p.text) for p in from_edifact] == \
           [(p.code, p.path, p.text) for p in from_xml]
    assert [p.line for p in from_edifact] == [40, 42]


def test_a_declaration_and_a_payment_in_one_interchange_both_map() -> None:
    """Several messages per interchange, each its own MessageID."""
    declaration = (EDIFACT_EXAMPLES / "declaration-d96b.edi").read_bytes().decode("latin-1")
    payment = (EDIFACT_EXAMPLES / "payment-remadv.edi").read_bytes().decode("latin-1")
    first = declaration[:declaration.index("UNZ")]
    second = payment[payment.index("UNH"):payment.index("UNZ")].replace("UNH+1+", "UNH+2+")
    second = second.replace("UNT+11+1", "UNT+11+2")
    interchange = tokenize((first + second + "UNZ+2+BRK42E000101'").encode("latin-1"))
    assert interchange.all_problems == ()
    mapped = [map_message(interchange, message)[0] for message in interchange.messages]
    assert isinstance(mapped[0], Declaration) and isinstance(mapped[1], Payment)
    assert [item.header.message_id for item in mapped] == ["BRK42E000101/1", "BRK42E000101/2"]
    assert mapped[1].source_lines["/Payment/Amount"] == 53


def test_release_characters_and_decimal_commas_in_values() -> None:
    """A released `+` is part of the description; `1,39` is 1.39."""
    payload = (EDIFACT_EXAMPLES / "declaration-d96b.edi").read_bytes()
    payload = payload.replace(b"Portable computers", b"Portable?+computers?'s")
    payload = payload.replace(b"1.3900", b"1,3900")
    mapped, _ = edifact(payload)
    assert isinstance(mapped, Declaration)
    assert mapped.lines[0].description == "Portable+computers's"
    assert mapped.exchange_rate == Decimal("1.39")


def test_importer_account_format_is_left_to_acc001() -> None:
    """A BN9 with a wrong check digit maps: ACC001 is a later stage."""
    payload = (EDIFACT_EXAMPLES / "payment-remadv.edi").read_bytes().replace(
        b"123456782RM0001", b"123456789RM0001")
    mapped, problems = edifact(payload)
    assert problems == [] and mapped is not None


DECLARATION = (EDIFACT_EXAMPLES / "declaration-d96b.edi").read_bytes()
PAYMENT = (EDIFACT_EXAMPLES / "payment-remadv.edi").read_bytes()


@pytest.mark.parametrize(("old", "new", "expected"), [
    (b"CST+2+2204210000", b"CST+2+220421000", [("CST+2:1", 18)]),
    (b"MOA+38:5000.00'", b"MOA+38:5000.005'", [("MOA+1:2", 15)]),
    (b"CUX+2:USD+3:CAD+1.3900", b"CUX+2:USD+3:CAD+0", [("CUX+3:1", 9)]),
    (b"CUX+2:USD+3:CAD+1.3900", b"CUX+2:USD+3:CAD+-1.39", [("CUX+3:1", 9)]),
    (b"CUX+2:USD+3:CAD+1.3900", b"CUX+2:USD+3:CAD+1.1234567", [("CUX+3:1", 9)]),
    (b"DTM+58:20261120:102'\r\n", b"", [("DTM", 42)]),
    (b"DTM+58:20261120", b"DTM+58:20261131", [("DTM+1:2", 5)]),
    (b"BGM+929+12345000001235+9", b"BGM+929+12345000001235+7", [("BGM+3", 4)]),
    (b"RFF+AAE:12345000001235::1", b"RFF+AAE:12345000001235::0", [("RFF+1:4", 6)]),
    (b"RFF+AAE:12345000001235::1", b"RFF+AAE:12345000001299::1", [("RFF+1:2", 6)]),
    (b"MEA+AAE++NMB:10'", b"MEA+AAE++NMB:0'", [("MEA+3:2", 14)]),
    (b"TAX+1+CUD+++:::6.5'", b"TAX+1+CUD+++:::100.5'", [("TAX+5:4", 16)]),
    (b"CST+3+6109100000", b"CST+2+6109100000", [("CST+1:1", 27)]),
    (b"LOC+27+CN'", b"LOC+27+CHN'", [("LOC+2:1", 13)]),
    (b"TAX+4+TOT'\r\nMOA+161:1093.07'\r\n", b"", [("TAX", 41)]),
    (b"MOA+38:250'", b"MOA+38:250:EUR'", [("MOA+1:3", 31)]),
    (b"UNS+D'\r\n", b"", [("UNS", 42)]),
])
def test_declaration_values_that_break_section_2_types_are_sch001(
        old: bytes, new: bytes, expected: list[tuple[str, int]]) -> None:
    """HSCode of 9 digits, an amount with 3 decimals, ExchangeRate <= 0 or with 7 decimals, a
    missing or impossible ReleaseDate, an unknown message function, Version 0, a Version for
    another transaction, Quantity 0, a rate over 100, a line number used twice, a 3-letter
    country, three of four DeclaredTotals, a Value in another currency, no UNS+D."""
    payload = DECLARATION.replace(old, new, 1)
    if b"UNT+41" in payload and payload.count(b"'") != DECLARATION.count(b"'"):
        removed = DECLARATION.count(b"'") - payload.count(b"'")
        payload = payload.replace(b"UNT+41", b"UNT+" + str(41 - removed).encode())
    assert sch001(payload) == expected


@pytest.mark.parametrize(("old", "new", "expected"), [
    (b"PAI+::2'", b"PAI+::99'", [("PAI+1:3", 6)]),
    (b"MOA+12:1000.00'", b"MOA+12:0'", [("MOA+1:2", 10)]),
    (b"MOA+12:1234.56'", b"MOA+12:-5'", [("MOA+1:2", 12)]),
    (b"CUX+2:CAD'", b"CUX+2:USD'", [("CUX+1:2", 8)]),
    (b"DOC+929+12345000001235'", b"DOC+929+1234'", [("DOC+2:1", 9)]),
    (b"BGM+481+PAY-2026-000045+9'", b"BGM+481++9'", [("BGM+2:1", 4)]),
    (b"NAD+IM+123456782RM0001'", b"NAD+IM+1234-56782'", [("NAD+2:1", 7)]),
])
def test_payment_values_that_break_section_2_types_are_sch001(
        old: bytes, new: bytes, expected: list[tuple[str, int]]) -> None:
    """An unknown payment means, an allocation of 0, a negative Amount, a currency other than
    CAD, a short transaction number, no PaymentReference, an account with a dash."""
    assert sch001(PAYMENT.replace(old, new, 1)) == expected


def test_sch001_example_reports_the_hs_code_segment() -> None:
    """examples/edifact/invalid-sch001-hscode.edi: SCH001 at the CST of line 2."""
    payload = (EDIFACT_EXAMPLES / "invalid-sch001-hscode.edi").read_bytes()
    assert sch001(payload) == [("CST+2:1", 18)]


def test_a_broken_message_is_not_mapped() -> None:
    """map_message gives None and the syntax errors again for a message that failed stage 3."""
    interchange = tokenize((EDIFACT_EXAMPLES / "invalid-edi002-unt-count.edi").read_bytes())
    mapped, problems = map_message(interchange, interchange.messages[0])
    assert mapped is None
    assert [problem.code for problem in problems] == ["EDI002"]


def test_every_xml_example_of_a_declaration_or_payment_survives_edifact() -> None:
    """XML -> EDIFACT -> typed message gives the same message (Header aside) for each valid
    declaration and payment example."""
    from gateway.codec.edifact import from_xml_to_edifact  # noqa: PLC0415

    for path in sorted(Path(EXAMPLES).glob("*.xml")):
        if path.name.startswith("invalid-"):
            continue
        message = xml(path.name)
        if not isinstance(message, Declaration | Payment):
            continue
        for version, directory in ((3, "D96B"), (4, "D21A")):
            payload = from_xml_to_edifact(message, syntax_version=version,
                                          directory=directory, reference="X1")
            mapped, problems = edifact(payload)
            assert problems == [], path.name
            assert mapped is not None
            assert replace(mapped, header=message.header) == message, path.name
            assert mapped.header.test == message.header.test
