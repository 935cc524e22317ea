"""Email acknowledgements (CONTRACT section 7): subject, plain text body, Message-ID.

Every header is built from checked values only: registry addresses, configured addresses, and
references that passed the schema or were made by the gateway. The Subject carries the
reference as the sender wrote it (any character but a control character or a line break),
encoded as RFC 2047 asks where it is not printable ASCII.
"""

import binascii
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from zoneinfo import ZoneInfo

from gateway.codec.acknowledgement import utc_text
from gateway.money import format_amount
from gateway.outcome import Outcome
from gateway.validation.problems import CODES

_SAFE_HEADER_TEXT = re.compile(r"[A-Za-z0-9._:/@ -]{0,120}")
_PLAIN_HEADER_TEXT = re.compile(r"[\x20-\x7e]*")
SUBJECT_REFERENCE_CHARACTERS_MAX = 120
_LINE_BREAKING_CATEGORIES = ("Cc", "Zl", "Zp")
"""Control characters (C0, DEL, C1: CR, LF and NEL among them) and the line and paragraph
separators: what could end a header line and start another."""


def header_message_id(cluster: str, sender: str, message_key: str, outcome_identity: str,
                      recipient: str, domain: str) -> str:
    """The same inputs give the same Message-ID on every attempt, by any instance."""
    digest = hashlib.sha256(
        "\x1f".join((cluster, sender, message_key, outcome_identity, recipient)).encode()
    ).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def _checked(text: str | None) -> str:
    """A value safe to put in a header as it is (a token of the gateway's making); anything
    else is left out."""
    if text and _SAFE_HEADER_TEXT.fullmatch(text):
        return text
    return ""


def _subject_reference(text: str | None) -> str:
    """A reference for the Subject: any text without a control character or a line break (the
    schema allows any non-blank character: `INV#1234`, `Chq 00123 (Nov)`, `Réf 12`); anything
    else is left out."""
    if not text or len(text) > SUBJECT_REFERENCE_CHARACTERS_MAX or any(
            unicodedata.category(character) in _LINE_BREAKING_CATEGORIES for character in text):
        return ""
    return text


def subject(outcome: Outcome) -> str:
    reference = _subject_reference(outcome.case_number or outcome.reference)
    words = f"[CARM] {outcome.status.capitalize()}: {outcome.kind}"
    return f"{words} {reference}".rstrip()


def _subject_field(text: str) -> str:
    """The Subject header field, line break included. Printable ASCII goes as it is; any other
    text (or one a mail reader would take for RFC 2047 encoded words, `=?...?=`) goes as
    UTF-8 encoded words, folded, by the email package. Not by its default policy's folder:
    that one drops the space between two encoded words where it folds (`é ¡` reads `é¡`)."""
    if _PLAIN_HEADER_TEXT.fullmatch(text) and "=?" not in text:
        return f"Subject: {text}\n"
    encoded = Header(text, "utf-8", header_name="Subject").encode(linesep="\n")
    return f"Subject: {encoded}\n"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%A %Y-%m-%d %H:%M:%S} {local.tzname()} ({utc_text(moment)})"


def body(outcome: Outcome, zone: ZoneInfo) -> str:
    lines = [
        f"Your {outcome.kind} message was {outcome.status}.",
        "",
        f"Acknowledgement:  {outcome.acknowledgement_id}",
        f"Your message:     {outcome.ref_message_id or '(no MessageID could be read)'}",
        f"Sender:           {outcome.sender}",
        f"Reference:        {outcome.reference or '-'}",
        f"Status:           {outcome.status}",
        f"Received:         {_local(outcome.received_at, zone)}",
    ]
    if outcome.respond_by is not None:
        lines.append(f"Respond by:       {_local(outcome.respond_by, zone)}")
    if outcome.test:
        lines.append("Test message:     yes, nothing was posted")
    if outcome.case_number:
        lines.append(f"Case number:      {outcome.case_number}")
    if outcome.assessment is not None:
        lines += [
            "",
            "Assessment (CAD):",
            f"  Duty        {format_amount(outcome.assessment.duty):>14}",
            f"  Excise tax  {format_amount(outcome.assessment.excise_tax):>14}",
            f"  GST         {format_amount(outcome.assessment.gst):>14}",
            f"  Total       {format_amount(outcome.assessment.total):>14}",
        ]
    if outcome.balance is not None:
        lines.append(f"Account balance:  {format_amount(outcome.balance)} (negative: a credit)")
    if outcome.payment_due is not None:
        lines.append(f"Payment due:      {outcome.payment_due.isoformat()}")
    if outcome.problems:
        lines += ["", "Problems:"]
        for item in outcome.problems:
            where = f" at {item.path}" if item.path else ""
            where += f" (line {item.line})" if item.line else ""
            lines.append(f"- {item.severity} {item.code}{where}: {item.text}")
            info = CODES.get(item.code)
            if info is not None:
                lines.append(f"  How to fix: {info.fix}")
    lines += ["", "This message was sent by the CARM message gateway. Times are Eastern time."]
    return "\n".join(lines) + "\n"


def html_body(outcome: Outcome, zone: ZoneInfo) -> str:
    """The same facts as the plain text, as a small HTML page (every value escaped)."""
    rows = [
        ("Acknowledgement", outcome.acknowledgement_id),
        ("Your message", outcome.ref_message_id or "(no MessageID could be read)"),
        ("Sender", outcome.sender),
        ("Reference", outcome.reference or "-"),
        ("Status", outcome.status),
        ("Received", _local(outcome.received_at, zone)),
    ]
    if outcome.respond_by is not None:
        rows.append(("Respond by", _local(outcome.respond_by, zone)))
    if outcome.case_number:
        rows.append(("Case number", outcome.case_number))
    if outcome.assessment is not None:
        rows += [
            ("Duty", format_amount(outcome.assessment.duty)),
            ("Excise tax", format_amount(outcome.assessment.excise_tax)),
            ("GST", format_amount(outcome.assessment.gst)),
            ("Total", format_amount(outcome.assessment.total)),
        ]
    if outcome.balance is not None:
        rows.append(("Account balance", format_amount(outcome.balance)))
    if outcome.payment_due is not None:
        rows.append(("Payment due", outcome.payment_due.isoformat()))
    cells = "".join(f"<tr><th align=\"left\">{escape(name)}</th><td>{escape(value)}</td></tr>"
                    for name, value in rows)
    problems = "".join(
        f"<li><b>{escape(item.severity)} {escape(item.code)}</b>"
        f"{escape(' at ' + item.path) if item.path else ''}: {escape(item.text)}"
        f"<br>How to fix: {escape(CODES[item.code].fix) if item.code in CODES else ''}</li>"
        for item in outcome.problems
    )
    listing = f"<h3>Problems</h3><ul>{problems}</ul>" if problems else ""
    return (f"<html><body><h2>{escape(subject(outcome))}</h2><table>{cells}</table>{listing}"
            "<p>Times are Eastern time.</p></body></html>\n")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def plain_email(*, sender_address: str, recipient: str, subject: str, text: str,
                message_id: str, now: datetime, attachment: Attachment | None = None) -> bytes:
    """An email of the gateway's own making (alerts, case steps, statements): every header
    from checked values."""
    message = EmailMessage()
    message["From"] = sender_address
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message.set_content(text)
    if attachment is not None:
        message.add_attachment(attachment.content, maintype=attachment.maintype,
                               subtype=attachment.subtype, filename=attachment.filename)
    return message.as_bytes()


def render_email(outcome: Outcome, *, sender_address: str, recipient: str, message_id: str,
                 zone: ZoneInfo, now: datetime) -> bytes:
    """The acknowledgement email: multipart/alternative, plain text then HTML.

    Assembled from a template rather than with the email package (about 25 times faster, and
    it runs inside the processing transaction): every header value is ASCII from the registry,
    the configuration or `_checked`, except the Subject, which the email package folds and
    encodes (`_subject_field`); the bodies go quoted-printable in UTF-8. The boundary comes
    from the Message-ID, so the same inputs give the same bytes.
    """
    boundary = "=_" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
    head = (
        f"From: {sender_address}\n"
        f"To: {recipient}\n"
        f"{_subject_field(subject(outcome))}"
        f"Date: {format_datetime(now)}\n"
        f"Message-ID: {message_id}\n"
        f"X-CARM-Acknowledgement: {_checked(outcome.acknowledgement_id)}\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
    )
    parts = "".join(
        f"--{boundary}\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n"
        f"{_quoted_printable(content)}\n"
        for subtype, content in (("plain", body(outcome, zone)),
                                 ("html", html_body(outcome, zone)))
    )
    return (head + parts + f"--{boundary}--\n").encode("ascii")


def _quoted_printable(text: str) -> str:
    """The text quoted-printable, ending with a line break (the next one belongs to the
    boundary). A carriage return in a problem's text becomes a line break, as a mail reader
    would show it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    return encoded if encoded.endswith("\n") else encoded + "\n"
