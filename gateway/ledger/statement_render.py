"""A statement of account as text, XML (schemas/statement.xsd), HTML and PDF."""

from decimal import Decimal
from html import escape

from lxml import etree

from gateway.ledger.statements import Statement
from gateway.money import format_amount
from gateway.pdf import text_pdf

STATEMENT_NAMESPACE = "urn:carm-gateway:statement:1"
ENTRY_NAMES = {
    "assessment": "Assessment", "correction": "Correction", "adjustment": "Adjustment",
    "payment": "Payment", "offset": "Offset of credit", "credit-transfer": "Credit from",
    "interest": "Interest on", "appeal-credit": "Appeal allowed", "refund": "Refund",
}
REFERENCE_WIDTH = 26
APPLIED_WIDTH = 44
OWING_WIDTH = 55
"""Text columns, in characters; a longer reference or item goes on into the next lines."""


def _applied(item: str) -> str:
    return "kept as a credit" if item == "credit" else f"applied to {item}"


def _entry_name(entry_type: str) -> str:
    return ENTRY_NAMES.get(entry_type, entry_type)


def _money(amount: object) -> str:
    return format_amount(amount)  # type: ignore[arg-type]


def _wrapped(text: str, width: int) -> list[str]:
    """`text` in pieces of at most `width` characters, each but the last broken after a colon
    where there is one (items read `interest:{transaction}:{period}`), so a long reference is
    continued on the next line, never cut."""
    pieces = []
    while len(text) > width:
        cut = text.rfind(":", 0, width) + 1 or width
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


def summary_lines(statement: Statement) -> list[tuple[str, str, Decimal]]:
    """The summary in every format: (XML element, label, amount); opening + charges + interest
    - payments - credits + refunds = closing."""
    summary = statement.summary
    return [
        ("Charges", "Charges (assessments, corrections, adjustments)", summary.charges),
        ("Interest", "Interest charged", summary.interest),
        ("Payments", "Payments received", summary.payments),
        ("Credits", "Credits (lower assessments, appeals allowed)", summary.credits),
        ("Refunds", "Refunds of credit paid out", summary.refunds),
    ]


def as_text(statement: Statement) -> str:
    period = statement.period
    state = (f"issued {statement.issued_at:%Y-%m-%d}" if statement.issued_at
             else "preview, not issued yet")
    lines = [
        f"STATEMENT OF ACCOUNT {statement.importer_account}",
        f"Billing period {period.name}: {period.start} to {period.end} ({state})",
        f"Statement date {statement.statement_date}    Payment due {statement.due_date}",
        "",
        f"{'Opening balance':<58}{_money(statement.opening):>16}",
        "",
        f"{'Date':<11}{'Entry':<20}{'Reference':<27}{'Amount':>16}",
    ]
    for line in statement.lines:
        name = ENTRY_NAMES.get(line.entry_type, line.entry_type)
        first, *rest = _wrapped(line.reference, REFERENCE_WIDTH)
        lines.append(f"{line.posted_on!s:<11}{name:<20}{first:<27}{_money(line.amount):>16}")
        lines += [f"{'':<31}{piece}" for piece in rest]
        for item, amount in line.allocations:
            first, *rest = _wrapped(_applied(item), APPLIED_WIDTH)
            lines.append(f"{'':<13}{first:<45}{_money(amount):>16}")
            lines += [f"{'':<15}{piece}" for piece in rest]
    lines.append("")
    lines += [f"{label:<58}{_money(amount):>16}" for _, label, amount in summary_lines(statement)]
    lines += [
        f"{'Closing balance (negative: a credit)':<58}{_money(statement.closing):>16}",
        "",
        "Owing by transaction:",
    ]
    for item, amount in statement.owing_by_item:
        first, *rest = _wrapped(item, OWING_WIDTH)
        lines.append(f"  {first:<56}{_money(amount):>16}")
        lines += [f"{'':<4}{piece}" for piece in rest]
    security = statement.security
    if security is not None:
        lines += [
            "",
            "Release-prior-to-payment security:",
            f"  {'highest amount owing, last 12 statements':<56}"
            f"{_money(security.highest_owing):>16}",
            f"  {'required (' + security.security_type + ')':<56}{_money(security.required):>16}",
            f"  {'registered':<56}{_money(security.registered):>16}",
            "  SHORT: the registered security is below what is required" if security.short
            else "  sufficient",
        ]
    return "\n".join(lines) + "\n"


def _add(parent: etree._Element, name: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, "{" + STATEMENT_NAMESPACE + "}" + name)
    child.text = text
    return child


def as_xml(statement: Statement) -> bytes:
    root = etree.Element("{" + STATEMENT_NAMESPACE + "}Statement",
                         nsmap={None: STATEMENT_NAMESPACE})  # type: ignore[dict-item]
    _add(root, "ImporterAccount", statement.importer_account)
    _add(root, "Period", statement.period.name)
    _add(root, "PeriodStart", statement.period.start.isoformat())
    _add(root, "PeriodEnd", statement.period.end.isoformat())
    _add(root, "StatementDate", statement.statement_date.isoformat())
    _add(root, "PaymentDue", statement.due_date.isoformat())
    _add(root, "Issued", "true" if statement.issued_at else "false")
    _add(root, "OpeningBalance", _money(statement.opening))
    for line in statement.lines:
        entry = etree.SubElement(root, "{" + STATEMENT_NAMESPACE + "}Entry")
        _add(entry, "Date", line.posted_on.isoformat())
        _add(entry, "Type", line.entry_type)
        _add(entry, "Reference", line.reference)
        _add(entry, "Amount", _money(line.amount))
        for item, amount in line.allocations:
            applied = etree.SubElement(entry, "{" + STATEMENT_NAMESPACE + "}AppliedTo")
            _add(applied, "Item", item)
            _add(applied, "Amount", _money(amount))
    for element, _, amount in summary_lines(statement):
        _add(root, element, _money(amount))
    _add(root, "ClosingBalance", _money(statement.closing))
    for item, amount in statement.owing_by_item:
        owing = etree.SubElement(root, "{" + STATEMENT_NAMESPACE + "}Owing")
        _add(owing, "Item", item)
        _add(owing, "Amount", _money(amount))
    if statement.security is not None:
        security = etree.SubElement(root, "{" + STATEMENT_NAMESPACE + "}Security")
        _add(security, "Type", statement.security.security_type)
        _add(security, "HighestOwing", _money(statement.security.highest_owing))
        _add(security, "Required", _money(statement.security.required))
        _add(security, "Registered", _money(statement.security.registered))
        _add(security, "Short", "true" if statement.security.short else "false")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def as_html(statement: Statement) -> str:
    rows = "".join(
        f"<tr><td>{line.posted_on}</td><td>{escape(_entry_name(line.entry_type))}</td>"
        f"<td>{escape(line.reference)}</td><td class=n>{_money(line.amount)}</td></tr>"
        + "".join(f"<tr class=sub><td></td><td colspan=2>{escape(_applied(item))}</td>"
                  f"<td class=n>{_money(amount)}</td></tr>" for item, amount in line.allocations)
        for line in statement.lines
    )
    owing = "".join(f"<tr><td>{escape(item)}</td><td class=n>{_money(amount)}</td></tr>"
                    for item, amount in statement.owing_by_item)
    security = ""
    if statement.security is not None:
        check = statement.security
        flag = "<b class=short>SHORT</b>" if check.short else "sufficient"
        security = (f"<h2>Release-prior-to-payment security</h2><table>"
                    f"<tr><td>Highest amount owing, last 12 statements</td><td class=n>"
                    f"{_money(check.highest_owing)}</td></tr>"
                    f"<tr><td>Required ({check.security_type})</td>"
                    f"<td class=n>{_money(check.required)}</td></tr><tr><td>Registered</td>"
                    f"<td class=n>{_money(check.registered)}</td></tr><tr><td>Status</td>"
                    f"<td>{flag}</td></tr></table>")
    summary = "".join(f"<tr><td>{escape(label)}</td><td class=n>{_money(amount)}</td></tr>"
                      for _, label, amount in summary_lines(statement))
    period = statement.period
    issued = (f"issued {statement.issued_at:%Y-%m-%d}" if statement.issued_at
              else "preview, not issued yet")
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f"<title>Statement {escape(statement.importer_account)} {period.name}</title>"
        "<style>body{font-family:sans-serif}td.n{text-align:right;font-family:monospace}"
        "tr.sub td{color:#555;font-size:90%}.short{color:#c00}</style></head><body>"
        f"<h1>Statement of account {escape(statement.importer_account)}</h1>"
        f"<p>Billing period {period.name}: {period.start} to {period.end} ({issued}).<br>"
        f"Statement date {statement.statement_date}. <b>Payment due {statement.due_date}</b>.</p>"
        f"<table><tr><td>Opening balance</td><td class=n>{_money(statement.opening)}</td></tr>"
        "</table><table><tr><th>Date</th><th>Entry</th><th>Reference</th><th>Amount</th></tr>"
        f"{rows}</table><table>{summary}"
        f"<tr><td><b>Closing balance</b></td><td class=n><b>{_money(statement.closing)}</b></td>"
        f"</tr></table><h2>Owing by transaction</h2><table>{owing}</table>{security}"
        "</body></html>\n"
    )


def as_pdf(statement: Statement) -> bytes:
    title = f"Statement {statement.importer_account} {statement.period.name}"
    return text_pdf(as_text(statement).splitlines(), title)
