"""How a payment is spread (CONTRACT section 9): explicit allocations first, then the oldest
debts first; what remains is a credit."""

from hypothesis import given
from hypothesis import strategies as st

from gateway.ledger.allocation import Owed, allocate


def as_dict(allocations: list[Owed]) -> dict[str, int]:
    return {item.item: item.amount_cents for item in allocations}


def test_explicit_allocations_come_first() -> None:
    """An explicit allocation to the newest debt is honoured before the oldest debts get any."""
    allocations, remainder = allocate(
        10_000,
        explicit=[Owed("T3", 6_000)],
        oldest_first=[Owed("T1", 3_000), Owed("T2", 5_000), Owed("T3", 6_000)],
    )
    assert as_dict(allocations) == {"T3": 6_000, "T1": 3_000, "T2": 1_000}
    assert remainder == 0


def test_rest_goes_to_the_oldest_debts_in_order() -> None:
    """Without explicit allocations the payment pays debts in the order given, oldest first."""
    allocations, remainder = allocate(
        4_000, explicit=[], oldest_first=[Owed("T1", 3_000), Owed("T2", 5_000), Owed("T3", 1)],
    )
    assert as_dict(allocations) == {"T1": 3_000, "T2": 1_000}
    assert remainder == 0


def test_what_remains_is_a_credit() -> None:
    """A payment larger than every debt leaves the difference as the remainder."""
    allocations, remainder = allocate(
        10_000, explicit=[Owed("T1", 1_000)], oldest_first=[Owed("T1", 2_500), Owed("T2", 500)],
    )
    assert as_dict(allocations) == {"T1": 2_500, "T2": 500}
    assert remainder == 7_000


def test_debt_already_covered_explicitly_gets_no_more() -> None:
    """An explicit allocation that covers a debt in full leaves nothing more for it."""
    allocations, remainder = allocate(
        5_000, explicit=[Owed("T1", 2_000)], oldest_first=[Owed("T1", 2_000), Owed("T2", 1_000)],
    )
    assert as_dict(allocations) == {"T1": 2_000, "T2": 1_000}
    assert remainder == 2_000


def test_explicit_amounts_are_taken_as_given() -> None:
    """Explicit allocations are not capped here (PAY001 and PAY002 decide them before)."""
    allocations, remainder = allocate(1_000, explicit=[Owed("T9", 1_000)], oldest_first=[])
    assert as_dict(allocations) == {"T9": 1_000}
    assert remainder == 0


def test_no_debts_no_allocations() -> None:
    """A payment on an account that owes nothing is all credit."""
    assert allocate(12_345, explicit=[], oldest_first=[]) == ([], 12_345)


ITEMS = st.sampled_from([f"T{index}" for index in range(6)])
DEBTS = st.lists(st.builds(Owed, ITEMS, st.integers(1, 10**9)), max_size=6,
                 unique_by=lambda owed: owed.item)


@given(st.integers(1, 10**10), st.lists(st.builds(Owed, ITEMS, st.integers(1, 10**9)),
                                         max_size=4), DEBTS)
def test_allocations_and_remainder_add_up_to_the_payment(amount: int, explicit: list[Owed],
                                                         debts: list[Owed]) -> None:
    """For any payment and debts: sum(allocations) + remainder == amount, and every explicit
    allocation is there in full."""
    allocations, remainder = allocate(amount, explicit, debts)
    assert sum(item.amount_cents for item in allocations) + remainder == amount
    paid = as_dict(allocations)
    for item in {owed.item for owed in explicit}:
        wanted = sum(owed.amount_cents for owed in explicit if owed.item == item)
        assert paid[item] >= wanted


@given(st.integers(1, 10**10), DEBTS)
def test_oldest_first_never_overpays_and_credits_only_when_all_is_paid(
        amount: int, debts: list[Owed]) -> None:
    """Without explicit allocations no debt gets more than it owes, every allocation is
    positive, and a remainder is left only once every debt is paid in full."""
    allocations, remainder = allocate(amount, [], debts)
    owed = {debt.item: debt.amount_cents for debt in debts}
    paid = as_dict(allocations)
    assert all(0 < cents <= owed[item] for item, cents in paid.items())
    assert remainder >= 0
    if remainder > 0:
        assert paid == owed
    order = [debt.item for debt in debts]
    partially = [item for item in order if paid.get(item, 0) < owed[item]]
    if partially:
        first_short = order.index(partially[0])
        assert all(item not in paid for item in order[first_short + 1:])
