"""Assessment arithmetic (CONTRACT section 4): every rounding to cents half up, per line, then
totals; Total = Duty + ExciseTax + GST; Decimal all the way."""

import decimal
import tomllib
from dataclasses import fields
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codec.messages import Declaration, DeclarationLine, Header
from gateway.codec.xml_documents import decode
from gateway.codec.xml_parser import parse
from gateway.ledger.assessment import assess, assess_line

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = tomllib.loads((EXAMPLES / "expected.toml").read_text("utf-8"))
CENT = Decimal("0.01")
VALID_DECLARATIONS = sorted(
    name for name, entry in EXPECTED.items()
    if isinstance(entry, dict) and entry.get("kind") == "declaration" and not entry["codes"]
)


def make_line(value: str, duty_rate: str, *, excise: str = "0", gst_rate: str = "5",
              number: int = 1) -> DeclarationLine:
    return DeclarationLine(
        number=number, hs_code="9503000090", description="Toys", country_of_origin="US",
        tariff_treatment="MFN", quantity=Decimal(1), unit="NMB", value=Decimal(value),
        duty_rate=Decimal(duty_rate), excise_tax=Decimal(excise), gst_rate=Decimal(gst_rate),
        reason_code=None,
    )


def make_declaration(rate: str, *lines: DeclarationLine) -> Declaration:
    return Declaration(
        header=Header("M-1", "BRK42", datetime(2026, 11, 23, 19, 5, tzinfo=UTC), False),
        transaction_number="12345000001235", version=1, purpose="original",
        importer_account="123456782RM0001", release_date=date(2026, 11, 20), currency="USD",
        exchange_rate=Decimal(rate), lines=lines, declared_totals=None,
    )


def decoded_line(optional_elements: str) -> DeclarationLine:
    document = (
        '<Declaration xmlns="urn:carm-gateway:message:1"><Header><MessageID>M</MessageID>'
        "<Sender>BRK42</Sender><SentAt>2026-11-23T14:05:00-05:00</SentAt></Header>"
        "<TransactionNumber>12345000001235</TransactionNumber><Version>1</Version>"
        "<Purpose>original</Purpose><ImporterAccount>123456782RM0001</ImporterAccount>"
        "<ReleaseDate>2026-11-20</ReleaseDate><Currency>CAD</Currency>"
        "<ExchangeRate>1</ExchangeRate><Line><Number>1</Number><HSCode>0401100000</HSCode>"
        "<Description>Milk</Description><CountryOfOrigin>US</CountryOfOrigin>"
        "<TariffTreatment>MFN</TariffTreatment><Quantity unit=\"LTR\">1</Quantity>"
        f"<Value>100.00</Value><DutyRate>0</DutyRate>{optional_elements}</Line></Declaration>"
    )
    message = decode(parse(document.encode()))
    assert isinstance(message, Declaration)
    return message.lines[0]


def test_contract_worked_example() -> None:
    """100.00 USD at 1.15, duty 4 %, GST 5 %: VFD 115.00, duty 4.60, VFT 119.60, GST 5.98,
    Total 10.58."""
    line = assess_line(make_line("100.00", "4"), Decimal("1.15"))
    assert (line.value_for_duty, line.duty, line.value_for_tax, line.gst) == (
        Decimal("115.00"), Decimal("4.60"), Decimal("119.60"), Decimal("5.98"),
    )
    totals = assess(make_declaration("1.15", make_line("100.00", "4")))
    assert (totals.duty, totals.excise_tax, totals.gst, totals.total) == (
        Decimal("4.60"), Decimal("0.00"), Decimal("5.98"), Decimal("10.58"),
    )
    assert [str(amount) for amount in (totals.duty, totals.excise_tax, totals.gst,
                                       totals.total)] == ["4.60", "0.00", "5.98", "10.58"]


def test_duty_of_exactly_a_half_cent_rounds_up() -> None:
    """250 USD at 1.39 is 347.50; duty at 3 % is exactly 10.425, which rounds half up to 10.43."""
    line = assess_line(make_line("250", "3"), Decimal("1.39"))
    assert line.value_for_duty == Decimal("347.50")
    assert line.duty == Decimal("10.43")


def test_value_for_duty_of_a_half_cent_rounds_up() -> None:
    """VFD is rounded half up too: 0.10 at 1.25 is 0.125, so 0.13."""
    assert assess_line(make_line("0.10", "0"), Decimal("1.25")).value_for_duty == Decimal("0.13")


def test_gst_of_a_half_cent_rounds_up() -> None:
    """GST is rounded half up: VFT 0.50 at 5 % is 0.025, so 0.03 (half even would give 0.02)."""
    assert assess_line(make_line("0.50", "0", gst_rate="5"), Decimal(1)).gst == Decimal("0.03")


def test_just_below_a_half_cent_rounds_down() -> None:
    """10.4249... rounds to 10.42: only an exact half or more goes up."""
    line = assess_line(make_line("347.49", "3"), Decimal(1))
    assert line.duty == Decimal("10.42")


def test_each_line_is_rounded_before_summing() -> None:
    """Rounding is per line: two duties of 0.005 each are 0.01 + 0.01, not round(0.01)."""
    totals = assess(make_declaration("1", make_line("0.10", "5"), make_line("0.10", "5", number=2)))
    assert totals.duty == Decimal("0.02")


def test_excise_tax_is_part_of_the_value_for_tax() -> None:
    """VFT = VFD + Duty + ExciseTax, so excise bears GST; it is owed in Total too."""
    line = assess_line(make_line("100.00", "10", excise="12.34"), Decimal(1))
    assert line.value_for_tax == Decimal("122.34")
    assert line.gst == Decimal("6.12")
    totals = assess(make_declaration("1", make_line("100.00", "10", excise="12.34")))
    assert (totals.duty, totals.excise_tax, totals.gst, totals.total) == (
        Decimal("10.00"), Decimal("12.34"), Decimal("6.12"), Decimal("28.46"),
    )


def test_gst_rate_defaults_to_five_when_absent() -> None:
    """A Line without GSTRate is taxed at 5 %; without ExciseTax it has none."""
    line = decoded_line("")
    assert line.gst_rate == Decimal(5)
    assert line.excise_tax == Decimal(0)
    assert assess_line(line, Decimal(1)).gst == Decimal("5.00")


def test_explicit_gst_rate_of_zero_is_not_the_default() -> None:
    """A zero-rated line (GSTRate 0) owes no GST: 0 is a rate, not an absent one."""
    line = decoded_line("<GSTRate>0</GSTRate>")
    assert line.gst_rate == Decimal(0)
    assert assess_line(line, Decimal(1)).gst == Decimal("0.00")


@pytest.mark.parametrize("name", VALID_DECLARATIONS)
def test_examples_assess_to_their_expected_totals(name: str) -> None:
    """The valid example declarations assess to the amounts expected.toml gives."""
    message = decode(parse((EXAMPLES / name).read_bytes()))
    assert isinstance(message, Declaration)
    totals = assess(message)
    entry = EXPECTED[name]
    assert [str(totals.duty), str(totals.excise_tax), str(totals.gst), str(totals.total)] == [
        entry["duty"], entry["excise"], entry["gst"], entry["total"],
    ]


def exact_line(line: DeclarationLine, rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Section 4 with enough precision that the only roundings are the three to cents."""
    with decimal.localcontext() as context:
        context.prec = 200
        value_for_duty = (line.value * rate).quantize(CENT, decimal.ROUND_HALF_UP)
        duty = (value_for_duty * line.duty_rate / 100).quantize(CENT, decimal.ROUND_HALF_UP)
        value_for_tax = value_for_duty + duty + line.excise_tax
        gst = (value_for_tax * line.gst_rate / 100).quantize(CENT, decimal.ROUND_HALF_UP)
    return value_for_duty, duty, gst


def test_largest_schema_values_are_rounded_once() -> None:
    """Value and ExchangeRate at the schema's limits (15 digits each): VFD is the exact product
    rounded half up once, not first to 28 significant digits and then to cents."""
    line = make_line("3769599202000.22", "66.7459", gst_rate="36.4408")
    rate = Decimal("879016497.349999")
    assessed = assess_line(line, rate)
    assert (assessed.value_for_duty, assessed.duty, assessed.gst) == exact_line(line, rate)


def amounts(max_value: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, max_value).map(lambda cents: Decimal(cents).scaleb(-2))


def scaled(low: int, high: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda units: Decimal(units).scaleb(-places))


LINES = st.builds(
    make_line,
    value=amounts(10**13).map(str),
    duty_rate=scaled(0, 100 * 10**4, 4).map(str),
    excise=amounts(10**9).map(str),
    gst_rate=scaled(0, 100 * 10**4, 4).map(str),
)


@settings(max_examples=200, deadline=None)
@given(
    rate=scaled(1, 10**9, 6),
    lines=st.lists(LINES, min_size=1, max_size=5),
)
def test_assessment_is_exact_cents_and_adds_up(rate: Decimal, lines: list[DeclarationLine]) -> None:
    """For any valid input: every amount is a Decimal with exactly two fraction digits,
    Total = Duty + ExciseTax + GST, totals are the sums of the lines, and no float is ever
    mixed in (the FloatOperation trap would raise)."""
    numbered = [make_line(str(line.value), str(line.duty_rate), excise=str(line.excise_tax),
                          gst_rate=str(line.gst_rate), number=index)
                for index, line in enumerate(lines, start=1)]
    with decimal.localcontext() as context:
        context.traps[decimal.FloatOperation] = True
        totals = assess(make_declaration(str(rate), *numbered))
        per_line = [assess_line(line, rate) for line in numbered]
    for amount in (totals.duty, totals.excise_tax, totals.gst, totals.total):
        assert type(amount) is Decimal
        assert amount.as_tuple().exponent == -2
    for assessed in per_line:
        for field in fields(assessed):
            value = getattr(assessed, field.name)
            assert not isinstance(value, float)
            if isinstance(value, Decimal):
                assert value.as_tuple().exponent == -2
    assert totals.total == totals.duty + totals.excise_tax + totals.gst
    assert [(line.value_for_duty, line.duty, line.gst) for line in per_line] == [
        exact_line(line, rate) for line in numbered
    ]
    assert totals.duty == sum((line.duty for line in per_line), Decimal(0))
    assert totals.gst == sum((line.gst for line in per_line), Decimal(0))
    assert totals.excise_tax == sum((line.excise_tax for line in per_line), Decimal(0))


def test_the_same_declaration_is_assessed_once_and_an_equal_one_alike() -> None:
    """The rules and the handler assess one message one after the other: the second call
    returns the first's totals; another message, even one that compares equal, is assessed
    on its own."""
    first = make_declaration("1.35", make_line("100.00", "6.5"), make_line("0.37", "8"))
    totals = assess(first)
    assert assess(first) is totals
    other = make_declaration("1.35", make_line("100.00", "6.5"), make_line("0.37", "8"))
    assert other == first and assess(other) is not totals and assess(other) == totals
    cheaper = make_declaration("1.35", make_line("10.00", "6.5"))
    assert assess(cheaper).total < totals.total
    assert assess(first) is not totals and assess(first) == totals
