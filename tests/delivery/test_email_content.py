"""The acknowledgement email is assembled from a template: a standard parser must read back
exactly the texts `body` and `html_body` give, whatever characters the problems carry."""

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codec.messages import Totals
from gateway.delivery.email_content import body, html_body, render_email, subject
from gateway.outcome import Outcome
from gateway.validation.problems import problem

ZONE = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def outcome(**changes: object) -> Outcome:
    values: dict[str, object] = {
        "acknowledgement_id": "gw1-000000000042", "ref_message_id": "BRK1-M1",
        "sender": "BRK1", "kind": "declaration", "reference": "00100000000016/1",
        "status": "accepted", "test": False, "received_at": NOW, "respond_by": NOW,
        "assessment": Totals(Decimal("599.46"), Decimal("12.34"), Decimal("481.27"),
                             Decimal("1093.07")),
        "balance": Decimal("1093.07"), "payment_due": NOW.date(),
    }
    values.update(changes)
    return Outcome(**values)  # type: ignore[arg-type]


def read_back(the_outcome: Outcome) -> EmailMessage:
    raw = render_email(the_outcome, sender_address="carm-gateway@example.ca",
                       recipient="edi@broker.example", message_id="<abc123@example.ca>",
                       zone=ZONE, now=NOW)
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def test_headers_and_both_parts_read_back() -> None:
    accepted = outcome()
    parsed = read_back(accepted)
    assert parsed["From"] == "carm-gateway@example.ca"
    assert parsed["To"] == "edi@broker.example"
    assert parsed["Subject"] == subject(accepted)
    assert parsed["Message-ID"] == "<abc123@example.ca>"
    assert parsed["X-CARM-Acknowledgement"] == "gw1-000000000042"
    assert parsed["Date"].datetime == NOW
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = list(parsed.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content() == body(accepted, ZONE)
    assert html.get_content_type() == "text/html"
    assert html.get_content() == html_body(accepted, ZONE)


def test_the_same_inputs_give_the_same_bytes() -> None:
    options = {"sender_address": "a@b.ca", "recipient": "c@d.ca", "message_id": "<x@b.ca>",
               "zone": ZONE, "now": NOW}
    assert render_email(outcome(), **options) == render_email(outcome(), **options)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_problem_text_survives_the_encoding(text: str) -> None:
    rejected = outcome(status="rejected", assessment=None, balance=None, payment_due=None,
                       problems=(problem("DEC001", text, "/Declaration/Line[1]", 7),))
    plain, html = list(read_back(rejected).iter_parts())
    assert plain.get_content() == lines_as_sent(body(rejected, ZONE))
    assert html.get_content() == lines_as_sent(html_body(rejected, ZONE))


def lines_as_sent(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "X-CARM-Acknowledgement",
           "MIME-Version", "Content-Type"]


def payment(reference: str) -> Outcome:
    return outcome(kind="payment", reference=reference, assessment=None, payment_due=None)


def raw_email(the_outcome: Outcome) -> bytes:
    return render_email(the_outcome, sender_address="carm-gateway@example.ca",
                        recipient="edi@broker.example", message_id="<abc123@example.ca>",
                        zone=ZONE, now=NOW)


@pytest.mark.parametrize("reference", ["INV#1234", "Chq 00123 (Nov)", "Réf 12", "Zahlung für Ü",
                                       "付款 42", "a  b\"c\\d;<e>", "=?utf-8?q?Hi?=",
                                       "x" * 70, "0000000" + "\xa0" * 6 + "\u0800 \xa1"])
def test_a_payment_reference_is_in_the_subject_as_written(reference: str) -> None:
    """CONTRACT section 7: `[CARM] {Status}: {kind} {Reference}` for any reference the schema
    allows (any non-blank characters), non-ASCII as RFC 2047 encoded words in ASCII bytes."""
    accepted = payment(reference)
    assert subject(accepted) == f"[CARM] Accepted: payment {reference}"
    parsed = read_back(accepted)
    assert parsed["Subject"] == f"[CARM] Accepted: payment {reference}"
    assert list(parsed.keys()) == HEADERS


def test_non_ascii_in_the_subject_is_encoded_per_rfc_2047() -> None:
    raw = raw_email(payment("Réf 12"))
    assert raw.isascii()
    field = raw.split(b"\nDate: ")[0].split(b"\nSubject: ", 1)[1]
    assert field == b"=?utf-8?q?=5BCARM=5D_Accepted=3A_payment_R=C3=A9f_12?="


def test_a_plain_subject_is_written_as_before() -> None:
    assert b"\nSubject: [CARM] Accepted: declaration 00100000000016/1\n" in raw_email(outcome())


@pytest.mark.parametrize("reference", ["X\r\nBcc: victim@example.org", "X\nBcc: victim@example.org",
                                       "X\rBcc: victim@example.org", "X\x85Bcc: victim@example.org",
                                       "X\u2028Bcc: victim@example.org", "X\x00Y", "X\tY",
                                       "X\x1bY"])
def test_a_reference_with_a_control_character_or_line_break_is_left_out(reference: str) -> None:
    """No header from unchecked input: such a reference cannot end the Subject and start a
    header of its own; the Subject goes without it."""
    rejected = payment(reference)
    assert subject(rejected) == "[CARM] Accepted: payment"
    raw = raw_email(rejected)
    assert b"Bcc" not in raw.split(b"\n\n", 1)[0]
    parsed = read_back(rejected)
    assert parsed["Subject"] == "[CARM] Accepted: payment"
    assert list(parsed.keys()) == HEADERS


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=1, max_size=70))
def test_any_reference_gives_one_subject_and_no_other_header(reference: str) -> None:
    """Whatever the reference, the headers are the gateway's; a reference without a control
    character or line break reads back exactly."""
    parsed = read_back(payment(reference))
    assert list(parsed.keys()) == HEADERS
    assert parsed["Subject"] in (f"[CARM] Accepted: payment {reference}".rstrip(),
                                 "[CARM] Accepted: payment")
    if not any(unicodedata.category(character) in ("Cc", "Zl", "Zp")
               for character in reference) and reference.strip() == reference:
        assert parsed["Subject"] == f"[CARM] Accepted: payment {reference}"
