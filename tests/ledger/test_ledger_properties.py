"""Stateful property test: random declarations, corrections and payments keep the ledger's
invariants (legs sum to zero, balances equal their entries, nothing overpaid)."""

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from support.pipeline import Harness, declaration, payment

from gateway.identifiers import luhn_valid
from gateway.ledger.verify import verify


def transaction_number(index: int) -> str:
    stem = f"1234500{index:06d}"
    return stem + next(str(d) for d in range(10) if luhn_valid(stem + str(d)))


def line(value: Decimal, reason: bool) -> str:
    code = "<ReasonCode>CL01</ReasonCode>" if reason else ""
    return f"""
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Goods</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>{value}</Value><DutyRate>6.5</DutyRate>
    {code}</Line>"""


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.directory = tempfile.TemporaryDirectory()
        path = Path(self.directory.name)
        self.harness = Harness.open(f"sqlite:///{path}/gateway.db", path / "state")
        self.versions: dict[str, int] = {}
        self.sequence = 0

    def _message_id(self) -> str:
        self.sequence += 1
        return f"m{self.sequence}"

    @rule(value=amounts)
    def declare(self, value: Decimal) -> None:
        number = transaction_number(len(self.versions))
        outcome = self.harness.submit(declaration(
            message_id=self._message_id(), transaction=number, lines=line(value, False)))
        assert outcome.status == "accepted"
        self.versions[number] = 1

    @rule(data=st.data(), value=amounts)
    def correct(self, data: st.DataObject, value: Decimal) -> None:
        if not self.versions:
            return
        number = data.draw(st.sampled_from(sorted(self.versions)))
        version = self.versions[number] + 1
        outcome = self.harness.submit(declaration(
            message_id=self._message_id(), transaction=number, version=version,
            purpose="correction", lines=line(value, True)))
        assert outcome.status == "accepted", outcome.problems
        self.versions[number] = version

    @rule(value=amounts, allocate=st.booleans())
    def pay(self, value: Decimal, allocate: bool) -> None:
        allocations: tuple[tuple[str, str], ...] = ()
        owed = self.harness.database.transaction_sync(lambda tx: tx.one(
            "SELECT item, amount_cents FROM balances WHERE item <> '' AND amount_cents > 0"
            " ORDER BY item LIMIT 1"))
        if allocate and owed is not None:
            share = min(Decimal(int(owed[1])) / 100, value)
            allocations = ((str(owed[0]), str(share)),)
        outcome = self.harness.submit(payment(
            message_id=self._message_id(), reference=f"R{self.sequence}", amount=str(value),
            allocations=allocations))
        assert outcome.status == "accepted", outcome.problems

    @invariant()
    def ledger_holds(self) -> None:
        if not hasattr(self, "harness"):
            return
        assert self.harness.database.transaction_sync(verify) == []
        rows = self.harness.database.transaction_sync(lambda tx: tx.all(
            "SELECT item, amount_cents FROM balances WHERE amount_cents <> 0"))
        debts = [int(r[1]) for r in rows if r[0] != ""]
        credit = sum(int(r[1]) for r in rows if r[0] == "")
        assert all(cents > 0 for cents in debts), "no transaction is overpaid"
        assert credit <= 0
        assert not (debts and credit), "a standing credit is offset against the debts"

    def teardown(self) -> None:
        if hasattr(self, "harness"):
            self.harness.close()
            self.directory.cleanup()


LedgerMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_ledger_invariants = LedgerMachine.TestCase
