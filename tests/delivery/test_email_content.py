"""The acknowledgement email is assembled from a template: a standard parser must read back
exactly the texts `body` and `html_body` give, whatever characters the problems carry."""

from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

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
