"""The order of checks (CONTRACT section 3): stages, what stops what, paths and lines, and the
example messages with the codes examples/expected.toml gives them."""

import tomllib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.codec.messages import Declaration
from gateway.codec.xml_parser import parse
from gateway.partners import Registry, load_registry, parse_registry
from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.validation.pipeline import Checked, CheckSettings, Sending, check
from gateway.validation.problems import CODES

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples"
EXPECTED: dict[str, Any] = tomllib.loads((EXAMPLES / "expected.toml").read_text("utf-8"))
EXAMPLE_RECEIVED_AT = datetime.fromisoformat(EXPECTED["received_at"])
EXAMPLE_NAMES = sorted(name for name, entry in EXPECTED.items() if isinstance(entry, dict))

CALENDAR = BusinessCalendar(CalendarSettings())
ON_TIME = datetime.fromisoformat("2026-11-23T14:05:00-05:00")

DELEGATED = "123456782RM0001"
"""Registered, delegated to BRK42."""
NOT_DELEGATED = "123026635RM0001"
"""Registered, delegated to nobody."""
UNREGISTERED = "046454286RM0001"
"""Well-formed with a good check digit, not registered."""
BAD_CHECK_DIGIT = "123456783RM0001"
GOOD_TRANSACTION = "12345000001235"
BAD_TRANSACTION = "12345000001234"

REGISTRY = parse_registry({
    "sender": [
        {"id": "BRK42", "email": "edi@broker42.example", "accounts": [DELEGATED]},
        {"id": "BRK77", "email": "edi@broker77.example", "notify": "rejections"},
    ],
    "account": [
        {"number": DELEGATED, "email": "accounts@importer.example", "security": "25000.00"},
        {"number": NOT_DELEGATED, "email": "other@importer.example"},
    ],
})


def header(sender: str, message_id: str = "BRK42-T-1") -> str:
    return (
        f"  <Header>\n    <MessageID>{message_id}</MessageID>\n    <Sender>{sender}</Sender>\n"
        f"    <SentAt>2026-11-23T14:05:00-05:00</SentAt>\n  </Header>\n"
    )


def line(number: int = 1, *, hs_code: str = "9503000090", value: str = "100.00",
         duty_rate: str = "4", reason: str | None = None) -> str:
    reason_code = f"    <ReasonCode>{reason}</ReasonCode>\n" if reason else ""
    return (
        f"  <Line>\n    <Number>{number}</Number>\n    <HSCode>{hs_code}</HSCode>\n"
        f"    <Description>Toys</Description>\n    <CountryOfOrigin>US</CountryOfOrigin>\n"
        f"    <TariffTreatment>MFN</TariffTreatment>\n    <Quantity unit=\"NMB\">20</Quantity>\n"
        f"    <Value>{value}</Value>\n    <DutyRate>{duty_rate}</DutyRate>\n{reason_code}"
        f"  </Line>\n"
    )


def declaration(*, sender: str = "BRK42", account: str = DELEGATED,
                transaction: str = GOOD_TRANSACTION, version: int = 1,
                purpose: str = "original", currency: str = "USD", rate: str = "1.15",
                release: str = "2026-11-20", lines: tuple[str, ...] = (line(),),
                totals: tuple[str, str, str, str] | None = ("4.60", "0.00", "5.98", "10.58"),
                ) -> bytes:
    declared = ""
    if totals is not None:
        duty, excise, gst, total = totals
        declared = (
            f"  <DeclaredTotals>\n    <Duty>{duty}</Duty>\n    <ExciseTax>{excise}</ExciseTax>\n"
            f"    <GST>{gst}</GST>\n    <Total>{total}</Total>\n  </DeclaredTotals>\n"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Declaration xmlns="urn:carm-gateway:message:1">\n{header(sender)}'
        f"  <TransactionNumber>{transaction}</TransactionNumber>\n"
        f"  <Version>{version}</Version>\n  <Purpose>{purpose}</Purpose>\n"
        f"  <ImporterAccount>{account}</ImporterAccount>\n"
        f"  <ReleaseDate>{release}</ReleaseDate>\n  <Currency>{currency}</Currency>\n"
        f"  <ExchangeRate>{rate}</ExchangeRate>\n{''.join(lines)}{declared}</Declaration>\n"
    ).encode()


def payment(*, amount: str = "300.00", allocations: tuple[tuple[str, str], ...] = ()) -> bytes:
    allocated = "".join(
        f"  <Allocation>\n    <TransactionNumber>{number}</TransactionNumber>\n"
        f"    <Amount>{value}</Amount>\n  </Allocation>\n"
        for number, value in allocations
    )
    return (
        f'<Payment xmlns="urn:carm-gateway:message:1">\n{header("BRK42")}'
        f"  <PaymentReference>PAY-1</PaymentReference>\n"
        f"  <ImporterAccount>{DELEGATED}</ImporterAccount>\n  <Amount>{amount}</Amount>\n"
        f"  <Method>EFT</Method>\n  <ReceivedOn>2026-11-23</ReceivedOn>\n{allocated}</Payment>\n"
    ).encode()


def run(payload: bytes, *, topic_sender: str | None = "BRK42", registry: Registry = REGISTRY,
        received_at: datetime = ON_TIME) -> Checked:
    sending = Sending(topic_sender, registry) if topic_sender is not None else None
    return check(payload, settings=CheckSettings(), sending=sending, received_at=received_at,
                 calendar=CALENDAR)


def codes(checked: Checked) -> list[str]:
    return [item.code for item in checked.problems]


def line_of(payload: bytes, needle: bytes) -> int:
    return payload[: payload.index(needle)].count(b"\n") + 1


def test_well_formed_valid_declaration_passes_every_stage() -> None:
    """The builders' declaration is valid: no problems, decoded, with its reference."""
    checked = run(declaration())
    assert checked.problems == ()
    assert not checked.rejected
    assert checked.kind == "declaration"
    assert checked.reference == "12345000001235/1"
    assert checked.ref_message_id == "BRK42-T-1"


# What stops what


def test_schema_error_with_a_bad_account_reports_only_sch001() -> None:
    """Stage 4 stops stage 6: a bad HSCode and a bad account give SCH001 alone."""
    payload = declaration(account=BAD_CHECK_DIGIT, lines=(line(hs_code="95030000"),))
    assert codes(run(payload)) == ["SCH001"]


def test_sender_mismatch_and_unregistered_sender_are_reported_together() -> None:
    """AUTH002 and AUTH003 are one stage: both reported, and the account stage does not run."""
    checked = run(declaration(sender="BRK42"), topic_sender="NOBODY")
    assert codes(checked) == ["AUTH002", "AUTH003"]
    assert checked.rejected


def test_sender_mismatch_alone_stops_the_account_stage() -> None:
    """A registered topic sender other than Header/Sender: AUTH002 only."""
    assert codes(run(declaration(sender="BRK77", account=UNREGISTERED))) == ["AUTH002"]


def test_malformed_account_stops_before_the_registry_is_asked() -> None:
    """ACC001 ends stage 6: an account with a bad check digit is not also ACC002."""
    assert codes(run(declaration(account=BAD_CHECK_DIGIT))) == ["ACC001"]


@pytest.mark.parametrize("account", ["123456782RM001", "123456782rm0001", "ABC", "123456782XX0001"])
def test_account_of_the_wrong_form_is_acc001(account: str) -> None:
    """Anything but BN9 + RM + 4 digits is ACC001 (the schema lets it through)."""
    assert codes(run(declaration(account=account))) == ["ACC001"]


def test_unregistered_account_stops_before_delegation() -> None:
    """ACC002 ends stage 6: an unregistered account is not also AUTH001."""
    payload = declaration(sender="BRK77", account=UNREGISTERED)
    assert codes(run(payload, topic_sender="BRK77")) == ["ACC002"]


@pytest.mark.parametrize(("sender", "account"), [("BRK77", DELEGATED), ("BRK42", NOT_DELEGATED)])
def test_sender_not_delegated_for_the_account_is_auth001(sender: str, account: str) -> None:
    """A registered account the sender is not delegated for is AUTH001."""
    payload = declaration(sender=sender, account=account)
    assert codes(run(payload, topic_sender=sender)) == ["AUTH001"]


def test_transaction_check_digit_is_checked_only_after_the_account() -> None:
    """TXN001 is stage 7: reported only once the account checks have passed."""
    assert codes(run(declaration(account=BAD_CHECK_DIGIT, transaction=BAD_TRANSACTION))) == [
        "ACC001"
    ]
    payload = declaration(sender="BRK77", transaction=BAD_TRANSACTION)
    assert codes(run(payload, topic_sender="BRK77")) == ["AUTH001"]
    assert codes(run(declaration(transaction=BAD_TRANSACTION))) == ["TXN001"]


def test_transaction_error_stops_the_business_rules() -> None:
    """A TXN001 document with wrong totals is not also DEC001."""
    payload = declaration(transaction=BAD_TRANSACTION, totals=("1.00", "0.00", "1.00", "2.00"))
    assert codes(run(payload)) == ["TXN001"]


def test_transaction_check_can_be_turned_off() -> None:
    """With transaction_check_digit `none`, a 14-digit number with any last digit passes."""
    checked = check(declaration(transaction=BAD_TRANSACTION),
                    settings=CheckSettings(transaction_check_digit="none"),
                    sending=Sending("BRK42", REGISTRY), received_at=ON_TIME, calendar=CALENDAR)
    assert checked.problems == ()


def test_business_rules_are_reported_together() -> None:
    """Stage 8 reports all its problems: DEC001, DEC007 and DEC008 in one answer."""
    payload = declaration(currency="CAD", rate="1.2", purpose="correction",
                          totals=("4.60", "0.00", "5.98", "10.58"))
    assert sorted(set(codes(run(payload)))) == ["DEC001", "DEC007", "DEC008"]


def test_offline_check_skips_sender_and_registry_but_not_acc001() -> None:
    """Without a Sending (validate offline): no AUTH or ACC002, but ACC001 and TXN001 run."""
    assert codes(run(declaration(sender="BRK99", account=UNREGISTERED), topic_sender=None)) == []
    assert codes(run(declaration(account=BAD_CHECK_DIGIT), topic_sender=None)) == ["ACC001"]
    assert codes(run(declaration(transaction=BAD_TRANSACTION), topic_sender=None)) == ["TXN001"]


def test_unreadable_input_keeps_its_scanned_message_id() -> None:
    """A document refused before decoding still answers with the MessageID the scan found."""
    checked = run((EXAMPLES / "invalid-xml001-not-well-formed.xml").read_bytes())
    assert codes(checked) == ["XML001"]
    assert checked.message is None
    assert checked.ref_message_id == "BRK42-2026-000501"
    assert checked.reference is None


def test_neither_xml_nor_edifact_is_xml001_of_kind_unknown() -> None:
    """Input starting with anything but `<`, UNA or UNB is XML001 with Kind unknown."""
    checked = run(b"%PDF-1.7 not a message")
    assert (checked.kind, codes(checked)) == ("unknown", ["XML001"])


# DEC004: late declarations


@pytest.mark.parametrize(
    ("received", "late"),
    [
        ("2026-11-27T23:59:59-05:00", False),
        ("2026-11-28T00:00:00-05:00", True),
        ("2026-11-28T04:59:59Z", False),
        ("2026-12-01T10:00:00-05:00", True),
    ],
)
def test_late_declaration_is_a_warning_that_does_not_reject(received: str, late: bool) -> None:
    """Release Friday 2026-11-20: late from Saturday 2026-11-28 00:00 Eastern; DEC004 warns."""
    checked = run(declaration(), received_at=datetime.fromisoformat(received))
    if late:
        assert [(item.code, item.severity, item.path) for item in checked.problems] == [
            ("DEC004", "warning", "/Declaration/ReleaseDate")
        ]
    else:
        assert checked.problems == ()
    assert not checked.rejected


def test_late_warning_comes_with_the_other_business_rules() -> None:
    """DEC004 belongs to stage 8: it is reported beside a DEC007 error."""
    late = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    payload = declaration(currency="CAD", rate="1.2", totals=None)
    assert sorted(codes(run(payload, received_at=late))) == ["DEC004", "DEC007"]


@pytest.mark.parametrize("release", ["1866-11-20", "0001-01-01", "9999-12-31"])
def test_implausible_release_date_is_a_schema_violation(release: str) -> None:
    """Dates outside 1900-2999, where the business calendar is defined, are SCH001: an answer
    to the sender, never an exception (which would be treated as our fault and dead-lettered)."""
    checked = run(declaration(release=release))
    assert codes(checked) == ["SCH001"]


@pytest.mark.parametrize(("release", "late"), [("1900-01-01", True), ("2999-12-31", False)])
def test_edge_release_dates_are_answered(release: str, late: bool) -> None:
    """The first and last schema-valid release dates run through the time rules."""
    checked = run(declaration(release=release))
    assert ("DEC004" in codes(checked)) is late


SEEDS = [(EXAMPLES / name).read_bytes()
         for name in ("declaration.xml", "payment.xml", "appeal.xml", "account-request.xml")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), start=st.integers(0, 2500), cut=st.integers(0, 40),
       junk=st.binary(max_size=16))
def test_any_damaged_example_gets_contract_codes(seed: bytes, start: int, cut: int,
                                                 junk: bytes) -> None:
    """A valid example with bytes cut out and junk spliced in is always answered, with problem
    codes of the contract only: the pipeline is total over its input."""
    payload = seed[:start] + junk + seed[start + cut:]
    checked = run(payload)
    assert all(item.code in CODES for item in checked.problems)
    assert checked.rejected == any(item.severity == "error" for item in checked.problems)


# Paths and lines


def test_schema_problem_in_a_repeating_element_has_its_position() -> None:
    """SCH001 in the second Line: /Declaration/Line[2]/HSCode, on the HSCode's input line."""
    payload = (EXAMPLES / "invalid-sch001-hscode.xml").read_bytes()
    [found] = run(payload).problems
    assert (found.code, found.path) == ("SCH001", "/Declaration/Line[2]/HSCode")
    assert found.line == line_of(payload, b"<HSCode>22042100<")


def test_single_line_still_carries_position_one() -> None:
    """A repeating element carries its position even when it occurs once."""
    payload = declaration(lines=(line(value="-1"),))
    [found] = run(payload).problems
    assert (found.code, found.path) == ("SCH001", "/Declaration/Line[1]/Value")
    assert found.line == line_of(payload, b"<Value>-1<")


def test_declared_totals_problem_has_a_plain_path_and_its_line() -> None:
    """DEC001 on /Declaration/DeclaredTotals/GST (no position) on the GST's input line."""
    payload = (EXAMPLES / "invalid-dec001-declared-totals.xml").read_bytes()
    problems = {item.path: item for item in run(payload).problems}
    assert set(problems) == {"/Declaration/DeclaredTotals/GST",
                             "/Declaration/DeclaredTotals/Total"}
    gst = problems["/Declaration/DeclaredTotals/GST"]
    assert gst.line == line_of(payload, b"<GST>481.72<")
    assert gst.text == "declared 481.72, computed 481.27"
    total = problems["/Declaration/DeclaredTotals/Total"]
    assert total.line == line_of(payload, b"<Total>1093.52<")


def test_transaction_problem_in_the_second_allocation_has_its_position() -> None:
    """TXN001 for a payment's second allocation: /Payment/Allocation[2]/TransactionNumber."""
    payload = payment(allocations=((GOOD_TRANSACTION, "100.00"), (BAD_TRANSACTION, "50.00")))
    [found] = run(payload).problems
    assert (found.code, found.path) == ("TXN001", "/Payment/Allocation[2]/TransactionNumber")
    second = payload.index(b"<Allocation>", payload.index(b"<Allocation>") + 1)
    assert found.line == payload[:second].count(b"\n") + 2


@pytest.mark.parametrize(
    ("name", "code", "path", "needle"),
    [
        ("invalid-acc001-account-check-digit.xml", "ACC001", "/Declaration/ImporterAccount",
         b"<ImporterAccount>"),
        ("invalid-txn001-transaction-check-digit.xml", "TXN001",
         "/Declaration/TransactionNumber", b"<TransactionNumber>"),
        ("invalid-dec007-cad-exchange-rate.xml", "DEC007", "/Declaration/ExchangeRate",
         b"<ExchangeRate>"),
        ("invalid-dec008-correction-version-1.xml", "DEC008", "/Declaration/Purpose",
         b"<Purpose>"),
        ("invalid-auth002-sender-mismatch.xml", "AUTH002", "/Payment/Header/Sender",
         b"<Sender>"),
        ("invalid-apl004-penalty-with-transaction.xml", "APL004", "/Appeal/Type", b"<Type>"),
        ("invalid-sch001-payment-missing-method.xml", "SCH001", "/Payment/ReceivedOn",
         b"<ReceivedOn>"),
        ("invalid-xml002-doctype.xml", "XML002", None, b"<!DOCTYPE"),
        ("invalid-xml001-not-well-formed.xml", "XML001", None, b"</Versoin>"),
    ],
)
def test_example_problem_has_its_path_and_input_line(name: str, code: str, path: str | None,
                                                      needle: bytes) -> None:
    """Each single-problem example names the offending element and the line it is on."""
    payload = (EXAMPLES / name).read_bytes()
    [found] = run(payload).problems
    assert (found.code, found.path) == (code, path)
    assert found.line == line_of(payload, needle)


# The examples


EXAMPLE_REGISTRY = load_registry(PROJECT / "config" / "partners.toml")


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_gives_exactly_its_expected_codes(name: str) -> None:
    """Each example, checked as received from its topic sender at received_at, gives the error
    codes expected.toml lists (none for valid ones), and its status and kind."""
    entry = EXPECTED[name]
    checked = run((EXAMPLES / name).read_bytes(), topic_sender=entry["topic_sender"],
                  registry=EXAMPLE_REGISTRY, received_at=EXAMPLE_RECEIVED_AT)
    errors = {item.code for item in checked.problems if item.severity == "error"}
    assert errors == set(entry["codes"])
    assert checked.rejected == (entry["status"] == "rejected")
    if "kind" in entry:
        assert checked.kind == entry["kind"]


# What the schema saw is what is decoded


def test_comments_and_instructions_inside_values_are_decoded_as_the_schema_read_them() -> None:
    """A comment or processing instruction splits an element's text in the document; the
    schema reads the text around it as one value, and so does the decoder (here 100.00 and
    the 4 % duty rate, giving the builders' totals), whatever else sits between the lines."""
    payload = declaration().replace(
        b"<Value>100.00</Value>", b"<Value>10<!-- split -->0.<?note x?>00</Value>",
    ).replace(b"  <Line>", b"  <!-- first line -->\n  <Line>\n    <?tool y?>")
    checked = run(payload)
    assert checked.problems == ()
    assert isinstance(checked.message, Declaration)
    [decoded] = checked.message.lines
    assert (decoded.number, decoded.value, decoded.quantity, decoded.unit) == (
        1, Decimal("100.00"), Decimal(20), "NMB")


def test_numbers_and_dates_may_carry_the_whitespace_their_types_collapse() -> None:
    """xs:decimal, xs:date, xs:dateTime, xs:positiveInteger and xs:boolean collapse
    surrounding whitespace, so the schema accepts it and the decoder reads the same values; a
    pretty-printed Description is read without its indentation (as EDIFACT's FTX is), so a
    re-indented correction does not count as a changed line (DEC005)."""
    payload = declaration(rate=" 1.15\n", release="\t2026-11-20 ").replace(
        b"<Version>1</Version>", b"<Version> 1 </Version>",
    ).replace(
        b"<SentAt>2026-11-23T14:05:00-05:00</SentAt>",
        b"<SentAt>\n 2026-11-23T14:05:00-05:00 </SentAt><Test> false </Test>",
    ).replace(b"<Number>1</Number>", b"<Number>\n1\n</Number>").replace(
        b"<Description>Toys</Description>", b"<Description>\n      Toys\n    </Description>")
    checked = run(payload)
    assert checked.problems == ()
    assert isinstance(checked.message, Declaration)
    message = checked.message
    assert (message.version, message.exchange_rate, message.release_date) == (
        1, Decimal("1.15"), date(2026, 11, 20))
    assert message.header.sent_at == datetime.fromisoformat("2026-11-23T14:05:00-05:00")
    assert message.header.test is False
    assert (message.lines[0].number, message.lines[0].description) == (1, "Toys")


def test_whitespace_between_elements_is_dropped_but_whitespace_content_is_kept() -> None:
    """The parser drops the whitespace between elements, which the schema ignores, and keeps
    an element whose whole content is whitespace: a blank Description is still what the schema
    refuses, at its own path and line, not an empty element."""
    payload = declaration().replace(b"<Description>Toys</Description>",
                                    b"<Description>   </Description>")
    root = parse(payload)
    assert root.text is None and all(element.tail is None for element in root.iter())
    description = next(root.iter("{urn:carm-gateway:message:1}Description"))
    assert description.text == "   "
    [found] = run(payload).problems
    line = payload[:payload.index(b"<Description>")].count(b"\n") + 1
    assert (found.code, found.path, found.line) == (
        "SCH001", "/Declaration/Line[1]/Description", line)
    assert "'   '" in found.text


def test_an_element_of_a_foreign_namespace_is_sch001_not_a_failure() -> None:
    """libxml2 names an element of another namespace with a prefix its error path does not
    declare: the problem is SCH001 at the nearest path we can give, never an exception."""
    payload = (EXAMPLES / "payment.xml").read_bytes().replace(
        b"</Header>", b'<e:Foo xmlns:e="urn:evil"/></Header>')
    checked = check(payload, settings=CheckSettings(), sending=None,
                    received_at=ON_TIME, calendar=CALENDAR)
    assert [p.code for p in checked.problems] == ["SCH001"]


def test_schema_problems_are_capped() -> None:
    """100 SCH001 problems, then one saying how many more: 5,000 stray attributes give an
    answer that stays deliverable."""
    from gateway.codec.xml_documents import SCHEMA_PROBLEMS_MAX  # noqa: PLC0415

    attributes = b" ".join(b'a%d="x"' % number for number in range(5000))
    payload = (EXAMPLES / "payment.xml").read_bytes().replace(
        b"<Payment ", b"<Payment " + attributes + b" ", 1)
    checked = check(payload, settings=CheckSettings(), sending=None,
                    received_at=ON_TIME, calendar=CALENDAR)
    assert len(checked.problems) == SCHEMA_PROBLEMS_MAX + 1
    assert checked.problems[-1].text == f"{5000 - SCHEMA_PROBLEMS_MAX} more schema problems " \
                                        "not listed"
