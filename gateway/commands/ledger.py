"""`carm-gateway ledger balance|statement|verify`."""

import json
import sys
from pathlib import Path

from gateway.commands import EXIT_FAILED, EXIT_OK, UsageError
from gateway.config import Config
from gateway.identifiers import account_valid
from gateway.ledger.billing import period_named
from gateway.ledger.statement_render import as_html, as_pdf, as_text, as_xml
from gateway.ledger.statements import build_statement
from gateway.ledger.verify import verify
from gateway.money import format_amount, from_cents
from gateway.partners import Account, load_registry
from gateway.standards.calendar import BusinessCalendar
from gateway.store.database import Database, open_database

FORMATS = ("text", "xml", "html", "pdf")


def open_existing_database(config: Config) -> Database:
    """The configured database; a command never creates an SQLite file by mistake."""
    url = config.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise UsageError(f"no database at {url}: has the gateway run with this configuration?")
    return open_database(url)


def _account(number: str) -> str:
    if not account_valid(number):
        raise UsageError(f"{number} is not an RM account like 123456782RM0001")
    return number


def balance(config: Config, number: str, as_json: bool) -> int:
    database = open_existing_database(config)
    try:
        rows = database.read_sync(lambda tx: tx.all(
            "SELECT item, due_date, amount_cents FROM balances WHERE importer_account = ?"
            " AND amount_cents <> 0 ORDER BY COALESCE(due_date, ''), item", (_account(number),)))
    finally:
        database.close_sync()
    items = [(str(r[0]) or "credit", r[1], from_cents(int(r[2]))) for r in rows]
    total = sum((amount for _, _, amount in items), from_cents(0))
    if as_json:
        print(json.dumps({"account": number, "total": format_amount(total), "items": [
            {"item": item, "due_date": due, "amount": format_amount(amount)}
            for item, due, amount in items]}, indent=2))
        return EXIT_OK
    print(f"{'item':<40} {'due':<10} {'owing':>14}")
    for item, due, amount in items:
        print(f"{item:<40} {due or '':<10} {format_amount(amount):>14}")
    print(f"{'total (negative: a credit)':<51} {format_amount(total):>14}")
    return EXIT_OK


def statement(config: Config, number: str, period: str, output_format: str) -> int:
    if output_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    try:
        period_named(period)
    except ValueError as error:
        raise UsageError(str(error)) from None
    account: Account | None = None
    if config.partners_file.exists():
        account = load_registry(config.partners_file).account(number)
    calendar = BusinessCalendar(config.calendar)
    database = open_existing_database(config)
    try:
        built = database.read_sync(lambda tx: build_statement(
            tx, _account(number), period, calendar, config.billing, account))
    finally:
        database.close_sync()
    if output_format == "text":
        sys.stdout.write(as_text(built))
    elif output_format == "html":
        sys.stdout.write(as_html(built))
    else:
        document = as_xml(built) if output_format == "xml" else as_pdf(built)
        sys.stdout.buffer.write(document)
    return EXIT_OK


def verify_ledger(config: Config, as_json: bool) -> int:
    database = open_existing_database(config)
    try:
        findings = database.read_sync(verify)
    finally:
        database.close_sync()
    if as_json:
        print(json.dumps({"ok": not findings, "differences": findings}, indent=2))
    else:
        for finding in findings:
            print(finding)
        print("ledger verified: no differences" if not findings
              else f"{len(findings)} differences")
    return EXIT_FAILED if findings else EXIT_OK
