"""What-if experiments: the expected gain of each recommended change, measured before the code
is changed. `.venv/bin/python bench/whatif.py [--profile smoke|full]`

Each experiment runs the gateway's own code twice in this process: as it is (the baseline) and
with one hot spot replaced at run time by the candidate fix (a function swapped on its module,
an index added to a copy of the database, private methods called in another order). No file of
the gateway changes. The candidates are the recommendations of docs/performance.md:

1. `source_lines` (gateway/codec/xml_documents.py) computed in one linear pass, or only when a
   problem needs a line number (the current one is quadratic in the number of lines);
2. processing in group commits: one transaction for a batch of journalled messages;
3. emails rendered outside the processing transaction (upper bound: the transaction without
   email rows);
4. outbox rows marked delivered in one transaction per batch instead of one per row;
5. a large ledger with an index on balances (importer_account, amount_cents), a partial index
   on the open clocks, `settle_credits` skipping its debt scan when there is no credit, then
   a running balance per account (emulated by one primary-key read) and open debts read only
   when a payment leaves a remainder;
6. acknowledgement emails assembled from string templates instead of the email package.

These use private names of the gateway (`Processor._apply`, module globals): when one moves,
the experiment says so and is skipped, the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import hashlib
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
for entry in (str(BENCH), str(BENCH.parent)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import structlog  # noqa: E402
from figures import Figure, Report  # noqa: E402
from growth import INSTANCE, _config, measure, prefill  # noqa: E402
from lxml import etree  # noqa: E402
from micro import seconds_per_call  # noqa: E402
from traffic import Partners, Traffic, declaration_of_lines, make_partners  # noqa: E402

from gateway.codec import xml_documents  # noqa: E402
from gateway.codec.xml_parser import source_line  # noqa: E402
from gateway.delivery import email_content  # noqa: E402
from gateway.partners import load_registry, parse_registry  # noqa: E402
from gateway.processing import Processor  # noqa: E402
from gateway.standards.calendar import BusinessCalendar, CalendarSettings  # noqa: E402
from gateway.standards.deadlines import respond_by  # noqa: E402
from gateway.store import journal as journal_module  # noqa: E402
from gateway.store import outbox  # noqa: E402
from gateway.store.database import SqliteDatabase, open_database  # noqa: E402
from gateway.validation.pipeline import CheckSettings, Sending, check  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    messages: int
    large_history: int
    budget_s: float


PROFILES = {"smoke": Sizes(100, 20_000, 0.2), "full": Sizes(500, 1_000_000, 1.5)}
SUGGESTED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS balances_account_amount"
    " ON balances (importer_account, amount_cents)",
    "CREATE INDEX IF NOT EXISTS inbox_open_clock ON inbox (respond_by)"
    " WHERE clock_stopped_at IS NULL",
)


@contextmanager
def swapped(module: Any, name: str, replacement: object) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


def linear_source_lines(root: etree._Element) -> dict[str, int]:
    """The same mapping as `xml_documents.source_lines`, in one pass from the root down."""
    lines: dict[str, int] = {}
    repeating = xml_documents.REPEATING_ELEMENTS

    def walk(element: etree._Element, path: str) -> None:
        lines[path] = source_line(element) or 0
        seen: dict[object, int] = {}
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname
            if name in repeating:
                seen[child.tag] = seen.get(child.tag, 0) + 1
                name = f"{name}[{seen[child.tag]}]"
            walk(child, f"{path}/{name}")

    walk(root, "/" + etree.QName(root).localname)
    return lines


def source_lines_experiment(report: Report, partners: Partners, sizes: Sizes) -> None:
    registry = parse_registry(tomllib.loads(partners.toml()))
    calendar = BusinessCalendar(CalendarSettings())
    sending = Sending(partners.senders[0].id, registry)
    now = datetime.now(UTC)
    for lines in (10, 100, 999):
        payload = declaration_of_lines(partners, lines)

        def run(payload: bytes = payload) -> object:
            return check(payload, settings=CheckSettings(), sending=sending, received_at=now,
                         calendar=calendar)

        current = seconds_per_call(run, sizes.budget_s)
        with swapped(xml_documents, "source_lines", linear_source_lines):
            linear = seconds_per_call(run, sizes.budget_s)
        with swapped(xml_documents, "source_lines", lambda root: {}):
            lazy = seconds_per_call(run, sizes.budget_s)
        report.add(Figure(f"1. check {lines} lines, source_lines in one pass", linear * 1e6,
                          "us", current * 1e6, "check as it is"))
        report.add(Figure(f"1. check {lines} lines, source_lines only on a problem", lazy * 1e6,
                          "us", current * 1e6, "check as it is"))


def _written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class Processed:
    per_message_s: float
    written_per_message: float


def _processing(directory: Path, partners: Partners, partners_file: Path, messages: int,
                variant: str) -> Processed:
    path = directory / f"processing-{variant}.db"
    prefill(path, partners, 1_000, 1)
    config = _config(path, partners_file)
    registry = load_registry(partners_file)
    calendar = BusinessCalendar(config.calendar)
    database = open_database(config.database_url, temporary_in_memory=True)
    processor = Processor(database, config, lambda: registry, calendar,
                          lambda: datetime.now(UTC))
    batch = Traffic(partners, seed=1, stream=70, mix="realistic").take(messages)

    def deadline(kind: Any, received: datetime) -> datetime:
        return respond_by(calendar, config.standards.for_kind(kind), received)

    arrivals = [journal_module.Arrival(m.sender, f"carm/v1/in/{m.sender}", m.payload,
                                       datetime.now(UTC)) for m in batch]
    database.transaction_sync(lambda tx: [journal_module.journal(
        tx, arrival, instance=INSTANCE, max_payload_bytes=1_048_576, respond_by=deadline)
        for arrival in arrivals])

    async def one_by_one() -> None:
        while await processor.run_pending():
            pass

    async def grouped() -> None:
        while True:
            entries = await database.transaction(
                lambda tx: journal_module.pending_entries(tx, INSTANCE, 100))
            if not entries:
                return
            checked = [await asyncio.to_thread(processor.check_entry, entry)
                       for entry in entries]
            await database.transaction(lambda tx, entries=entries, checked=checked: [
                processor._apply(tx, entry, result)
                for entry, result in zip(entries, checked, strict=True)])

    written = _written_bytes()
    started = time.perf_counter()
    if variant == "grouped":
        asyncio.run(grouped())
    elif variant == "no-email":
        with swapped(processor.answers, "_email_deliveries", lambda *_: []):
            asyncio.run(one_by_one())
    else:
        asyncio.run(one_by_one())
    elapsed = time.perf_counter() - started
    written = _written_bytes() - written
    database.close_sync()
    return Processed(elapsed / messages, written / messages)


def processing_experiments(report: Report, partners: Partners, partners_file: Path,
                           sizes: Sizes, directory: Path) -> None:
    current = _processing(directory, partners, partners_file, sizes.messages, "current")
    for variant, name in (("grouped", "2. processing in group commits of up to 100"),
                          ("no-email", "3. processing without email rows (render later)")):
        try:
            after = _processing(directory, partners, partners_file, sizes.messages, variant)
        except (AttributeError, TypeError) as error:
            report.note(f"{name}: skipped, the gateway's internals moved: {error}")
            continue
        report.add(Figure(f"{name}, per message", after.per_message_s * 1e3, "ms",
                          current.per_message_s * 1e3, "one transaction per message, as it is"))
        report.add(Figure(f"  bytes written per message, {variant}",
                          after.written_per_message / 1e3, "kB",
                          current.written_per_message / 1e3, "as it is"))


def template_email(outcome: Any, *, sender_address: str, recipient: str, message_id: str,
                   zone: Any, now: datetime) -> bytes:
    """The email `render_email` builds (same texts, same headers, multipart/alternative),
    assembled from string templates: the values are checked ASCII already, the bodies go
    quoted-printable (binascii, in C)."""
    text = email_content.body(outcome, zone)
    html = email_content.html_body(outcome, zone)
    boundary = "=_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
    head = (f"From: {sender_address}\r\nTo: {recipient}\r\n"
            f"Subject: {email_content.subject(outcome)}\r\nDate: {format_datetime(now)}\r\n"
            f"Message-ID: {message_id}\r\nX-CARM-Acknowledgement: {outcome.acknowledgement_id}"
            f"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative;"
            f' boundary="{boundary}"\r\n\r\n')
    parts = "".join(
        f"--{boundary}\r\nContent-Type: text/{kind}; charset=\"utf-8\"\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{binascii.b2a_qp(content.encode()).decode('ascii')}\r\n"
        for kind, content in (("plain", text), ("html", html)))
    return (head + parts + f"--{boundary}--\r\n").encode("ascii")


def email_rendering_experiment(report: Report, partners: Partners, sizes: Sizes) -> None:
    from gateway.codec.messages import Totals  # noqa: PLC0415
    from gateway.outcome import Outcome  # noqa: PLC0415

    now = datetime.now(UTC)
    zone = BusinessCalendar(CalendarSettings()).zone
    sender = partners.senders[0]
    outcome = Outcome(
        acknowledgement_id="gw1-000000000001", ref_message_id=f"{sender.id}-M1",
        sender=sender.id, kind="declaration", reference="00100000000016/1", status="accepted",
        test=False, received_at=now, respond_by=now,
        assessment=Totals(Decimal("599.46"), Decimal("12.34"), Decimal("481.27"),
                          Decimal("1093.07")),
        balance=Decimal("1093.07"), payment_due=now.date())
    options = {"sender_address": "carm-gateway@localhost", "recipient": sender.email,
               "message_id": "<0123456789abcdef@localhost>", "zone": zone, "now": now}
    current = seconds_per_call(lambda: email_content.render_email(outcome, **options),
                               sizes.budget_s)
    templated = seconds_per_call(lambda: template_email(outcome, **options), sizes.budget_s)
    report.add(Figure("6. one acknowledgement email from string templates", templated * 1e6,
                      "us", current * 1e6, "render_email (the email package), as it is"))


def outbox_marks_experiment(report: Report, directory: Path, rows: int) -> None:
    database = SqliteDatabase(directory / "marks.db")
    now = datetime.now(UTC)
    deliveries = [outbox.Delivery("mqtt", "carm/v1/out/BRK01", b"x" * 700)] * (2 * rows)
    options: dict[str, Any] = {"instance": INSTANCE}
    try:
        database.transaction_sync(lambda tx: outbox.enqueue(tx, None, True, deliveries, now,
                                                            **options))
    except TypeError:
        database.transaction_sync(lambda tx: outbox.enqueue(tx, None, True, deliveries, now))
    started = time.perf_counter()
    for row_id in range(1, rows + 1):
        database.transaction_sync(lambda tx, row_id=row_id: outbox.mark_delivered(tx, row_id,
                                                                                  now))
    one_each = (time.perf_counter() - started) / rows
    started = time.perf_counter()
    for first in range(rows + 1, 2 * rows + 1, 100):
        database.transaction_sync(lambda tx, first=first: [
            outbox.mark_delivered(tx, row_id, now)
            for row_id in range(first, min(first + 100, 2 * rows + 1))])
    grouped = (time.perf_counter() - started) / rows
    database.close_sync()
    report.add(Figure("4. outbox mark_delivered, 100 rows per transaction", grouped * 1e3, "ms",
                      one_each * 1e3, "one transaction per row, as it is"))


def growth_experiment(report: Report, partners: Partners, partners_file: Path, sizes: Sizes,
                      directory: Path) -> None:
    from gateway.ledger import offsets  # noqa: PLC0415
    from gateway.ledger.postings import CREDIT_ITEM, item_balance_cents  # noqa: PLC0415

    small = directory / "history-small.db"
    large = directory / "history-large.db"
    prefill(small, partners, 1_000, 1)
    prefill(large, partners, sizes.large_history, 1)
    base = measure(small, partners, partners_file, sizes.messages, 1)
    now = measure(large, partners, partners_file, sizes.messages, 2)
    with sqlite3.connect(large) as connection:
        for statement in SUGGESTED_INDEXES:
            connection.execute(statement)
    indexed = measure(large, partners, partners_file, sizes.messages, 3)
    original = offsets.newest_debts

    def newest_debts_if_credit(tx: Any, account: str) -> Any:
        credit = -(item_balance_cents(tx, account, CREDIT_ITEM) or 0)
        return original(tx, account) if credit > 0 else []

    with swapped(offsets, "newest_debts", newest_debts_if_credit):
        both = measure(large, partners, partners_file, sizes.messages, 4)
        from gateway.ledger import declarations, payments  # noqa: PLC0415

        def one_row_balance(tx: Any, account: str) -> int:
            """The cost of a running total per account: one primary-key read (the value
            is not the balance; only the time is measured)."""
            row = tx.one("SELECT amount_cents FROM balances WHERE importer_account = ?"
                         " AND item = ?", (account, CREDIT_ITEM))
            return int(row[0]) if row else 0

        # the traffic's payments allocate their whole amount, so the oldest-debt list that
        # `allocate` would walk for a remainder is never used: not reading it is exact here
        with swapped(declarations, "balance_cents", one_row_balance), \
                swapped(payments, "balance_cents", one_row_balance), \
                swapped(payments, "open_debts", lambda tx, account: []):
            all_three = measure(large, partners, partners_file, sizes.messages, 5)
    per = sizes.messages
    label = f"{sizes.large_history:,} prior entries"
    baseline = base.process_s / per * 1e3
    report.add(Figure(f"5. processing per message, {label}, as it is", now.process_s / per * 1e3,
                      "ms", baseline, "1,000 prior entries, as it is", target="ratio <= 1.2"))
    report.add(Figure("5. ... with the two suggested indexes", indexed.process_s / per * 1e3,
                      "ms", baseline, "1,000 prior entries, as it is", target="ratio <= 1.2"))
    report.add(Figure("5. ... and settle_credits skipping the scan without credit",
                      both.process_s / per * 1e3, "ms", baseline,
                      "1,000 prior entries, as it is", target="ratio <= 1.2"))
    report.add(Figure("5. ... and a running balance per account, debts read on demand",
                      all_three.process_s / per * 1e3, "ms", baseline,
                      "1,000 prior entries, as it is", target="ratio <= 1.2"))
    report.add(Figure("5. heartbeat counts() with the partial index", indexed.heartbeat_s * 1e3,
                      "ms", now.heartbeat_s * 1e3, f"{label}, as it is"))
    report.add(Figure("5. escalation scan with the partial index", indexed.escalation_s * 1e3,
                      "ms", now.escalation_s * 1e3, f"{label}, as it is"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--only", default="1,2,4,5,6",
                        help="experiments to run (3 runs with 2)")
    arguments = parser.parse_args()
    sizes = PROFILES[arguments.profile]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(open(os.devnull, "w")))  # noqa: SIM115
    report = Report()
    partners = make_partners(1)
    directory = Path(tempfile.mkdtemp(prefix="carm-whatif-"))
    partners_file = partners.write(directory / "partners.toml")
    wanted = set(arguments.only.split(","))
    experiments: list[tuple[str, Callable[[], None]]] = [
        ("1", lambda: source_lines_experiment(report, partners, sizes)),
        ("2", lambda: processing_experiments(report, partners, partners_file, sizes, directory)),
        ("4", lambda: outbox_marks_experiment(report, directory, sizes.messages)),
        ("6", lambda: email_rendering_experiment(report, partners, sizes)),
        ("5", lambda: growth_experiment(report, partners, partners_file, sizes, directory)),
    ]
    try:
        for key, experiment in experiments:
            if key in wanted:
                print(f"[whatif] experiment {key}", file=sys.stderr, flush=True)
                try:
                    experiment()
                except (AttributeError, TypeError, ImportError, KeyError) as error:
                    report.note(f"experiment {key} skipped, the gateway's internals moved: "
                                f"{type(error).__name__}: {error}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report.write(sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
