"""Release-prior-to-payment security (CONTRACT section 9): rounded half up to cents, over the
statement itself and the 11 issued before it, on SQLite and PostgreSQL."""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from support.pipeline import Harness

from gateway.ledger.billing import period_named
from gateway.ledger.statements import SecurityCheck, security_check

ACCOUNT = "123456782RM0001"


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def record_issued(harness: Harness, closings: dict[str, int]) -> None:
    for period, cents in closings.items():
        harness.database.transaction_sync(lambda tx, period=period, cents=cents: tx.execute(
            "INSERT INTO statements_issued (importer_account, period, issued_at, closing_cents)"
            " VALUES (?, ?, ?, ?)", (ACCOUNT, period, f"{period}-25T17:00:00+00:00", cents)))


def check(harness: Harness, period: str, closing: str, security: str = "25000.00",
          security_type: str = "bond") -> SecurityCheck:
    account = harness.registry.account(ACCOUNT)
    assert account is not None
    account = replace(account, security=Decimal(security),
                      security_type=security_type)  # type: ignore[arg-type]
    result = harness.database.transaction_sync(lambda tx: security_check(
        tx, account, period_named(period), Decimal(closing)))
    assert result is not None
    return result


def test_required_security_rounds_half_up(harness: Harness) -> None:
    """Highest closing 12,345.65 with a bond: 12345.65 x 0.5 = 6172.825, half up 6172.83
    (half even would give 6172.82); a registered 6,172.82 is short."""
    result = check(harness, "2026-12", "12345.65", security="6172.82")
    assert result.required == Decimal("6172.83")
    assert result.short


def test_preview_counts_eleven_issued_statements_and_itself(harness: Harness) -> None:
    """For the unissued 2026-12 the last 12 statements are 2026-01..2026-11 and the preview;
    the 2025-12 closing of 30,000.00 is the 13th and does not count: highest 100.00, bond
    50.00, raised to the 5,000.00 minimum (counting it would give 15,000.00)."""
    closings = {"2025-12": 3_000_000} | {f"2026-{month:02d}": 10_000 for month in range(1, 12)}
    record_issued(harness, closings)
    assert check(harness, "2026-12", "100.00").required == Decimal("5000.00")


def test_issued_statement_counts_itself_and_the_eleven_before(harness: Harness) -> None:
    """For an issued 2026-12 the window is 2026-01..2026-12: 2025-12 falls out, 2026-01's
    12,000.00 counts: 12000.00 x 0.5 = 6,000.00."""
    closings = {"2025-12": 3_000_000, "2026-01": 1_200_000} | {
        f"2026-{month:02d}": 10_000 for month in range(2, 13)}
    record_issued(harness, closings)
    assert check(harness, "2026-12", "100.00").required == Decimal("6000.00")
