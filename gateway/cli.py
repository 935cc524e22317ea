"""The command line (CONTRACT section 8). Only here do errors become exit statuses."""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gateway import __version__
from gateway.commands import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, UsageError
from gateway.config import Config, ConfigError, find_config_path, load_config
from gateway.partners import load_registry


def _add_config_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--config", metavar="PATH", default=default,
                        help="configuration file (also CARM_CONFIG)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carm-gateway", description=__doc__)
    parser.add_argument("--version", action="version", version=f"carm-gateway {__version__}")
    _add_config_option(parser, None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        _add_config_option(sub, argparse.SUPPRESS)
        return sub

    command("run", "run the daemon (systemd Type=notify)")
    command("check-config", "load and check the configuration and the partner registry")
    validate = command("validate", "validate message files offline")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--received", metavar="ISO-TIME",
                          help="the time of receipt for time rules (default: now)")
    validate.add_argument("--sender", metavar="ID", help="stands for the topic's sender")
    validate.add_argument("--json", action="store_true", help="print JSON")
    submit = command("submit", "publish files as a partner and wait for their outcomes")
    submit.add_argument("files", nargs="+", metavar="FILE")
    submit.add_argument("--sender", required=True, metavar="ID")
    submit.add_argument("--username", metavar="U")
    submit.add_argument("--password-file", metavar="F", type=Path)
    submit.add_argument("--timeout", type=float, default=30.0, metavar="S")
    submit.add_argument("--json", action="store_true", help="print JSON")
    ledger = command("ledger", "the importers' RM accounts")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True,
                                            metavar="SUBCOMMAND")
    ledger_balance = ledger_commands.add_parser("balance", help="what an account owes now")
    ledger_balance.add_argument("account", metavar="ACCOUNT")
    ledger_statement = ledger_commands.add_parser("statement", help="a statement of account")
    ledger_statement.add_argument("account", metavar="ACCOUNT")
    ledger_statement.add_argument("--period", required=True, metavar="YYYY-MM")
    ledger_statement.add_argument("--format", default="text",
                                  choices=("text", "xml", "html", "pdf"))
    ledger_verify = ledger_commands.add_parser("verify", help="recompute and check everything")
    for sub in (ledger_balance, ledger_verify):
        sub.add_argument("--json", action="store_true", help="print JSON")
    for sub in (ledger_balance, ledger_statement, ledger_verify):
        _add_config_option(sub, argparse.SUPPRESS)
    for group, text in (("appeals", "appeal cases"), ("requests", "account-request cases")):
        _case_commands(command(group, text), group)
    sla = command("sla", "service-standard compliance")
    sla_commands = sla.add_subparsers(dest="sla_command", required=True, metavar="SUBCOMMAND")
    report = sla_commands.add_parser("report", help="compliance per kind, period and sender")
    _add_config_option(report, argparse.SUPPRESS)
    report.add_argument("--from", dest="first", required=True, metavar="DATE")
    report.add_argument("--to", dest="last", required=True, metavar="DATE")
    report.add_argument("--chart", type=Path, metavar="FILE",
                        help="write daily compliance as an HTML or SVG chart")
    report.add_argument("--json", action="store_true", help="print JSON")
    due = command("due", "the service-standard deadline of a message received at a time")
    due.add_argument("--kind", required=True)
    due.add_argument("--received", required=True, metavar="ISO-TIME")
    due.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _case_commands(parser: argparse.ArgumentParser, group: str) -> None:
    steps = parser.add_subparsers(dest="case_command", required=True, metavar="SUBCOMMAND")
    listing = steps.add_parser("list", help=f"the {group}")
    listing.add_argument("--status")
    listing.add_argument("--overdue", action="store_true", help="only those past RespondBy")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = steps.add_parser("show", help="one case and its steps")
    show.add_argument("case", metavar="CASE")
    show.add_argument("--json", action="store_true", help="print JSON")
    subcommands = [listing, show]
    for step in ("acknowledge", "review", "resume"):
        sub = steps.add_parser(step, help=f"{step} a case")
        sub.add_argument("case", metavar="CASE")
        sub.add_argument("--note", metavar="TEXT")
        subcommands.append(sub)
    for step in ("request-info", "withdraw"):
        sub = steps.add_parser(step, help=f"{step} a case")
        sub.add_argument("case", metavar="CASE")
        sub.add_argument("--reason", dest="note", required=True, metavar="TEXT")
        subcommands.append(sub)
    decide = steps.add_parser("decide", help="decide a case")
    decide.add_argument("case", metavar="CASE")
    decide.add_argument("--outcome", required=True, choices=("allowed", "partly", "denied"))
    decide.add_argument("--reason", dest="note", required=True, metavar="TEXT")
    decide.add_argument("--amount", metavar="X")
    subcommands.append(decide)
    for sub in subcommands:
        _add_config_option(sub, argparse.SUPPRESS)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time with an offset; a time without one is a usage error."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not an ISO 8601 time: {text}") from None
    if moment.tzinfo is None:
        raise UsageError(f"{text}: give the time with its offset, e.g. 2026-11-23T14:05:00-05:00")
    return moment


def explicit_config(option: str | None) -> bool:
    return find_config_path(option, os.environ)[1]


def without_credentials(url: str) -> str:
    """The URL with any `user:password@` removed, for printing and logging."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _check_config(config: Config) -> int:
    registry = load_registry(config.partners_file)
    source = config.source or "embedded defaults"
    print(f"configuration: {source}")
    print(f"partner registry: {config.partners_file} ({len(registry.senders)} senders, "
          f"{len(registry.accounts)} accounts)")
    print(f"database: {without_credentials(config.database_url)}")
    print(f"mqtt: {without_credentials(config.mqtt.url)}")
    print(f"mail: {without_credentials(config.smtp.url) if config.smtp.url else 'Maildir'}")
    return EXIT_OK


def _run(config: Config) -> int:
    from gateway.daemon import serve  # noqa: PLC0415 (the daemon's imports are heavy)
    from gateway.logs import configure  # noqa: PLC0415

    configure()
    load_registry(config.partners_file)
    asyncio.run(serve(config))
    return EXIT_OK


def dispatch(arguments: argparse.Namespace) -> int:
    config = load_config(arguments.config)
    if arguments.command == "check-config":
        return _check_config(config)
    if arguments.command == "run":
        return _run(config)
    if arguments.command == "validate":
        from gateway.commands.validate import validate  # noqa: PLC0415

        received = parse_moment(arguments.received) if arguments.received else datetime.now(UTC)
        return validate(arguments.files, config=config,
                        stateful=explicit_config(arguments.config), received_at=received,
                        sender=arguments.sender, as_json=arguments.json)
    if arguments.command == "due":
        from gateway.commands.due import due  # noqa: PLC0415

        return due(config, arguments.kind, parse_moment(arguments.received), arguments.json)
    if arguments.command == "ledger":
        from gateway.commands import ledger  # noqa: PLC0415

        if arguments.ledger_command == "balance":
            return ledger.balance(config, arguments.account, arguments.json)
        if arguments.ledger_command == "statement":
            return ledger.statement(config, arguments.account, arguments.period,
                                    arguments.format)
        return ledger.verify_ledger(config, arguments.json)
    if arguments.command in ("appeals", "requests"):
        from gateway.commands import cases  # noqa: PLC0415

        group, step = arguments.command, arguments.case_command
        if step == "list":
            return cases.list_command(config, group, arguments.status, arguments.overdue,
                                      arguments.json)
        if step == "show":
            return cases.show_command(config, group, arguments.case, arguments.json)
        return cases.step_command(config, group, step, arguments.case, note=arguments.note,
                                  outcome=getattr(arguments, "outcome", None),
                                  amount=getattr(arguments, "amount", None))
    if arguments.command == "sla":
        from gateway.commands.sla import parse_day, sla_report  # noqa: PLC0415

        return sla_report(config, parse_day(arguments.first), parse_day(arguments.last),
                          arguments.chart, arguments.json)
    if arguments.command == "submit":
        from gateway.commands.submit import submit  # noqa: PLC0415

        return submit(config, arguments.files, sender=arguments.sender,
                      username=arguments.username, password_file=arguments.password_file,
                      timeout_s=arguments.timeout, as_json=arguments.json)
    raise UsageError(f"unknown command {arguments.command}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return dispatch(arguments)
    except ConfigError as error:
        print(f"carm-gateway: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as error:
        print(f"carm-gateway: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
