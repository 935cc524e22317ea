"""Schema validation (SCH001) and decoding of parsed XML into the typed messages."""

import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

from lxml import etree

from gateway.codec.messages import (
    KIND_OF_ROOT,
    AccountRequest,
    Allocation,
    Appeal,
    Declaration,
    DeclarationLine,
    Header,
    Kind,
    Message,
    Payment,
    Totals,
)
from gateway.codec.xml_parser import source_line
from gateway.validation.problems import Problem, problem

NAMESPACE = "urn:carm-gateway:message:1"
SCHEMA_FILE = "messages.xsd"
REPEATING_ELEMENTS = frozenset({"Line", "Allocation", "Problem"})
"""Elements whose paths always carry a 1-based position, e.g. /Declaration/Line[2]/Value."""

_NS = "{" + NAMESPACE + "}"
T = TypeVar("T")


def schema_path() -> Path:
    """The installed schema, or the checkout's `schemas/` when running from source."""
    try:
        installed = resources.files("gateway.schemas").joinpath(SCHEMA_FILE)
        if installed.is_file():
            return Path(str(installed))
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_FILE


_SCHEMAS = threading.local()
_SCHEMA_BUILDING = threading.Lock()


def load_schema() -> etree.XMLSchema:
    """The compiled schema, one per thread (checks run on worker threads; building and
    validating with one lxml schema object from several threads at once is not safe)."""
    schema: etree.XMLSchema | None = getattr(_SCHEMAS, "schema", None)
    if schema is None:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        with _SCHEMA_BUILDING:
            schema = etree.XMLSchema(etree.parse(str(schema_path()), parser))
        _SCHEMAS.schema = schema
    return schema


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def element_path(element: etree._Element) -> str:
    """XPath of local names; repeating elements carry their 1-based position."""
    steps: list[str] = []
    current: etree._Element | None = element
    while current is not None:
        name = local_name(current)
        parent = current.getparent()
        if name in REPEATING_ELEMENTS and parent is not None:
            position = 1 + sum(
                1 for sibling in current.itersiblings(preceding=True) if sibling.tag == current.tag
            )
            name = f"{name}[{position}]"
        steps.append(name)
        current = parent
    return "/" + "/".join(reversed(steps))


def kind_of(root: etree._Element) -> Kind:
    if etree.QName(root).namespace != NAMESPACE:
        return "unknown"
    return KIND_OF_ROOT.get(local_name(root), "unknown")


def validate_schema(root: etree._Element) -> list[Problem]:
    """SCH001 for each schema violation, with our path and the input line."""
    if kind_of(root) == "unknown":
        text = f"root element {root.tag} is not a message of {NAMESPACE}"
        return [problem("SCH001", text, path="/" + local_name(root), line=source_line(root))]
    schema = load_schema()
    if schema.validate(root):
        return []
    problems = []
    tree = root.getroottree()
    for entry in cast(Iterable[etree._LogEntry], schema.error_log):
        found = tree.xpath(entry.path) if entry.path else []
        target = found[0] if isinstance(found, list) and found else None
        path = element_path(target) if isinstance(target, etree._Element) else None
        text = entry.message.replace(_NS, "")
        problems.append(problem("SCH001", text, path=path, line=entry.line or None))
    return problems


def source_lines(root: etree._Element) -> dict[str, int]:
    """Input line of every element, by path, for problems raised after decoding (one walk
    of the tree: the paths of element_path, built top down)."""
    lines: dict[str, int] = {}

    def walk(element: etree._Element, path: str) -> None:
        lines[path] = source_line(element) or 0
        positions: dict[str, int] = {}
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = child.tag.rpartition("}")[2]
            if name in REPEATING_ELEMENTS:
                positions[name] = positions.get(name, 0) + 1
                name = f"{name}[{positions[name]}]"
            walk(child, f"{path}/{name}")

    walk(root, "/" + local_name(root))
    return lines


class _Reader:
    """Typed access to the children of one schema-valid element."""

    def __init__(self, element: etree._Element) -> None:
        self.element = element

    def _child(self, name: str) -> etree._Element | None:
        return self.element.find(_NS + name)

    def text(self, name: str) -> str:
        child = self._child(name)
        if child is None:
            raise KeyError(name)
        return (child.text or "").strip()

    def optional(self, name: str, convert: Callable[[str], T]) -> T | None:
        child = self._child(name)
        return None if child is None else convert((child.text or "").strip())

    def many(self, name: str) -> list["_Reader"]:
        return [_Reader(child) for child in self.element.findall(_NS + name)]

    def attribute(self, name: str) -> str:
        return str(self.element.get(name, ""))


DEFAULT_GST_RATE = Decimal(5)


def _default(value: Decimal | None, default: Decimal) -> Decimal:
    """The value when given (0 included), else the default."""
    return default if value is None else value


def _boolean(text: str) -> bool:
    return text in ("true", "1")


def _header(reader: _Reader) -> Header:
    header = reader.many("Header")[0]
    return Header(
        message_id=header.text("MessageID"),
        sender=header.text("Sender"),
        sent_at=datetime.fromisoformat(header.text("SentAt").replace("Z", "+00:00")),
        test=bool(header.optional("Test", _boolean)),
    )


def _line(reader: _Reader) -> DeclarationLine:
    quantity = reader.many("Quantity")[0]
    return DeclarationLine(
        number=int(reader.text("Number")),
        hs_code=reader.text("HSCode"),
        description=reader.text("Description"),
        country_of_origin=reader.text("CountryOfOrigin"),
        tariff_treatment=reader.text("TariffTreatment"),
        quantity=Decimal(reader.text("Quantity")),
        unit=quantity.attribute("unit"),
        value=Decimal(reader.text("Value")),
        duty_rate=Decimal(reader.text("DutyRate")),
        excise_tax=_default(reader.optional("ExciseTax", Decimal), Decimal(0)),
        gst_rate=_default(reader.optional("GSTRate", Decimal), DEFAULT_GST_RATE),
        reason_code=reader.optional("ReasonCode", str),
    )


def _totals(reader: _Reader) -> Totals:
    return Totals(
        duty=Decimal(reader.text("Duty")),
        excise_tax=Decimal(reader.text("ExciseTax")),
        gst=Decimal(reader.text("GST")),
        total=Decimal(reader.text("Total")),
    )


def _declaration(reader: _Reader, lines: dict[str, int]) -> Declaration:
    totals = reader.many("DeclaredTotals")
    purpose: Any = reader.text("Purpose")
    return Declaration(
        header=_header(reader),
        transaction_number=reader.text("TransactionNumber"),
        version=int(reader.text("Version")),
        purpose=purpose,
        importer_account=reader.text("ImporterAccount"),
        release_date=date.fromisoformat(reader.text("ReleaseDate")),
        currency=reader.text("Currency"),
        exchange_rate=Decimal(reader.text("ExchangeRate")),
        lines=tuple(_line(line) for line in reader.many("Line")),
        declared_totals=_totals(totals[0]) if totals else None,
        source_lines=lines,
    )


def _payment(reader: _Reader, lines: dict[str, int]) -> Payment:
    return Payment(
        header=_header(reader),
        payment_reference=reader.text("PaymentReference"),
        importer_account=reader.text("ImporterAccount"),
        amount=Decimal(reader.text("Amount")),
        method=reader.text("Method"),
        received_on=date.fromisoformat(reader.text("ReceivedOn")),
        allocations=tuple(
            Allocation(item.text("TransactionNumber"), Decimal(item.text("Amount")))
            for item in reader.many("Allocation")
        ),
        source_lines=lines,
    )


def _appeal(reader: _Reader, lines: dict[str, int]) -> Appeal:
    appeal_type: Any = reader.text("Type")
    return Appeal(
        header=_header(reader),
        type=appeal_type,
        importer_account=reader.text("ImporterAccount"),
        transaction_number=reader.optional("TransactionNumber", str),
        penalty_number=reader.optional("PenaltyNumber", str),
        decision_date=date.fromisoformat(reader.text("DecisionDate")),
        disputed_amount=reader.optional("DisputedAmount", Decimal),
        grounds=reader.text("Grounds"),
        source_lines=lines,
    )


def _account_request(reader: _Reader, lines: dict[str, int]) -> AccountRequest:
    request_type: Any = reader.text("Type")
    return AccountRequest(
        header=_header(reader),
        type=request_type,
        importer_account=reader.text("ImporterAccount"),
        amount=reader.optional("Amount", Decimal),
        details=reader.text("Details"),
        source_lines=lines,
    )


_DECODERS: dict[Kind, Callable[[_Reader, dict[str, int]], Message]] = {
    "declaration": _declaration,
    "payment": _payment,
    "appeal": _appeal,
    "account-request": _account_request,
}


def decode(root: etree._Element) -> Message:
    """The typed message of a schema-valid document."""
    return _DECODERS[kind_of(root)](_Reader(root), source_lines(root))
