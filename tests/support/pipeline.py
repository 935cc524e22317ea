"""A Processor on a real database, fed through the journal as the daemon feeds it."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gateway.codec.messages import Kind
from gateway.config import Config, build_config
from gateway.outcome import Outcome, from_json
from gateway.partners import Registry, load_registry
from gateway.processing import Processor
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.store.database import Database, StoreUnavailable, open_database
from gateway.store.journal import Arrival, journal

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
RECEIVED = datetime(2026, 11, 23, 19, 5, tzinfo=UTC)


@dataclass
class Harness:
    database: Database
    config: Config
    registry: Registry
    processor: Processor
    clock: list[datetime]

    @classmethod
    def open(cls, database_url: str, state: Path, instance: str = "gw1",
             sections: dict[str, dict[str, object]] | None = None) -> "Harness":
        """A processor on `database_url`; `sections` adds configuration sections."""
        config = build_config({
            "gateway": {"id": instance, "state_directory": str(state)},
            "database": {"url": database_url},
            "retries": {"attempts": 3, "backoff_s_max": 1},
            **(sections or {}),
        })
        registry = load_registry(REPO / "config" / "partners.toml")
        calendar = BusinessCalendar(config.calendar)
        clock = [RECEIVED]
        database = open_database(database_url, temporary_in_memory=True)  # as the daemon's
        processor = Processor(database, config, lambda: registry, calendar, lambda: clock[0])
        return cls(database, config, registry, processor, clock)

    def journal(self, payload: bytes, *, sender: str = "BRK42", redelivery: bool = False,
                at: datetime | None = None) -> int | None:
        calendar = self.processor.calendar

        def deadline(kind: Kind, received: datetime) -> datetime:
            return respond_by(calendar, self.config.standards.for_kind(kind), received)

        arrival = Arrival(sender, f"carm/v1/in/{sender}", payload, at or self.clock[0],
                          broker_redelivery=redelivery)
        result = self.database.transaction_sync(
            lambda tx: journal(tx, arrival, instance=self.config.gateway.id,
                               max_payload_bytes=1_048_576,
                               respond_by=deadline)
        )
        return result.inbox_id

    def submit(self, payload: bytes, **options: object) -> Outcome:
        """Journal and process one message; its outcome."""
        inbox_id = self.journal(payload, **options)  # type: ignore[arg-type]
        assert inbox_id is not None
        asyncio.run(self.drain())
        return self.outcome(inbox_id)

    async def drain(self) -> None:
        """Process until nothing is pending (an interchange adds its messages as it goes)."""
        for _ in range(100):
            if not await self.processor.run_pending():
                return

    def outcome(self, inbox_id: int) -> Outcome:
        row = self.database.transaction_sync(lambda tx: tx.one(
            "SELECT facts FROM outcomes WHERE inbox_id = ? AND superseded = 0", (inbox_id,)))
        assert row is not None, f"no outcome for {inbox_id}"
        return from_json(str(row[0]))

    def scalar(self, sql: str, *params: object) -> object:
        row = self.database.transaction_sync(lambda tx: tx.one(sql, params))
        return None if row is None else row[0]

    def close(self) -> None:
        self.database.close_sync()


async def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll `condition` every 10 ms for at most `seconds`."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def job_name(work: Any) -> str:
    """A transaction's work by name: a function's (a partial's function), or the class of a
    callable object."""
    work = getattr(work, "func", work)
    return str(getattr(work, "__qualname__", type(work).__qualname__))


def noting_submits(database: Database, names: list[str]) -> Any:
    """`database` for a delivery loop, noting the name of each job it starts with `submit`
    (its reads of the outbox are `Read`, which record its last deliveries)."""
    submit = database.submit

    def noted(work: Any) -> Any:
        names.append(job_name(work))
        return submit(work)

    return SimpleNamespace(transaction=database.transaction, submit=noted)


def lose_the_first_commit_reply(database: Database, monkeypatch: Any) -> None:
    """Fault injection: the next transaction commits, then raises StoreUnavailable, as when
    PostgreSQL's connection drops between COMMIT and its reply; later ones go through."""
    real = database.transaction
    calls = []

    async def commit_then_lose_the_reply(work: Any) -> Any:
        result = await real(work)
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailable("injected: connection lost after COMMIT")
        return result

    monkeypatch.setattr(database, "transaction", commit_then_lose_the_reply)


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def declaration(*, message_id: str, transaction: str = "12345000001235", version: int = 1,
                purpose: str = "original", lines: str | None = None,
                account: str = "123456782RM0001", release: str = "2026-11-20",
                test: bool = False) -> bytes:
    """A small CAD in CAD currency: one line of 1000.00 at 5 % duty unless `lines` is given."""
    line = lines or """
  <Line><Number>1</Number><HSCode>8471300000</HSCode><Description>Laptops</Description>
    <CountryOfOrigin>CN</CountryOfOrigin><TariffTreatment>MFN</TariffTreatment>
    <Quantity unit="NMB">1</Quantity><Value>1000.00</Value><DutyRate>5</DutyRate>
    {reason}</Line>""".format(reason="<ReasonCode>CL01</ReasonCode>" if version > 1 else "")
    test_flag = "<Test>true</Test>" if test else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Declaration xmlns="urn:carm-gateway:message:1">
  <Header><MessageID>{message_id}</MessageID><Sender>BRK42</Sender>
    <SentAt>2026-11-23T14:05:00-05:00</SentAt>{test_flag}</Header>
  <TransactionNumber>{transaction}</TransactionNumber>
  <Version>{version}</Version>
  <Purpose>{purpose}</Purpose>
  <ImporterAccount>{account}</ImporterAccount>
  <ReleaseDate>{release}</ReleaseDate>
  <Currency>CAD</Currency>
  <ExchangeRate>1</ExchangeRate>{line}
</Declaration>""".encode()


def payment(*, message_id: str, reference: str, amount: str,
            allocations: tuple[tuple[str, str], ...] = ()) -> bytes:
    allocated = "".join(
        f"<Allocation><TransactionNumber>{number}</TransactionNumber><Amount>{value}</Amount>"
        "</Allocation>"
        for number, value in allocations
    )
    return f"""<Payment xmlns="urn:carm-gateway:message:1">
  <Header><MessageID>{message_id}</MessageID><Sender>BRK42</Sender>
    <SentAt>2026-11-23T14:05:00-05:00</SentAt></Header>
  <PaymentReference>{reference}</PaymentReference>
  <ImporterAccount>123456782RM0001</ImporterAccount>
  <Amount>{amount}</Amount><Method>EFT</Method><ReceivedOn>2026-11-23</ReceivedOn>{allocated}
</Payment>""".encode()


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]
