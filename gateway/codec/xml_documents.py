"""Schema validation (SCH001) and decoding of parsed XML into the typed messages."""

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, cast

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
SCHEMA_PROBLEMS_MAX = 100
"""SCH001 problems listed, then one saying how many more: an answer must stay deliverable
(a 1 MB document can hold 100,000 violations), as EDIFACT's problems are capped."""
REPEATING_ELEMENTS = frozenset({"Line", "Allocation", "Problem"})
"""Elements whose paths always carry a 1-based position, e.g. /Declaration/Line[2]/Value."""

_NS = "{" + NAMESPACE + "}"


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


_KIND_OF_TAG: dict[object, Kind] = {_NS + name: kind for name, kind in KIND_OF_ROOT.items()}


def kind_of(root: etree._Element) -> Kind:
    return _KIND_OF_TAG.get(root.tag, "unknown")


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
    entries = list(cast(Iterable[etree._LogEntry], schema.error_log))
    for entry in entries[:SCHEMA_PROBLEMS_MAX]:
        target = _element_at(tree, entry.path)
        path = element_path(target) if target is not None else None
        text = entry.message.replace(_NS, "")
        problems.append(problem("SCH001", text, path=path, line=entry.line or None))
    if len(entries) > SCHEMA_PROBLEMS_MAX:
        more = len(entries) - SCHEMA_PROBLEMS_MAX
        problems.append(problem("SCH001", f"{more} more schema problems not listed"))
    return problems


def _element_at(tree: etree._ElementTree, path: str | None) -> etree._Element | None:
    """The element libxml2's error path names; None when there is no path or it cannot be
    evaluated (an element of a foreign namespace shows in it with an undeclared prefix)."""
    if not path:
        return None
    try:
        found = tree.xpath(path)
    except etree.XPathError:
        return None
    target = found[0] if isinstance(found, list) and found else None
    return target if isinstance(target, etree._Element) else None


def source_lines(root: etree._Element) -> dict[str, int]:
    """Input line of every element, by path, for problems raised after decoding (one walk
    of the tree: the paths of element_path, built top down)."""
    lines: dict[str, int] = {}

    def walk(element: etree._Element, path: str) -> None:
        lines[path] = source_line(element) or 0
        positions: dict[str, int] = {}
        for child in element.iterchildren(etree.Element):
            name = child.tag.rpartition("}")[2]
            if name in REPEATING_ELEMENTS:
                positions[name] = positions.get(name, 0) + 1
                name = f"{name}[{positions[name]}]"
            walk(child, f"{path}/{name}")

    walk(root, "/" + local_name(root))
    return lines


class SourceLines(Mapping[str, int]):
    """`source_lines(root)`, built on first use: only a problem found after decoding needs a
    line number, so valid messages never pay for the walk."""

    def __init__(self, root: etree._Element) -> None:
        self._root: etree._Element | None = root
        self._lines: dict[str, int] = {}

    def _built(self) -> dict[str, int]:
        if self._root is not None:
            self._lines = source_lines(self._root)
            self._root = None
        return self._lines

    def __getitem__(self, path: str) -> int:
        return self._built()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


_NS_LENGTH = len(_NS)
_DECLARED_TOTALS = _NS + "DeclaredTotals"


def _texts(element: etree._Element) -> dict[str, str]:
    """The text of each child element by local name (schema-valid and parsed without comments
    or processing instructions: every child is an element of our namespace; of repeated
    children the last, which the decoders read with `_each` instead).

    Texts are as written: the schema allows no surrounding whitespace in its identifiers and
    codes, and `Decimal` and `int` accept the whitespace the number types collapse, so only
    dates, times, booleans and free texts (Description, Grounds, Details) are stripped, by
    their readers."""
    return {child.tag[_NS_LENGTH:]: child.text or "" for child in element}


def _each(element: etree._Element, name: str) -> Iterator[etree._Element]:
    return element.iterchildren(_NS + name)


def _decimal(texts: dict[str, str], name: str) -> Decimal | None:
    text = texts.get(name)
    return None if text is None else Decimal(text)


def _date(text: str) -> date:
    return date.fromisoformat(text.strip())


DEFAULT_GST_RATE = Decimal(5)
_ZERO = Decimal(0)


def _boolean(text: str) -> bool:
    return text.strip() in ("true", "1")


def _header(root: etree._Element) -> Header:
    """HeaderType is a sequence, the first child of every message: three required children
    in schema order, then the optional Test."""
    message_id, sender, sent_at, *test = root[0]
    return Header(
        message_id=message_id.text or "",
        sender=sender.text or "",
        sent_at=datetime.fromisoformat((sent_at.text or "").strip().replace("Z", "+00:00")),
        test=bool(test) and _boolean(test[0].text or ""),
    )


def _line(element: etree._Element) -> DeclarationLine:
    """LineType is a sequence: the eight required children come first, in schema order, and
    the optional ones after them, in theirs."""
    (number, hs_code, description, country_of_origin, tariff_treatment, quantity, value,
     duty_rate, *optional) = element
    excise_tax = _ZERO
    gst_rate = DEFAULT_GST_RATE
    reason_code = None
    for child in optional:
        name = child.tag[_NS_LENGTH:]
        if name == "ExciseTax":
            excise_tax = Decimal(child.text or "")
        elif name == "GSTRate":
            gst_rate = Decimal(child.text or "")
        else:
            reason_code = child.text or ""
    return DeclarationLine(
        int(number.text or ""),
        hs_code.text or "",
        (description.text or "").strip(),
        country_of_origin.text or "",
        tariff_treatment.text or "",
        Decimal(quantity.text or ""),
        quantity.get("unit", ""),
        Decimal(value.text or ""),
        Decimal(duty_rate.text or ""),
        excise_tax,
        gst_rate,
        reason_code,
    )


def _totals(element: etree._Element) -> Totals:
    duty, excise_tax, gst, total = element
    return Totals(
        duty=Decimal(duty.text or ""),
        excise_tax=Decimal(excise_tax.text or ""),
        gst=Decimal(gst.text or ""),
        total=Decimal(total.text or ""),
    )


def _declaration(root: etree._Element) -> Declaration:
    """DeclarationType is a sequence of required children, then the lines, then the optional
    DeclaredTotals: one pass over the children, by position, with no names to compare but
    the last child's."""
    (_, transaction_number, version, purpose, importer_account, release_date, currency,
     exchange_rate, *lines) = root
    totals = lines.pop() if lines[-1].tag == _DECLARED_TOTALS else None
    purpose_text: Any = purpose.text
    return Declaration(
        header=_header(root),
        transaction_number=transaction_number.text or "",
        version=int(version.text or ""),
        purpose=purpose_text,
        importer_account=importer_account.text or "",
        release_date=_date(release_date.text or ""),
        currency=currency.text or "",
        exchange_rate=Decimal(exchange_rate.text or ""),
        lines=tuple(map(_line, lines)),
        declared_totals=None if totals is None else _totals(totals),
        source_lines=SourceLines(root),
    )


def _payment(root: etree._Element) -> Payment:
    texts = _texts(root)
    allocations = []
    for allocation in _each(root, "Allocation"):
        fields = _texts(allocation)
        allocations.append(Allocation(fields["TransactionNumber"], Decimal(fields["Amount"])))
    return Payment(
        header=_header(root),
        payment_reference=texts["PaymentReference"],
        importer_account=texts["ImporterAccount"],
        amount=Decimal(texts["Amount"]),
        method=texts["Method"],
        received_on=_date(texts["ReceivedOn"]),
        allocations=tuple(allocations),
        source_lines=SourceLines(root),
    )


def _appeal(root: etree._Element) -> Appeal:
    texts = _texts(root)
    appeal_type: Any = texts["Type"]
    return Appeal(
        header=_header(root),
        type=appeal_type,
        importer_account=texts["ImporterAccount"],
        transaction_number=texts.get("TransactionNumber"),
        penalty_number=texts.get("PenaltyNumber"),
        decision_date=_date(texts["DecisionDate"]),
        disputed_amount=_decimal(texts, "DisputedAmount"),
        grounds=texts["Grounds"].strip(),
        source_lines=SourceLines(root),
    )


def _account_request(root: etree._Element) -> AccountRequest:
    texts = _texts(root)
    request_type: Any = texts["Type"]
    return AccountRequest(
        header=_header(root),
        type=request_type,
        importer_account=texts["ImporterAccount"],
        amount=_decimal(texts, "Amount"),
        details=texts["Details"].strip(),
        source_lines=SourceLines(root),
    )


_DECODERS: dict[Kind, Callable[[etree._Element], Message]] = {
    "declaration": _declaration,
    "payment": _payment,
    "appeal": _appeal,
    "account-request": _account_request,
}


def decode(root: etree._Element) -> Message:
    """The typed message of a schema-valid document."""
    return _DECODERS[kind_of(root)](root)
