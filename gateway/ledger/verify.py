"""`ledger verify`: recompute what the ledger stores and check the invariants of DESIGN.md.

Each finding is one line naming what differs; no findings means the ledger holds.
"""

from gateway.money import format_amount, from_cents
from gateway.store.database import Tx


def unbalanced_entries(tx: Tx) -> list[str]:
    rows = tx.all("SELECT entry_id, SUM(amount_cents) FROM ledger_legs GROUP BY entry_id"
                  " HAVING SUM(amount_cents) <> 0 ORDER BY entry_id")
    return [f"entry {r[0]}: legs sum to {format_amount(from_cents(int(r[1])))}, not 0.00"
            for r in rows]


def balance_differences(tx: Tx) -> list[str]:
    """Each stored balance against the sum of its receivable legs, both ways."""
    stored = {(str(r[0]), str(r[1])): int(r[2]) for r in tx.all(
        "SELECT importer_account, item, amount_cents FROM balances")}
    summed = {(str(r[0]), str(r[1])): int(r[2]) for r in tx.all(
        "SELECT importer_account, item, SUM(amount_cents) FROM ledger_legs"
        " WHERE book = 'receivable' GROUP BY importer_account, item")}
    findings = []
    for key in sorted(set(stored) | set(summed)):
        have, want = stored.get(key, 0), summed.get(key, 0)
        if have != want:
            account, item = key
            findings.append(f"balance {account} {item or '(credit)'}: stored "
                            f"{format_amount(from_cents(have))}, entries sum to "
                            f"{format_amount(from_cents(want))}")
    return findings


def account_total_differences(tx: Tx) -> list[str]:
    """Each account's stored total (the Balance of every Acknowledgement) against the sum of
    its receivable legs, both ways."""
    stored = {str(r[0]): int(r[1]) for r in tx.all(
        "SELECT importer_account, amount_cents FROM account_totals")}
    summed = {str(r[0]): int(r[1]) for r in tx.all(
        "SELECT importer_account, SUM(amount_cents) FROM ledger_legs"
        " WHERE book = 'receivable' GROUP BY importer_account")}
    return [
        f"account total {account}: stored {format_amount(from_cents(stored.get(account, 0)))},"
        f" entries sum to {format_amount(from_cents(summed.get(account, 0)))}"
        for account in sorted(set(stored) | set(summed))
        if stored.get(account, 0) != summed.get(account, 0)
    ]


def outcome_differences(tx: Tx) -> list[str]:
    """Every processed message has exactly one current outcome, with an MQTT answer queued."""
    findings = [
        f"message {r[0]} ({r[1]}): {r[2]} current outcomes, expected 1"
        for r in tx.all(
            "SELECT inbox.id, inbox.status, COUNT(outcomes.id) FROM inbox"
            " LEFT JOIN outcomes ON outcomes.inbox_id = inbox.id AND outcomes.superseded = 0"
            " WHERE inbox.status <> 'pending' GROUP BY inbox.id, inbox.status"
            " HAVING COUNT(outcomes.id) <> 1 ORDER BY inbox.id")
    ]
    findings += [
        f"outcome {r[0]} of message {r[1]}: no MQTT answer in the outbox"
        for r in tx.all(
            "SELECT outcomes.id, outcomes.inbox_id FROM outcomes"
            " JOIN inbox ON inbox.id = outcomes.inbox_id WHERE NOT EXISTS ("
            " SELECT 1 FROM outbox WHERE outbox.outcome_id = outcomes.id"
            " AND outbox.channel = 'mqtt')"
            # an EDIFACT message that failed syntax is answered by its interchange's CONTRL
            " AND NOT (inbox.role = 'part' AND outcomes.status = 'rejected'"
            " AND outcomes.facts LIKE '%\"code\": \"EDI0%')"
            " ORDER BY outcomes.id")
    ]
    return findings


def posting_differences(tx: Tx) -> list[str]:
    """Each posted declaration version and payment has exactly one entry of its own."""
    rows = tx.all(
        "SELECT d.transaction_number, d.version, COUNT(e.id) FROM declarations d"
        " LEFT JOIN ledger_entries e ON e.inbox_id = d.inbox_id"
        " AND e.entry_type IN ('assessment', 'correction', 'adjustment')"
        " GROUP BY d.transaction_number, d.version HAVING COUNT(e.id) <> 1")
    findings = [f"declaration {r[0]}/{r[1]}: {r[2]} postings, expected 1" for r in rows]
    rows = tx.all(
        "SELECT p.importer_account, p.payment_reference, COUNT(e.id) FROM payments p"
        " LEFT JOIN ledger_entries e ON e.inbox_id = p.inbox_id AND e.entry_type = 'payment'"
        " GROUP BY p.importer_account, p.payment_reference HAVING COUNT(e.id) <> 1")
    findings += [f"payment {r[0]} {r[1]}: {r[2]} postings, expected 1" for r in rows]
    return findings


def verify(tx: Tx) -> list[str]:
    return [*unbalanced_entries(tx), *balance_differences(tx), *account_total_differences(tx),
            *outcome_differences(tx), *posting_differences(tx)]
