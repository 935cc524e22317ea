"""How a payment is spread over debts: explicit allocations first, then oldest debts first.

Pure: given what is owed, it says how much goes where. What remains is a credit.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Owed:
    item: str
    amount_cents: int


def allocate(amount_cents: int, explicit: Sequence[Owed],
             oldest_first: Iterable[Owed]) -> tuple[list[Owed], int]:
    """Allocations per item and the remainder; explicit amounts are taken as given."""
    allocations: dict[str, int] = {}
    remaining = amount_cents
    for wanted in explicit:
        allocations[wanted.item] = allocations.get(wanted.item, 0) + wanted.amount_cents
        remaining -= wanted.amount_cents
    for debt in oldest_first if remaining > 0 else ():  # read no debt when nothing is left
        still_owed = debt.amount_cents - allocations.get(debt.item, 0)
        if still_owed <= 0:
            continue
        paid = min(still_owed, remaining)
        allocations[debt.item] = allocations.get(debt.item, 0) + paid
        remaining -= paid
        if remaining <= 0:
            break
    return [Owed(item, cents) for item, cents in allocations.items()], remaining
