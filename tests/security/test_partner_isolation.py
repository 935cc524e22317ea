"""The gateway's own confinement of answers, independent of the broker: an answer goes only to
the topic's sender (its tree on MQTT, its address by email), whatever the document claims."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.answers import email_recipients, response_topic
from gateway.outcome import Outcome
from gateway.partners import Account, Registry, Sender
from gateway.validation.problems import problem

REGISTRY = Registry(
    senders={
        "BRK42": Sender("BRK42", "edi@broker42.example", "all", frozenset({"123456782RM0001"})),
        "BRK77": Sender("BRK77", "edi@broker77.example", "all", frozenset({"987654324RM0001"})),
    },
    accounts={
        "123456782RM0001": Account("123456782RM0001", "accounts@importer.example",
                                   Decimal("25000.00"), "bond"),
        "987654324RM0001": Account("987654324RM0001", "accounts@other.example",
                                   Decimal("1000.00"), "cash"),
    },
)


def rejection(sender: str, code: str, account: str | None = None) -> Outcome:
    return Outcome("gw1-000000000001", "M-1", sender, "declaration", None, "rejected", False,
                   datetime(2026, 11, 23, 19, 5, tzinfo=UTC), None,
                   problems=(problem(code, "text"),), importer_account=account)


@pytest.mark.parametrize(("requested", "answered_on"), [
    (None, "carm/v1/out/BRK42"),
    ("carm/v1/out/BRK42", "carm/v1/out/BRK42"),
    ("carm/v1/out/BRK42/erp-7", "carm/v1/out/BRK42/erp-7"),
    ("carm/v1/out/BRK77", "carm/v1/out/BRK42"),
    ("carm/v1/out/BRK77/x", "carm/v1/out/BRK42"),
    ("carm/v1/out/BRK42x", "carm/v1/out/BRK42"),
    ("carm/v1/out/BRK42/#", "carm/v1/out/BRK42"),
    ("carm/v1/out/+", "carm/v1/out/BRK42"),
    ("carm/v1/in/BRK42", "carm/v1/out/BRK42"),
])
def test_a_response_topic_is_honoured_only_inside_the_senders_tree(
        requested: str | None, answered_on: str) -> None:
    """BRK42 cannot have the gateway (which may write every carm/v1/out/ topic) publish its
    answer to another partner's topic, a look-alike prefix, a wildcard or an inbound topic."""
    assert response_topic("BRK42", requested) == answered_on


def test_a_forged_header_sender_is_answered_to_the_topics_sender_only() -> None:
    """AUTH002 (the document names BRK77) is emailed to BRK42, whose account published it."""
    assert email_recipients(REGISTRY, "BRK42", rejection("BRK42", "AUTH002")) == [
        "edi@broker42.example"]


def test_auth001_is_not_emailed_to_the_importer_of_the_other_account() -> None:
    """A sender acting for an account it is not delegated for hears back alone: the importer of
    that account gets nothing (no case was opened)."""
    outcome = rejection("BRK42", "AUTH001", account="987654324RM0001")
    assert email_recipients(REGISTRY, "BRK42", outcome) == ["edi@broker42.example"]


def test_auth003_is_never_emailed() -> None:
    """An unregistered sender is answered on MQTT only, and even a registered id in the
    outcome does not turn AUTH003 into an email."""
    assert email_recipients(REGISTRY, "NOBODY", rejection("NOBODY", "AUTH003")) == []
    assert email_recipients(REGISTRY, "BRK42", rejection("BRK42", "AUTH003")) == []
