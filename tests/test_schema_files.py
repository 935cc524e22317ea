"""The message schema and the example messages agree with each other and with the contract.

These tests read only files (schemas/messages.xsd, examples/): they do not import the gateway,
so they pin the contract's vocabulary (CONTRACT.md sections 2 and 3) and arithmetic (section 4)
independently of the code that implements them.
"""

import tomllib
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

PROJECT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = PROJECT / "schemas" / "messages.xsd"
EXAMPLES = PROJECT / "examples"
NAMESPACE = "urn:carm-gateway:message:1"
NS = {"m": NAMESPACE}
CENT = Decimal("0.01")

# Codes decided before or by the schema: such examples are not valid instances of it.
PRE_SCHEMA_CODES = {"XML001", "XML002"}
SCHEMA_CODE = "SCH001"

EXPECTED: dict[str, dict[str, object]] = {
    name: entry
    for name, entry in tomllib.loads((EXAMPLES / "expected.toml").read_text("utf-8")).items()
    if isinstance(entry, dict)
}


def _examples_where(predicate: Callable[[dict[str, object]], bool]) -> list[str]:
    return sorted(name for name, entry in EXPECTED.items() if predicate(entry))


SCHEMA_VALID = _examples_where(
    lambda entry: not set(entry["codes"]) & (PRE_SCHEMA_CODES | {SCHEMA_CODE})
)
SCHEMA_INVALID = _examples_where(lambda entry: SCHEMA_CODE in entry["codes"])
VALID_DECLARATIONS = _examples_where(
    lambda entry: entry.get("kind") == "declaration" and entry["status"] == "accepted"
)
PARSEABLE = _examples_where(lambda entry: not set(entry["codes"]) & PRE_SCHEMA_CODES)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))


@pytest.fixture(scope="module")
def second_opinion() -> xmlschema.XMLSchema10:
    """xmlschema, the project's other validator (readable error paths, tooling)."""
    return xmlschema.XMLSchema10(str(SCHEMA_FILE))


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser)


def _parse_example(name: str) -> etree._Element:
    return _parse((EXAMPLES / name).read_bytes())


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _assess(declaration: etree._Element) -> dict[str, Decimal]:
    """Section 4, written out again from the contract's text."""
    exchange_rate = Decimal(declaration.findtext("m:ExchangeRate", namespaces=NS).strip())
    totals = dict.fromkeys(("duty", "excise", "gst"), Decimal("0.00"))
    for line in declaration.iterfind("m:Line", NS):
        value = Decimal(line.findtext("m:Value", namespaces=NS).strip())
        duty_rate = Decimal(line.findtext("m:DutyRate", namespaces=NS).strip())
        excise = Decimal(line.findtext("m:ExciseTax", default="0", namespaces=NS).strip())
        gst_rate = Decimal(line.findtext("m:GSTRate", default="5", namespaces=NS).strip())
        value_for_duty = _cents(value * exchange_rate)
        duty = _cents(value_for_duty * duty_rate / 100)
        value_for_tax = value_for_duty + duty + excise
        gst = _cents(value_for_tax * gst_rate / 100)
        totals["duty"] += duty
        totals["excise"] += excise
        totals["gst"] += gst
    totals["total"] = totals["duty"] + totals["excise"] + totals["gst"]
    return totals


# --------------------------------------------------------------------------------------------
# The example files


def test_schema_loads_in_both_validators() -> None:
    """The XSD is one XML Schema 1.0 file that lxml (libxml2) and xmlschema both accept."""
    etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))
    assert xmlschema.XMLSchema10(str(SCHEMA_FILE)).target_namespace == NAMESPACE


def test_expected_lists_every_example_file() -> None:
    """expected.toml has an entry for each examples/*.xml file and for nothing else."""
    on_disk = {path.name for path in EXAMPLES.glob("*.xml")}
    assert on_disk == set(EXPECTED)


def test_expected_entries_are_complete() -> None:
    """Each entry has a status that fits its codes; valid declarations carry their totals."""
    for name, entry in EXPECTED.items():
        assert entry["status"] in {"accepted", "rejected", "received"}, name
        assert (entry["status"] == "rejected") == bool(entry["codes"]), name
        assert entry["about"], name
        assert entry["topic_sender"] == "BRK42", name
        for required in entry.get("requires", []):
            assert required in EXPECTED, name
    for name in VALID_DECLARATIONS:
        assert {"duty", "excise", "gst", "total"} <= set(EXPECTED[name]), name


def test_every_kind_has_a_valid_example() -> None:
    """Each of the four message kinds has at least one example that is not rejected."""
    valid_kinds = {entry["kind"] for entry in EXPECTED.values() if not entry["codes"]}
    assert valid_kinds == {"declaration", "payment", "appeal", "account-request"}


def test_message_ids_are_distinct() -> None:
    """No two examples share a MessageID, so none is answered as a duplicate of another."""
    message_ids = [
        _parse_example(name).findtext("m:Header/m:MessageID", namespaces=NS) for name in PARSEABLE
    ]
    assert len(message_ids) == len(set(message_ids))


@pytest.mark.parametrize("name", SCHEMA_VALID)
def test_example_passes_schema(
    schema: etree.XMLSchema, second_opinion: xmlschema.XMLSchema10, name: str
) -> None:
    """Examples whose expected codes come after stage 4 are valid instances of the schema."""
    document = _parse_example(name)
    assert schema.validate(document), schema.error_log.filter_from_errors()
    assert second_opinion.is_valid(str(EXAMPLES / name))


@pytest.mark.parametrize("name", SCHEMA_INVALID)
def test_sch001_example_fails_schema(
    schema: etree.XMLSchema, second_opinion: xmlschema.XMLSchema10, name: str
) -> None:
    """The SCH001 examples are well-formed but rejected by the schema, by both validators."""
    assert not schema.validate(_parse_example(name))
    assert not second_opinion.is_valid(str(EXAMPLES / name))


def test_xml001_example_is_not_well_formed() -> None:
    """The XML001 example does not parse at all."""
    for name in _examples_where(lambda entry: "XML001" in entry["codes"]):
        with pytest.raises(etree.XMLSyntaxError):
            _parse_example(name)


def test_xml002_example_has_a_doctype() -> None:
    """The XML002 example carries a DOCTYPE (the construct refused before parsing)."""
    for name in _examples_where(lambda entry: "XML002" in entry["codes"]):
        assert b"<!DOCTYPE" in (EXAMPLES / name).read_bytes()


@pytest.mark.parametrize("name", VALID_DECLARATIONS)
def test_valid_declaration_totals(name: str) -> None:
    """expected.toml and DeclaredTotals hold exactly what section 4 computes."""
    declaration = _parse_example(name)
    computed = _assess(declaration)
    entry = EXPECTED[name]
    assert {key: Decimal(str(entry[key])) for key in computed} == computed
    declared = declaration.find("m:DeclaredTotals", NS)
    if declared is not None:
        assert {
            "duty": Decimal(declared.findtext("m:Duty", namespaces=NS)),
            "excise": Decimal(declared.findtext("m:ExciseTax", namespaces=NS)),
            "gst": Decimal(declared.findtext("m:GST", namespaces=NS)),
            "total": Decimal(declared.findtext("m:Total", namespaces=NS)),
        } == computed


def test_contract_worked_example() -> None:
    """declaration-contract.xml is section 4's example: Duty 4.60, GST 5.98, Total 10.58."""
    computed = _assess(_parse_example("declaration-contract.xml"))
    assert computed == {
        "duty": Decimal("4.60"),
        "excise": Decimal("0.00"),
        "gst": Decimal("5.98"),
        "total": Decimal("10.58"),
    }


def test_dec001_example_totals_differ() -> None:
    """The DEC001 example's DeclaredTotals disagree with the section 4 assessment."""
    declaration = _parse_example("invalid-dec001-declared-totals.xml")
    declared = Decimal(declaration.findtext("m:DeclaredTotals/m:Total", namespaces=NS))
    assert declared != _assess(declaration)["total"]


@pytest.mark.parametrize("name", PARSEABLE)
def test_identifier_check_digits(name: str) -> None:
    """Only the ACC001 and TXN001 examples carry a bad BN9 or transaction check digit."""
    document = _parse_example(name)
    codes = set(EXPECTED[name]["codes"])
    account = document.findtext("m:ImporterAccount", namespaces=NS)
    if account is not None:
        assert _luhn_valid(account[:9]) == ("ACC001" not in codes), account
    for number in document.iterfind(".//m:TransactionNumber", NS):
        assert _luhn_valid(number.text) == ("TXN001" not in codes), number.text


# --------------------------------------------------------------------------------------------
# Focused schema rules, on documents built in-line

HEADER = """<Header>
    <MessageID>{message_id}</MessageID>
    <Sender>BRK42</Sender>
    <SentAt>{sent_at}</SentAt>
  </Header>"""

LINE = """<Line>
    <Number>{number}</Number>
    <HSCode>8471300000</HSCode>
    <Description>Portable computers</Description>
    <CountryOfOrigin>CN</CountryOfOrigin>
    <TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">10</Quantity>
    <Value>{value}</Value>
    <DutyRate>{duty_rate}</DutyRate>
  </Line>"""


def _declaration(
    *,
    value: str = "5000.00",
    duty_rate: str = "6.5",
    exchange_rate: str = "1.3900",
    sent_at: str = "2026-11-23T14:05:00-05:00",
    line_numbers: tuple[int, ...] = (1,),
) -> bytes:
    lines = "\n  ".join(
        LINE.format(number=number, value=value, duty_rate=duty_rate) for number in line_numbers
    )
    return f"""<Declaration xmlns="{NAMESPACE}">
  {HEADER.format(message_id="T-1", sent_at=sent_at)}
  <TransactionNumber>12345000001235</TransactionNumber>
  <Version>1</Version>
  <Purpose>original</Purpose>
  <ImporterAccount>123456782RM0001</ImporterAccount>
  <ReleaseDate>2026-11-20</ReleaseDate>
  <Currency>USD</Currency>
  <ExchangeRate>{exchange_rate}</ExchangeRate>
  {lines}
</Declaration>""".encode()


def _appeal(*, account: str = "123456782RM0001", references: str = "") -> bytes:
    return f"""<Appeal xmlns="{NAMESPACE}">
  {HEADER.format(message_id="T-2", sent_at="2026-11-23T19:05:00Z")}
  <Type>penalty</Type>
  <ImporterAccount>{account}</ImporterAccount>
  {references}
  <DecisionDate>2026-11-02</DecisionDate>
  <Grounds>On time.</Grounds>
</Appeal>""".encode()


def _valid(schema: etree.XMLSchema, document: bytes) -> bool:
    return schema.validate(_parse(document))


def _errors(schema: etree.XMLSchema, document: bytes) -> str:
    """libxml2's messages for an invalid document, to check that it fails for the right reason."""
    assert not schema.validate(_parse(document))
    return "\n".join(error.message for error in schema.error_log)


def test_inline_template_is_valid(schema: etree.XMLSchema) -> None:
    """The in-line declaration and appeal are valid as built, so each change below is the cause."""
    assert _valid(schema, _declaration())
    assert _valid(schema, _appeal(references="<PenaltyNumber>NPA-2026-0042</PenaltyNumber>"))


@pytest.mark.parametrize("value", ["5000", "5000.5", "5000.50", "0", "0.01"])
def test_amount_with_up_to_two_fraction_digits_accepted(
    schema: etree.XMLSchema, value: str
) -> None:
    """Amounts are decimals with at most 2 fraction digits; fewer, or none, is fine."""
    assert _valid(schema, _declaration(value=value))


@pytest.mark.parametrize("value", ["5000.001", "1.234", "-1.00", "1e3", ""])
def test_amount_malformed_rejected(schema: etree.XMLSchema, value: str) -> None:
    """A Value with 3 fraction digits, negative, in exponent form or empty is SCH001."""
    assert not _valid(schema, _declaration(value=value))


@pytest.mark.parametrize(
    ("rate", "valid"),
    [
        ("0", True),
        ("100", True),
        ("6.5", True),
        ("12.3456", True),
        ("100.00001", False),
        ("100.0001", False),
        ("1.23456", False),
        ("-0.5", False),
    ],
)
def test_duty_rate_bounds(schema: etree.XMLSchema, rate: str, valid: bool) -> None:
    """DutyRate is 0 to 100 with at most 4 fraction digits: 100.00001 is rejected."""
    assert _valid(schema, _declaration(duty_rate=rate)) is valid


@pytest.mark.parametrize(
    ("rate", "valid"),
    [
        ("1", True),
        ("1.390000", True),
        ("0.000001", True),
        ("0", False),
        ("0.0", False),
        ("-1.39", False),
        ("1.3900001", False),
    ],
)
def test_exchange_rate_bounds(schema: etree.XMLSchema, rate: str, valid: bool) -> None:
    """ExchangeRate is greater than 0 with at most 6 fraction digits: 0 is rejected."""
    assert _valid(schema, _declaration(exchange_rate=rate)) is valid


@pytest.mark.parametrize(
    ("sent_at", "valid"),
    [
        ("2026-11-23T14:05:00-05:00", True),
        ("2026-11-23T19:05:00Z", True),
        ("2026-11-23T19:05:00.250+00:00", True),
        ("2026-11-23T14:05:00", False),
        ("2026-11-23", False),
        ("2026-11-23 14:05:00Z", False),
    ],
)
def test_sent_at_needs_an_offset(schema: etree.XMLSchema, sent_at: str, valid: bool) -> None:
    """SentAt is an xs:dateTime that carries an offset or Z; a local time is rejected."""
    assert _valid(schema, _declaration(sent_at=sent_at)) is valid


def test_declaration_without_lines_rejected(schema: etree.XMLSchema) -> None:
    """A declaration has 1 to 999 lines: none is SCH001."""
    assert "Missing child element" in _errors(schema, _declaration(line_numbers=()))


def test_declaration_line_count_limit(schema: etree.XMLSchema) -> None:
    """999 lines are accepted; a 1000th line is SCH001 because of the count itself."""
    assert _valid(schema, _declaration(line_numbers=tuple(range(1, 1000))))
    errors = _errors(schema, _declaration(line_numbers=(*range(1, 1000), 1)))
    assert "This element is not expected" in errors


def test_line_numbers_unique(schema: etree.XMLSchema) -> None:
    """Two lines with the same Number are SCH001; Number is 1 to 999."""
    assert _valid(schema, _declaration(line_numbers=(2, 1)))
    assert "Duplicate key-sequence" in _errors(schema, _declaration(line_numbers=(1, 1)))
    assert not _valid(schema, _declaration(line_numbers=(0,)))
    assert not _valid(schema, _declaration(line_numbers=(1000,)))


@pytest.mark.parametrize(
    ("quantity", "valid"),
    [
        ('unit="KGM">0.5', True),
        ('unit="NMB">1', True),
        ('unit="NMB">0', False),
        ('unit="nmb">1', False),
        ('unit="KGMS">1', False),
        (">1", False),
    ],
)
def test_quantity_and_unit(schema: etree.XMLSchema, quantity: str, valid: bool) -> None:
    """Quantity is a decimal > 0 with a required unit of 1-3 uppercase letters or digits."""
    document = _declaration().replace(b'unit="NMB">10', quantity.encode())
    assert _valid(schema, document) is valid


def test_appeal_with_both_references_passes_schema(schema: etree.XMLSchema) -> None:
    """TransactionNumber and PenaltyNumber together pass the schema: the combination is APL004."""
    both = (
        "<TransactionNumber>12345000001235</TransactionNumber>"
        "<PenaltyNumber>NPA-2026-0042</PenaltyNumber>"
    )
    assert _valid(schema, _appeal(references=both))
    assert _valid(schema, _appeal(references=""))


def test_loose_importer_account_passes_schema(schema: etree.XMLSchema) -> None:
    """ImporterAccount 'abc' passes the schema: its format is ACC001, checked after it."""
    assert _valid(schema, _appeal(account="abc", references=""))
    assert not _valid(schema, _appeal(account="123456782-RM0001", references=""))
    assert not _valid(schema, _appeal(account="A" * 33, references=""))


def test_acknowledgement_of_the_contract_is_valid(schema: etree.XMLSchema) -> None:
    """The contract's Acknowledgement validates, with a negative Balance (a credit)."""
    acknowledgement = f"""<Acknowledgement xmlns="{NAMESPACE}">
  <AcknowledgementID>gw1-000000000042</AcknowledgementID>
  <RefMessageID>BRK42-2026-000123</RefMessageID>
  <Sender>BRK42</Sender>
  <Kind>declaration</Kind>
  <Reference>12345000001235/1</Reference>
  <Status>accepted</Status>
  <Test>true</Test>
  <ReceivedAt>2026-11-23T19:05:00Z</ReceivedAt>
  <RespondBy>2026-11-25T19:05:00Z</RespondBy>
  <Problem severity="warning" code="DEC004" path="/Declaration/ReleaseDate" line="9">late</Problem>
  <Assessment><Duty>4.60</Duty><ExciseTax>0.00</ExciseTax><GST>5.98</GST><Total>10.58</Total>
  </Assessment>
  <Balance>-20.00</Balance>
  <PaymentDue>2026-12-01</PaymentDue>
</Acknowledgement>""".encode()
    assert _valid(schema, acknowledgement)
    unreadable = f"""<Acknowledgement xmlns="{NAMESPACE}">
  <AcknowledgementID>gw1-000000000043</AcknowledgementID>
  <Kind>unknown</Kind>
  <Status>rejected</Status>
  <ReceivedAt>2026-11-23T19:05:00Z</ReceivedAt>
  <Problem severity="error" code="XML001">not well-formed</Problem>
</Acknowledgement>""".encode()
    assert _valid(schema, unreadable)


def test_schema_location_hint_is_ignored(schema: etree.XMLSchema) -> None:
    """An xsi:schemaLocation hint is ignored: valid, and nothing fetched (a TEST-NET address)."""
    hinted = (
        (EXAMPLES / "payment.xml")
        .read_bytes()
        .replace(
            f'<Payment xmlns="{NAMESPACE}">'.encode(),
            f'<Payment xmlns="{NAMESPACE}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{NAMESPACE} http://192.0.2.1/other.xsd">'.encode(),
        )
    )
    assert b"schemaLocation" in hinted
    assert _valid(schema, hinted)
