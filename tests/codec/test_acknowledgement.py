"""The XML Acknowledgement (CONTRACT section 3): elements, order, formats, schema validity."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from lxml import etree

from gateway.codec.acknowledgement import render_acknowledgement, utc_text, xml_safe
from gateway.codec.messages import Totals
from gateway.codec.xml_documents import NAMESPACE, load_schema
from gateway.outcome import Outcome
from gateway.validation.problems import problem

NS = {"m": NAMESPACE}
EASTERN_STANDARD = timezone(timedelta(hours=-5))


def accepted_declaration() -> Outcome:
    return Outcome(
        acknowledgement_id="gw1-000000000042",
        ref_message_id="BRK42-2026-000123",
        sender="BRK42",
        kind="declaration",
        reference="12345000001235/1",
        status="accepted",
        test=True,
        received_at=datetime(2026, 11, 23, 14, 5, 0, 750_000, tzinfo=EASTERN_STANDARD),
        respond_by=datetime(2026, 11, 25, 19, 5, tzinfo=UTC),
        problems=(problem("DEC004", "late", "/Declaration/ReleaseDate", 14),),
        assessment=Totals(Decimal("4.6"), Decimal("0"), Decimal("5.98"), Decimal("10.58")),
        balance=Decimal("-20"),
        payment_due=date(2026, 12, 1),
    )


def rendered(outcome: Outcome) -> etree._Element:
    document = render_acknowledgement(outcome)
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(document)


def texts(root: etree._Element) -> dict[str, str | None]:
    return {etree.QName(child).localname: child.text for child in root}


def test_accepted_declaration_is_valid_against_the_schema() -> None:
    """A full acknowledgement validates against schemas/messages.xsd."""
    root = rendered(accepted_declaration())
    schema = load_schema()
    assert schema.validate(root), schema.error_log


def test_elements_come_in_the_contract_order() -> None:
    """Elements appear in the order section 3 shows."""
    root = rendered(accepted_declaration())
    assert [etree.QName(child).localname for child in root] == [
        "AcknowledgementID", "RefMessageID", "Sender", "Kind", "Reference", "Status", "Test",
        "ReceivedAt", "RespondBy", "Problem", "Assessment", "Balance", "PaymentDue",
    ]
    assert etree.QName(root).namespace == NAMESPACE


def test_values_are_written_as_the_contract_says() -> None:
    """Times in UTC to the second with Z; amounts with two fraction digits; dates ISO."""
    root = rendered(accepted_declaration())
    values = texts(root)
    assert values["ReceivedAt"] == "2026-11-23T19:05:00Z"
    assert values["RespondBy"] == "2026-11-25T19:05:00Z"
    assert values["Test"] == "true"
    assert values["Balance"] == "-20.00"
    assert values["PaymentDue"] == "2026-12-01"
    assessment = root.find("m:Assessment", NS)
    assert assessment is not None
    assert texts(assessment) == {
        "Duty": "4.60", "ExciseTax": "0.00", "GST": "5.98", "Total": "10.58",
    }


def test_problem_carries_severity_code_path_and_line() -> None:
    """Each problem is a Problem element with its attributes and text."""
    element = rendered(accepted_declaration()).find("m:Problem", NS)
    assert element is not None
    assert {str(key): str(value) for key, value in element.attrib.items()} == {
        "severity": "warning", "code": "DEC004", "path": "/Declaration/ReleaseDate", "line": "14",
    }
    assert element.text == "late"


def test_unreadable_input_leaves_out_what_is_unknown() -> None:
    """No RefMessageID, Reference, Test, Assessment or Balance when they do not apply."""
    outcome = Outcome(
        acknowledgement_id="gw1-000000000043", ref_message_id=None, sender="BRK42",
        kind="unknown", reference=None, status="rejected", test=False,
        received_at=datetime(2026, 11, 23, 19, 5, tzinfo=UTC), respond_by=None,
        problems=(problem("XML001", "neither XML nor EDIFACT", line=1),),
    )
    root = rendered(outcome)
    assert [etree.QName(child).localname for child in root] == [
        "AcknowledgementID", "Sender", "Kind", "Status", "ReceivedAt", "Problem",
    ]
    assert texts(root)["Kind"] == "unknown"
    element = root.find("m:Problem", NS)
    assert element is not None
    assert "path" not in element.attrib
    assert load_schema().validate(root)


def test_received_appeal_carries_its_case_number() -> None:
    """Appeals and account requests are answered with their CaseNumber."""
    outcome = Outcome(
        acknowledgement_id="gw1-1", ref_message_id="BRK42-2026-000301", sender="BRK42",
        kind="appeal", reference="APL-2026-000017", status="received", test=False,
        received_at=datetime(2026, 11, 23, 19, 5, tzinfo=UTC),
        respond_by=datetime(2026, 12, 3, 19, 5, tzinfo=UTC), case_number="APL-2026-000017",
    )
    root = rendered(outcome)
    assert texts(root)["CaseNumber"] == "APL-2026-000017"
    assert root.find("m:Assessment", NS) is None
    assert load_schema().validate(root)


def test_characters_xml_cannot_carry_are_replaced() -> None:
    """Problem texts quote input: control characters become U+FFFD, the document stays XML."""
    outcome = replace(accepted_declaration(), problems=(problem("SCH001", "bad \x00\x1b ok"),))
    element = rendered(outcome).find("m:Problem", NS)
    assert element is not None
    assert element.text == "bad \ufffd\ufffd ok"
    assert xml_safe("tab\tnew\nline\u00e9\U0001f600") == "tab\tnew\nline\u00e9\U0001f600"


def test_utc_text_drops_fractions_and_converts() -> None:
    """utc_text: UTC, whole seconds, with Z."""
    moment = datetime(2026, 7, 1, 8, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=-4)))
    assert utc_text(moment) == "2026-07-01T12:00:00Z"
