"""Interest per debt portion, end to end on SQLite and PostgreSQL: a correction billed in a
later period bears interest from its own due date, and an adjustment from the day after the
original release period's due date, whatever statements were issued before it was posted.

All three scenarios: release 2026-10-20, so period 2026-11 (2026-10-18 to 2026-11-17), due
2026-12-01; one line of 1000.00 with 0 % duty and 100 % GST, so Total 1000.00; interest at the
default 10 % a year.
"""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.billing import TRANSACTION, at, charged, issue, pay, version
from support.pipeline import Harness, declaration

from gateway.ledger.verify import verify


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def paid_before_the_due_date(harness: Harness) -> None:
    """v1 1000.00 posted 2026-10-21, the 2026-11 statement issued, v1 paid in full 11-26."""
    assert harness.submit(version(1, "original", "1000.00"),
                          at=at("2026-10-21T10:00:00-04:00")).payment_due.isoformat() \
        == "2026-12-01"  # type: ignore[union-attr]
    issue(harness, "2026-11-25T12:00:00-05:00")
    paid = harness.submit(pay("P1", "1000.00", "2026-11-26"), at=at("2026-11-26T10:00:00-05:00"))
    assert paid.balance == 0


def test_correction_billed_later_bears_interest_from_its_own_due_date(harness: Harness) -> None:
    """The correction to 1200.00 on 2026-11-27 comes after the 2026-11 statement, so its
    +200.00 is billed in 2026-12 (2026-11-18 to 2026-12-17) and due 2026-12-31.

    2026-12-25 statement: the 1000.00 portion (due 12-01) was paid 11-26; the 200.00 portion is
    not due yet: interest 0.00 (it was 200 x ((1 + 0.10/365)^24 - 1) = 1.32, counted from
    12-02, before the fix).
    2027-01-25 statement: 200.00 overdue from 2027-01-01 to 01-25, 25 days:
    200 x ((1 + 0.10/365)^25 - 1) = 200 x 0.0068719 = 1.374 -> 1.37.
    """
    paid_before_the_due_date(harness)
    corrected = harness.submit(version(2, "correction", "1200.00"),
                               at=at("2026-11-27T10:00:00-05:00"))
    assert corrected.status == "accepted"
    assert corrected.payment_due.isoformat() == "2026-12-31"  # type: ignore[union-attr]
    issue(harness, "2026-12-25T12:00:00-05:00")
    assert charged(harness, "2026-12") == Decimal("0.00")
    issue(harness, "2027-01-25T12:00:00-05:00")
    assert charged(harness, "2027-01") == Decimal("1.37")
    assert harness.database.transaction_sync(verify) == []


def test_adjustment_bears_interest_for_days_before_the_last_statement(harness: Harness) -> None:
    """The 2026-12-25 statement charged the (paid) transaction 0.00 through 12-25. An
    adjustment to 1100.00 processed 2027-01-05 bears interest on its +100.00 from the day after
    the original due date 2026-12-01, so the 2027-01-25 statement charges 12-02 to 01-25:
    30 + 25 = 55 days, 100 x ((1 + 0.10/365)^55 - 1) = 100 x 0.0151805 = 1.518 -> 1.52
    (not the 31 days 12-26 to 01-25, 0.85, that the item's last through-date gave).
    """
    paid_before_the_due_date(harness)
    issue(harness, "2026-12-25T12:00:00-05:00")
    assert charged(harness, "2026-12") == Decimal("0.00")
    adjusted = harness.submit(version(2, "adjustment", "1100.00"),
                              at=at("2027-01-05T10:00:00-05:00"))
    assert adjusted.status == "accepted"
    issue(harness, "2027-01-25T12:00:00-05:00")
    assert charged(harness, "2027-01") == Decimal("1.52")


def test_unpaid_debt_then_correction_charges_each_portion_from_its_due_date(
        harness: Harness) -> None:
    """v1 1000.00 (due 2026-12-01) stays unpaid; the correction to 1200.00 on 2026-11-27 is
    billed in 2026-12, due 2026-12-31.

    2026-12-25: only the 1000.00 portion, 12-02 to 12-25, 24 days:
    1000 x ((1 + 0.10/365)^24 - 1) = 6.596 -> 6.60 (before the fix the 200.00 was counted too:
    1200 x ... = 7.92).
    """
    harness.submit(version(1, "original", "1000.00"), at=at("2026-10-21T10:00:00-04:00"))
    issue(harness, "2026-11-25T12:00:00-05:00")
    harness.submit(version(2, "correction", "1200.00"), at=at("2026-11-27T10:00:00-05:00"))
    issue(harness, "2026-12-25T12:00:00-05:00")
    assert charged(harness, "2026-12") == Decimal("6.60")


def test_adjustment_counts_from_the_release_periods_due_date_not_its_first_versions(
        harness: Harness) -> None:
    """The account's 2026-11 statement is out (another transaction made it active) when v1,
    released 2026-10-20, arrives on 2026-11-26: v1 is billed in 2026-12, due 2026-12-31, and
    paid 2026-12-20. An adjustment to 1100.00 on 2027-01-05 bears interest from the day after
    the due date of the release's period, 2026-12-01 (not v1's 2026-12-31): the 2027-01-25
    statement charges 12-02 to 01-25, 55 days, 100 x ((1 + 0.10/365)^55 - 1) = 1.518 -> 1.52
    (from 2027-01-01 it would be 25 days: 0.687 -> 0.69)."""
    other = declaration(message_id="other", transaction="12345000003009", release="2026-11-10")
    harness.submit(other, at=at("2026-11-12T10:00:00-05:00"))
    issue(harness, "2026-11-25T12:00:00-05:00")
    first = harness.submit(version(1, "original", "1000.00"), at=at("2026-11-26T10:00:00-05:00"))
    assert first.payment_due.isoformat() == "2026-12-31"  # type: ignore[union-attr]
    allocated = pay("P1", "1000.00", "2026-12-20").replace(
        b"</ReceivedOn>", b"</ReceivedOn><Allocation><TransactionNumber>" + TRANSACTION.encode()
        + b"</TransactionNumber><Amount>1000.00</Amount></Allocation>")
    assert harness.submit(allocated, at=at("2026-12-20T10:00:00-05:00")).status == "accepted"
    issue(harness, "2026-12-25T12:00:00-05:00")
    adjusted = harness.submit(version(2, "adjustment", "1100.00"),
                              at=at("2027-01-05T10:00:00-05:00"))
    assert adjusted.status == "accepted"
    issue(harness, "2027-01-25T12:00:00-05:00")
    assert charged(harness, "2027-01") == Decimal("1.52")


@pytest.mark.parametrize("received", ["2026-11-25T09:00:00-05:00", "2026-11-26T10:00:00-05:00"])
def test_a_declaration_after_its_periods_statement_date_is_billed_in_the_next(
        harness: Harness, received: str) -> None:
    """The account had no activity, so the 2026-11 run issued it no statement; a declaration
    released 2026-10-20 (period 2026-11) received on or after 2026-11-25 is billed in 2026-12,
    due 2026-12-31, and appears on the account's first statement, 2026-12."""
    issue(harness, "2026-11-25T08:00:00-05:00")
    late = harness.submit(version(1, "original", "1000.00"), at=at(received))
    assert late.payment_due.isoformat() == "2026-12-31"  # type: ignore[union-attr]
    assert harness.scalar("SELECT period FROM ledger_entries") == "2026-12"
