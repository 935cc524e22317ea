"""Business rules that need no state (CONTRACT section 3, stage 8): APL001, APL004, PAY001,
DEC001, DEC005, DEC007 and DEC008, run through the pipeline offline."""

from datetime import UTC, datetime

import pytest

from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.validation.pipeline import Checked, CheckSettings, check

CALENDAR = BusinessCalendar(CalendarSettings())
ON_TIME = datetime.fromisoformat("2026-11-23T14:05:00-05:00")
HEADER = (
    "  <Header>\n    <MessageID>BRK42-R-1</MessageID>\n    <Sender>BRK42</Sender>\n"
    "    <SentAt>2026-11-23T14:05:00-05:00</SentAt>\n  </Header>\n"
)


def appeal(*, kind: str = "redetermination", transaction: str | None = "12345000001235",
           penalty: str | None = None, decision: str = "2026-09-30") -> bytes:
    transaction_xml = f"  <TransactionNumber>{transaction}</TransactionNumber>\n" \
        if transaction else ""
    penalty_xml = f"  <PenaltyNumber>{penalty}</PenaltyNumber>\n" if penalty else ""
    return (
        f'<Appeal xmlns="urn:carm-gateway:message:1">\n{HEADER}  <Type>{kind}</Type>\n'
        f"  <ImporterAccount>123456782RM0001</ImporterAccount>\n{transaction_xml}{penalty_xml}"
        f"  <DecisionDate>{decision}</DecisionDate>\n  <Grounds>Wrong tariff.</Grounds>\n"
        f"</Appeal>\n"
    ).encode()


def payment(amount: str, allocations: tuple[str, ...]) -> bytes:
    allocated = "".join(
        f"  <Allocation>\n    <TransactionNumber>12345000001235</TransactionNumber>\n"
        f"    <Amount>{value}</Amount>\n  </Allocation>\n"
        for value in allocations
    )
    return (
        f'<Payment xmlns="urn:carm-gateway:message:1">\n{HEADER}'
        f"  <PaymentReference>PAY-1</PaymentReference>\n"
        f"  <ImporterAccount>123456782RM0001</ImporterAccount>\n  <Amount>{amount}</Amount>\n"
        f"  <Method>EFT</Method>\n  <ReceivedOn>2026-11-23</ReceivedOn>\n{allocated}</Payment>\n"
    ).encode()


def line(number: int, reason: str | None = None) -> str:
    reason_xml = f"<ReasonCode>{reason}</ReasonCode>" if reason else ""
    return (
        f"  <Line><Number>{number}</Number><HSCode>9503000090</HSCode>"
        f"<Description>Toys</Description><CountryOfOrigin>US</CountryOfOrigin>"
        f"<TariffTreatment>MFN</TariffTreatment><Quantity unit=\"NMB\">1</Quantity>"
        f"<Value>100.00</Value><DutyRate>4</DutyRate>{reason_xml}</Line>\n"
    )


def declaration(*, version: int = 1, purpose: str = "original", currency: str = "USD",
                rate: str = "1.15", lines: tuple[str, ...] = (line(1),),
                totals: str = "") -> bytes:
    return (
        f'<Declaration xmlns="urn:carm-gateway:message:1">\n{HEADER}'
        f"  <TransactionNumber>12345000001235</TransactionNumber>\n"
        f"  <Version>{version}</Version>\n  <Purpose>{purpose}</Purpose>\n"
        f"  <ImporterAccount>123456782RM0001</ImporterAccount>\n"
        f"  <ReleaseDate>2026-11-20</ReleaseDate>\n  <Currency>{currency}</Currency>\n"
        f"  <ExchangeRate>{rate}</ExchangeRate>\n{''.join(lines)}{totals}</Declaration>\n"
    ).encode()


def run(payload: bytes, received_at: datetime = ON_TIME) -> Checked:
    return check(payload, settings=CheckSettings(), sending=None, received_at=received_at,
                 calendar=CALENDAR)


def codes(payload: bytes, received_at: datetime = ON_TIME) -> list[str]:
    return [item.code for item in run(payload, received_at).problems]


# APL001: 90 days, counted on Eastern dates


@pytest.mark.parametrize(
    ("received_at", "expected"),
    [
        # Day 90 (2026-12-29 Eastern), though the UTC date is already day 91.
        (datetime(2026, 12, 30, 4, 59, 59, tzinfo=UTC), []),
        # Day 91 from Eastern midnight.
        (datetime(2026, 12, 30, 5, 0, 0, tzinfo=UTC), ["APL001"]),
        (datetime(2026, 12, 29, 12, 0, 0, tzinfo=UTC), []),
        (datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC), ["APL001"]),
        (datetime(2026, 9, 30, 12, 0, 0, tzinfo=UTC), []),
    ],
)
def test_appeal_window_is_90_eastern_days(received_at: datetime, expected: list[str]) -> None:
    """Decision 2026-09-30: day 90 (2026-12-29 Eastern) is in time, day 91 is APL001."""
    assert codes(appeal(decision="2026-09-30"), received_at) == expected


def test_appeal_out_of_time_names_the_decision_date() -> None:
    """APL001 points at DecisionDate and says how many days passed."""
    payload = appeal(decision="2026-09-30")
    [found] = run(payload, datetime(2026, 12, 30, 5, tzinfo=UTC)).problems
    assert (found.code, found.path) == ("APL001", "/Appeal/DecisionDate")
    assert found.line == payload[: payload.index(b"<DecisionDate>")].count(b"\n") + 1
    assert "91 days" in found.text


# APL004: the reference must fit the Type


@pytest.mark.parametrize(
    ("kind", "transaction", "penalty", "expected"),
    [
        ("redetermination", "12345000001235", None, []),
        ("redetermination", None, "NPA-2026-0042", ["APL004"]),
        ("redetermination", "12345000001235", "NPA-2026-0042", ["APL004"]),
        ("redetermination", None, None, ["APL004"]),
        ("penalty", None, "NPA-2026-0042", []),
        ("penalty", "12345000001235", None, ["APL004"]),
        ("penalty", "12345000001235", "NPA-2026-0042", ["APL004"]),
        ("penalty", None, None, ["APL004"]),
    ],
)
def test_appeal_type_must_match_its_reference(kind: str, transaction: str | None,
                                              penalty: str | None, expected: list[str]) -> None:
    """Redetermination: exactly a TransactionNumber; penalty: exactly a PenaltyNumber."""
    assert codes(appeal(kind=kind, transaction=transaction, penalty=penalty)) == expected


def test_appeal_reference_and_window_are_reported_together() -> None:
    """APL004 and APL001 are both stage 8 rules: one answer carries both."""
    late = datetime(2027, 3, 1, 12, tzinfo=UTC)
    assert sorted(codes(appeal(kind="penalty"), late)) == ["APL001", "APL004"]


# PAY001


@pytest.mark.parametrize(
    ("amount", "allocations", "expected"),
    [
        ("300.00", ("100.00", "200.00"), []),
        ("300.00", ("100.00", "200.01"), ["PAY001"]),
        ("300.00", (), []),
        ("0.01", ("0.02",), ["PAY001"]),
        ("1234.56", ("1000.00",), []),
    ],
)
def test_allocations_may_not_exceed_the_payment(amount: str, allocations: tuple[str, ...],
                                                expected: list[str]) -> None:
    """PAY001 when the explicit allocations add up to more than the payment; equal is fine."""
    assert codes(payment(amount, allocations)) == expected


def test_pay001_says_both_amounts() -> None:
    """PAY001 points at the payment's Amount and gives both sums with two decimals."""
    [found] = run(payment("300", ("100", "250.5"))).problems
    assert (found.code, found.path) == ("PAY001", "/Payment/Amount")
    assert found.text == "allocations add up to 350.50, the payment is 300.00"


# DEC005 (stateless part), DEC007, DEC008


@pytest.mark.parametrize("purpose", ["correction", "adjustment"])
def test_later_version_without_any_reason_code_is_dec005(purpose: str) -> None:
    """A correction or adjustment with no ReasonCode at all is DEC005."""
    payload = declaration(version=2, purpose=purpose, lines=(line(1), line(2)))
    assert codes(payload) == ["DEC005"]


@pytest.mark.parametrize("purpose", ["correction", "adjustment"])
def test_later_version_with_a_reason_code_passes_the_stateless_check(purpose: str) -> None:
    """One ReasonCode is enough for the stateless part (which lines changed needs the state)."""
    payload = declaration(version=2, purpose=purpose, lines=(line(1), line(2, "CL01")))
    assert codes(payload) == []


def test_original_needs_no_reason_code() -> None:
    """Version 1 originals are not subject to DEC005."""
    assert codes(declaration()) == []


@pytest.mark.parametrize(
    ("version", "purpose", "expected"),
    [
        (1, "original", []),
        (1, "correction", ["DEC008"]),
        (1, "adjustment", ["DEC008"]),
        (2, "original", ["DEC008"]),
        (3, "adjustment", []),
    ],
)
def test_purpose_must_fit_the_version(version: int, purpose: str, expected: list[str]) -> None:
    """Original is Version 1; correction and adjustment come after it."""
    lines = (line(1, "CL01"),)
    assert codes(declaration(version=version, purpose=purpose, lines=lines)) == expected


@pytest.mark.parametrize(
    ("currency", "rate", "expected"),
    [("CAD", "1", []), ("CAD", "1.000000", []), ("CAD", "1.2", ["DEC007"]),
     ("CAD", "0.999999", ["DEC007"]), ("USD", "1", []), ("USD", "1.39", [])],
)
def test_cad_needs_exchange_rate_one(currency: str, rate: str, expected: list[str]) -> None:
    """DEC007: Currency CAD with any ExchangeRate but 1 (however written)."""
    assert codes(declaration(currency=currency, rate=rate)) == expected


@pytest.mark.parametrize(
    ("totals", "paths"),
    [
        (("4.60", "0.00", "5.98", "10.58"), []),
        (("4.61", "0.00", "5.98", "10.58"), ["Duty"]),
        (("4.60", "0.01", "5.98", "10.58"), ["ExciseTax"]),
        (("4.6", "0", "5.98", "10.580"), []),
        (("4.60", "0.00", "5.99", "10.59"), ["GST", "Total"]),
    ],
)
def test_declared_totals_are_compared_one_by_one(totals: tuple[str, str, str, str],
                                                 paths: list[str]) -> None:
    """DEC001 for each declared total that differs from section 4; the same value written
    another way (4.6, 0, 10.580) is equal."""
    duty, excise, gst, total = totals
    declared = (
        f"  <DeclaredTotals><Duty>{duty}</Duty><ExciseTax>{excise}</ExciseTax>"
        f"<GST>{gst}</GST><Total>{total}</Total></DeclaredTotals>\n"
    )
    problems = run(declaration(totals=declared)).problems
    assert [(item.code, item.path) for item in problems] == [
        ("DEC001", f"/Declaration/DeclaredTotals/{name}") for name in paths
    ]
