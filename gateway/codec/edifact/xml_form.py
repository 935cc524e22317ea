"""`carm-gateway convert`: the XML form of section 2 for a mapped EDIFACT message, and the
EDIFACT form of a decoded XML message."""

from datetime import date
from decimal import Decimal

from lxml import etree

from gateway.codec.edifact._writer import Envelope, OutgoingMessage, Party, write_interchange
from gateway.codec.edifact.cusdec import write_declaration
from gateway.codec.edifact.remadv import write_payment
from gateway.codec.messages import Declaration, Header, Message, Payment
from gateway.codec.xml_documents import NAMESPACE

GATEWAY_PARTY = "CARMGW"
"""The UNB recipient of an interchange written for the gateway."""
DIRECTORIES = {"D96B": ("D", "96B"), "D21A": ("D", "21A")}

_NS = "{" + NAMESPACE + "}"


def _add(parent: etree._Element, name: str, value: str | Decimal | date | int) -> etree._Element:
    child = etree.SubElement(parent, _NS + name)
    if isinstance(value, Decimal):
        child.text = f"{value:f}"
    elif isinstance(value, date):
        child.text = value.isoformat()
    else:
        child.text = str(value)
    return child


def _header(root: etree._Element, header: Header) -> None:
    element = etree.SubElement(root, _NS + "Header")
    _add(element, "MessageID", header.message_id)
    _add(element, "Sender", header.sender)
    _add(element, "SentAt", header.sent_at.isoformat())
    if header.test:
        _add(element, "Test", "true")


def _declaration(root: etree._Element, declaration: Declaration) -> None:
    for name, value in (("TransactionNumber", declaration.transaction_number),
                        ("Version", declaration.version), ("Purpose", declaration.purpose),
                        ("ImporterAccount", declaration.importer_account),
                        ("ReleaseDate", declaration.release_date),
                        ("Currency", declaration.currency),
                        ("ExchangeRate", declaration.exchange_rate)):
        _add(root, name, value)
    for line in declaration.lines:
        element = etree.SubElement(root, _NS + "Line")
        for name, value in (("Number", line.number), ("HSCode", line.hs_code),
                            ("Description", line.description),
                            ("CountryOfOrigin", line.country_of_origin),
                            ("TariffTreatment", line.tariff_treatment)):
            _add(element, name, value)
        _add(element, "Quantity", line.quantity).set("unit", line.unit)
        for name, number in (("Value", line.value), ("DutyRate", line.duty_rate),
                             ("ExciseTax", line.excise_tax), ("GSTRate", line.gst_rate)):
            _add(element, name, number)
        if line.reason_code is not None:
            _add(element, "ReasonCode", line.reason_code)
    totals = declaration.declared_totals
    if totals is not None:
        element = etree.SubElement(root, _NS + "DeclaredTotals")
        for name, number in (("Duty", totals.duty), ("ExciseTax", totals.excise_tax),
                             ("GST", totals.gst), ("Total", totals.total)):
            _add(element, name, number)


def _payment(root: etree._Element, payment: Payment) -> None:
    for name, value in (("PaymentReference", payment.payment_reference),
                        ("ImporterAccount", payment.importer_account),
                        ("Amount", payment.amount), ("Method", payment.method),
                        ("ReceivedOn", payment.received_on)):
        _add(root, name, value)
    for allocation in payment.allocations:
        element = etree.SubElement(root, _NS + "Allocation")
        _add(element, "TransactionNumber", allocation.transaction_number)
        _add(element, "Amount", allocation.amount)


def to_xml(message: Declaration | Payment) -> bytes:
    """The XML document of section 2 (valid against schemas/messages.xsd) for the message."""
    name = "Declaration" if isinstance(message, Declaration) else "Payment"
    root = etree.Element(_NS + name, nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    _header(root, message.header)
    if isinstance(message, Declaration):
        _declaration(root, message)
    else:
        _payment(root, message)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def from_xml_to_edifact(message: Message, *, syntax_version: int = 4, directory: str = "D21A",
                        reference: str, syntax_identifier: str = "UNOC",
                        recipient: str = GATEWAY_PARTY) -> bytes:
    """The EDIFACT interchange (CUSDEC or REMADV) for a Declaration or Payment.

    UNB: the Header's Sender to `recipient`, SentAt in Eastern time, interchange control
    reference `reference` (so the message reads back with MessageID `{reference}/1`), test
    indicator from the Header. Raises ValueError for an Appeal or AccountRequest (no EDIFACT
    form) and for an unknown directory or syntax version."""
    if directory not in DIRECTORIES or syntax_version not in (3, 4):
        raise ValueError(f"directory {directory} and syntax version {syntax_version}: use "
                         "D96B or D21A and 3 or 4")
    if isinstance(message, Declaration):
        message_type, body = "CUSDEC", write_declaration(message)
    elif isinstance(message, Payment):
        message_type, body = "REMADV", write_payment(message)
    else:
        raise ValueError(f"a {message.kind} has no EDIFACT form: only declarations (CUSDEC) "
                         "and payments (REMADV)")
    version, release = DIRECTORIES[directory]
    envelope = Envelope(
        syntax_identifier=syntax_identifier, syntax_version=syntax_version,
        sender=Party(message.header.sender), recipient=Party(recipient),
        prepared=message.header.sent_at, reference=reference, test=message.header.test,
    )
    return write_interchange(envelope, [OutgoingMessage(
        "1", (message_type, version, release, "UN"), body)])
