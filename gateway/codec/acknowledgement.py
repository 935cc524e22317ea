"""The XML Acknowledgement of CONTRACT section 3."""

import re
from datetime import UTC, datetime

from lxml import etree

from gateway.codec.xml_documents import NAMESPACE
from gateway.money import format_amount
from gateway.outcome import Outcome

_NS = "{" + NAMESPACE + "}"


def utc_text(moment: datetime) -> str:
    """UTC, whole seconds, with a Z."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


_NOT_XML_CHARACTERS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Text with the characters XML cannot carry replaced (problem texts quote input)."""
    return _NOT_XML_CHARACTERS.sub("\ufffd", text)


def _add(parent: etree._Element, name: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, _NS + name)
    child.text = xml_safe(text)
    return child


def render_acknowledgement(outcome: Outcome) -> bytes:
    root = etree.Element(_NS + "Acknowledgement", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    _add(root, "AcknowledgementID", outcome.acknowledgement_id)
    if outcome.ref_message_id:
        _add(root, "RefMessageID", outcome.ref_message_id)
    if outcome.sender:
        _add(root, "Sender", outcome.sender)
    _add(root, "Kind", outcome.kind)
    if outcome.reference:
        _add(root, "Reference", outcome.reference)
    _add(root, "Status", outcome.status)
    if outcome.test:
        _add(root, "Test", "true")
    _add(root, "ReceivedAt", utc_text(outcome.received_at))
    if outcome.respond_by:
        _add(root, "RespondBy", utc_text(outcome.respond_by))
    for item in outcome.problems:
        element = _add(root, "Problem", item.text)
        element.set("severity", item.severity)
        element.set("code", item.code)
        if item.path:
            element.set("path", item.path)
        if item.line:
            element.set("line", str(item.line))
    if outcome.assessment is not None:
        assessment = etree.SubElement(root, _NS + "Assessment")
        _add(assessment, "Duty", format_amount(outcome.assessment.duty))
        _add(assessment, "ExciseTax", format_amount(outcome.assessment.excise_tax))
        _add(assessment, "GST", format_amount(outcome.assessment.gst))
        _add(assessment, "Total", format_amount(outcome.assessment.total))
    if outcome.balance is not None:
        _add(root, "Balance", format_amount(outcome.balance))
    if outcome.payment_due is not None:
        _add(root, "PaymentDue", outcome.payment_due.isoformat())
    if outcome.case_number:
        _add(root, "CaseNumber", outcome.case_number)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
