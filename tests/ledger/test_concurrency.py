"""Two instances post to one account at once on PostgreSQL: nothing is lost or doubled."""

import asyncio
import threading
from pathlib import Path

import pytest
from support.pipeline import Harness, declaration, payment

from gateway.ledger.verify import verify

ROUNDS = 15


@pytest.mark.postgres
def test_concurrent_postings_to_one_account(postgres_url: str, tmp_path: Path) -> None:
    """Instance gw1 posts declarations while gw2 posts payments to the same account, each on
    its own connection; afterwards every posting is there once and the ledger verifies."""
    first = Harness.open(postgres_url, tmp_path / "a", instance="gw1")
    second = Harness.open(postgres_url, tmp_path / "b", instance="gw2")
    try:
        for index in range(ROUNDS):
            number = f"1234500{index:06d}"
            number += str(next(d for d in range(10) if _luhn(number + str(d))))
            first.journal(declaration(message_id=f"d{index}", transaction=number))
            second.journal(payment(message_id=f"p{index}", reference=f"P{index}",
                                   amount="60.00"))
        threads = [threading.Thread(target=asyncio.run, args=(h.processor.run_pending(),))
                   for h in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert first.scalar("SELECT COUNT(*) FROM outcomes") == 2 * ROUNDS
        assert first.scalar("SELECT COUNT(*) FROM ledger_entries WHERE entry_type IN"
                            " ('assessment', 'payment')") == 2 * ROUNDS
        owed = ROUNDS * 10250 - ROUNDS * 6000
        assert first.scalar("SELECT SUM(amount_cents) FROM balances") == owed
        assert first.database.transaction_sync(verify) == []
        assert first.scalar("SELECT COUNT(*) FROM balances WHERE item <> '' AND"
                            " amount_cents < 0") == 0
    finally:
        first.close()
        second.close()


def _luhn(digits: str) -> bool:
    from gateway.identifiers import luhn_valid  # noqa: PLC0415

    return luhn_valid(digits)
