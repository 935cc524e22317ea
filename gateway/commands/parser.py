"""The argument parser of `carm-gateway`: one small function per command group."""

import argparse
from collections.abc import Callable
from pathlib import Path

from gateway import __version__

Adder = Callable[[str, str], argparse.ArgumentParser]


def add_config_option(parser: argparse.ArgumentParser, default: object) -> None:
    """`--config` is accepted before or after the command."""
    parser.add_argument("--config", metavar="PATH", default=default,
                        help="configuration file (also CARM_CONFIG)")


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _subcommands(parser: argparse.ArgumentParser, destination: str) -> Adder:
    """An adder for the subcommands of a group, each taking --config too."""
    group = parser.add_subparsers(dest=destination, required=True, metavar="SUBCOMMAND")

    def add(name: str, text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=text, description=text)
        add_config_option(sub, argparse.SUPPRESS)
        return sub

    return add


def _messages(command: Adder) -> None:
    validate = command("validate", "validate message files offline")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--received", metavar="ISO-TIME",
                          help="the time of receipt for time rules (default: now)")
    validate.add_argument("--sender", metavar="ID", help="stands for the topic's sender")
    _json(validate)
    convert = command("convert", "the XML form of an EDIFACT message, or the EDIFACT form "
                                 "of an XML one")
    convert.add_argument("file", metavar="FILE")
    submit = command("submit", "publish files as a partner and wait for their outcomes")
    submit.add_argument("files", nargs="+", metavar="FILE")
    submit.add_argument("--sender", required=True, metavar="ID")
    submit.add_argument("--username", metavar="U")
    submit.add_argument("--password-file", metavar="F", type=Path)
    submit.add_argument("--timeout", type=float, default=30.0, metavar="S")
    _json(submit)
    due = command("due", "the service-standard deadline of a message received at a time")
    due.add_argument("--kind", required=True)
    due.add_argument("--received", required=True, metavar="ISO-TIME")
    _json(due)


def _ledger(command: Adder) -> None:
    add = _subcommands(command("ledger", "the importers' RM accounts"), "ledger_command")
    balance = add("balance", "what an account owes now, by transaction")
    balance.add_argument("account", metavar="ACCOUNT")
    _json(balance)
    statement = add("statement", "a statement of account")
    statement.add_argument("account", metavar="ACCOUNT")
    statement.add_argument("--period", required=True, metavar="YYYY-MM")
    statement.add_argument("--format", default="text", choices=("text", "xml", "html", "pdf"))
    _json(add("verify", "recompute every balance and check every invariant"))


def _cases(command: Adder, group: str, text: str) -> None:
    add = _subcommands(command(group, text), "case_command")
    listing = add("list", f"the {text}")
    listing.add_argument("--status")
    listing.add_argument("--overdue", action="store_true", help="only those past RespondBy")
    _json(listing)
    show = add("show", "one case and its steps")
    show.add_argument("case", metavar="CASE")
    _json(show)
    for step in ("acknowledge", "review", "resume"):
        sub = add(step, f"{step} a case")
        sub.add_argument("case", metavar="CASE")
        sub.add_argument("--note", metavar="TEXT")
    for step in ("request-info", "withdraw"):
        sub = add(step, f"{step} a case")
        sub.add_argument("case", metavar="CASE")
        sub.add_argument("--reason", dest="note", required=True, metavar="TEXT")
    decide = add("decide", "decide a case")
    decide.add_argument("case", metavar="CASE")
    decide.add_argument("--outcome", required=True, choices=("allowed", "partly", "denied"))
    decide.add_argument("--reason", dest="note", required=True, metavar="TEXT")
    decide.add_argument("--amount", metavar="X")


def _dead_letters(command: Adder) -> None:
    add = _subcommands(command("dlq", "the dead-letter store"), "dlq_command")
    listing = add("list", "open dead letters (--all: also replayed and discarded)")
    listing.add_argument("--all", action="store_true")
    _json(listing)
    show = add("show", "one dead letter, its attempts and its bytes")
    show.add_argument("id", type=int, metavar="ID")
    _json(show)
    replay = add("replay", "process again: ID, or --all")
    replay.add_argument("id", type=int, nargs="?", metavar="ID")
    replay.add_argument("--all", action="store_true")
    discard = add("discard", "give up on a dead letter")
    discard.add_argument("id", type=int, metavar="ID")
    discard.add_argument("--reason", required=True, metavar="TEXT")


def _operations(command: Adder) -> None:
    command("run", "run the daemon (systemd Type=notify)")
    _json(command("check-config", "load and check the configuration and the partner registry"))
    _json(command("status", "one screen: connection, backlog, oldest pending deadline"))
    backup = command("backup", "a consistent copy of the SQLite database while it runs")
    backup.add_argument("destination", type=Path, metavar="DEST")
    purge = command("purge", "drop what retention allows")
    purge.add_argument("--before", metavar="DATE",
                       help="cut-off date (default: today less [retention] days)")
    _json(purge)
    add = _subcommands(command("sla", "service-standard compliance"), "sla_command")
    report = add("report", "compliance per kind, period and sender")
    report.add_argument("--from", dest="first", required=True, metavar="DATE")
    report.add_argument("--to", dest="last", required=True, metavar="DATE")
    report.add_argument("--chart", type=Path, metavar="FILE",
                        help="write daily compliance as an HTML or SVG chart")
    _json(report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carm-gateway",
        description="The CARM message gateway: daemon and operator commands.",
    )
    parser.add_argument("--version", action="version", version=f"carm-gateway {__version__}")
    add_config_option(parser, None)
    command = _subcommands(parser, "command")
    _operations(command)
    _messages(command)
    _ledger(command)
    _cases(command, "appeals", "appeal cases")
    _cases(command, "requests", "account-request cases")
    _dead_letters(command)
    return parser
