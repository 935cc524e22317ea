"""The command line (CONTRACT section 8). Only here do errors become exit statuses."""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from gateway.commands import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, UsageError
from gateway.commands.parser import build_parser
from gateway.config import Config, ConfigError, find_config_path, load_config
from gateway.partners import load_registry

Handler = Callable[[Config, argparse.Namespace], int]
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
              "error": logging.ERROR}
"""CARM_LOG_LEVEL; debug adds the journal-commit and PUBACK trace the fault tests read."""


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time with an offset; a time without one is a usage error."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not an ISO 8601 time: {text}") from None
    if moment.tzinfo is None:
        raise UsageError(f"{text}: give the time with its offset, e.g. 2026-11-23T14:05:00-05:00")
    return moment


def _check_config(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.check_config import check_config  # noqa: PLC0415

    return check_config(config, arguments.json)


def _run(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.daemon import serve  # noqa: PLC0415 (the daemon's imports are heavy)
    from gateway.logs import configure  # noqa: PLC0415

    level = LOG_LEVELS.get(os.environ.get("CARM_LOG_LEVEL", "info").lower())
    if level is None:
        raise UsageError(f"CARM_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    configure(level=level)
    load_registry(config.partners_file)
    asyncio.run(serve(config, arguments.config))
    return EXIT_OK


def _validate(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.validate import validate  # noqa: PLC0415

    received = parse_moment(arguments.received) if arguments.received else datetime.now(UTC)
    explicit = find_config_path(arguments.config, os.environ)[1]
    return validate(arguments.files, config=config, stateful=explicit, received_at=received,
                    sender=arguments.sender, as_json=arguments.json)


def _convert(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.convert import convert  # noqa: PLC0415

    return convert(config, arguments.file)


def _due(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.due import due  # noqa: PLC0415

    return due(config, arguments.kind, parse_moment(arguments.received), arguments.json)


def _submit(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.submit import submit  # noqa: PLC0415

    return submit(config, arguments.files, sender=arguments.sender,
                  username=arguments.username, password_file=arguments.password_file,
                  timeout_s=arguments.timeout, as_json=arguments.json)


def _ledger(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands import ledger  # noqa: PLC0415

    if arguments.ledger_command == "balance":
        return ledger.balance(config, arguments.account, arguments.json)
    if arguments.ledger_command == "statement":
        return ledger.statement(config, arguments.account, arguments.period, arguments.format)
    return ledger.verify_ledger(config, arguments.json)


def _cases(config: Config, arguments: argparse.Namespace) -> int:
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


def _dead_letters(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands import dlq  # noqa: PLC0415

    if arguments.dlq_command == "list":
        return dlq.list_dead(config, arguments.json, arguments.all)
    if arguments.dlq_command == "show":
        return dlq.show_dead(config, arguments.id, arguments.json)
    if arguments.dlq_command == "replay":
        if (arguments.id is None) == (not arguments.all):
            raise UsageError("dlq replay takes an ID or --all")
        return dlq.replay(config, arguments.id, arguments.all)
    return dlq.discard(config, arguments.id, arguments.reason)


def _status(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.status import status  # noqa: PLC0415

    return status(config, arguments.json)


def _backup(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.data import backup  # noqa: PLC0415

    return backup(config, arguments.destination)


def _purge(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.data import purge  # noqa: PLC0415
    from gateway.commands.sla import parse_day  # noqa: PLC0415

    return purge(config, parse_day(arguments.before) if arguments.before else None,
                 arguments.json)


def _sla(config: Config, arguments: argparse.Namespace) -> int:
    from gateway.commands.sla import parse_day, sla_report  # noqa: PLC0415

    return sla_report(config, parse_day(arguments.first), parse_day(arguments.last),
                      arguments.chart, arguments.json)


COMMANDS: dict[str, Handler] = {
    "run": _run, "check-config": _check_config, "validate": _validate, "convert": _convert,
    "due": _due, "submit": _submit, "ledger": _ledger, "appeals": _cases, "requests": _cases,
    "dlq": _dead_letters, "status": _status, "backup": _backup, "purge": _purge, "sla": _sla,
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return COMMANDS[arguments.command](load_config(arguments.config), arguments)
    except ConfigError as error:
        print(f"carm-gateway: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as error:
        print(f"carm-gateway: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
