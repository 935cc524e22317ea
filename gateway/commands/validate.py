"""`carm-gateway validate FILE...`: the checks of the pipeline, offline.

Without an explicit configuration: stages 1 to 4, ACC001, TXN001 and the business rules that
need no state. With one: also stages 5 and 6 and the stateful rules against its database,
which is only read (nothing is posted).
"""

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.codec.classify import syntax_of
from gateway.codec.edifact import tokenize
from gateway.codec.messages import Message
from gateway.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from gateway.config import Config
from gateway.edifact_flow import check_part
from gateway.handling import HandlerContext
from gateway.partners import Registry, load_registry
from gateway.routing import route
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by
from gateway.store.database import Database, open_database
from gateway.validation.pipeline import Checked, CheckSettings, Sending, check
from gateway.validation.problems import Problem, has_errors


@dataclass(frozen=True)
class FileReport:
    file: str
    checked: Checked | None
    problems: tuple[Problem, ...]
    unreadable: str | None = None


def _stateful(database: Database, message: Message, sender: str, received_at: datetime,
              calendar: BusinessCalendar, config: Config) -> list[Problem]:
    context = HandlerContext(
        inbox_id=0, sender=sender, received_at=received_at,
        respond_by=respond_by(calendar, config.standards.for_kind(message.kind), received_at),
        calendar=calendar, billing=config.billing, post=False,
    )
    result = database.read_sync(lambda tx: route(tx, message, context))
    return list(result.problems)


def _open_existing(config: Config) -> Database | None:
    """The configured database if it exists; validate never creates one."""
    url = config.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return open_database(url)


def check_file(path: str, *, config: Config, registry: Registry | None,
               database: Database | None, received_at: datetime, sender: str | None,
               calendar: BusinessCalendar) -> FileReport:
    try:
        payload = Path(path).read_bytes()
    except OSError as error:
        return FileReport(path, None, (), unreadable=error.strerror or str(error))
    settings = CheckSettings(config.gateway.max_message_bytes, config.transaction_check_digit)
    if syntax_of(payload) == "edifact" and len(payload) <= settings.max_message_bytes:
        return _check_interchange(path, payload, settings=settings, config=config,
                                  registry=registry, database=database, received_at=received_at,
                                  sender=sender, calendar=calendar)
    first = check(payload, settings=settings, sending=None, received_at=received_at,
                  calendar=calendar)
    if registry is None or first.message is None:
        return FileReport(path, first, first.problems)
    topic_sender = sender or first.message.header.sender
    checked = check(payload, settings=settings, sending=Sending(topic_sender, registry),
                    received_at=received_at, calendar=calendar)
    problems = list(checked.problems)
    if database is not None and checked.message is not None and not checked.rejected:
        problems += _stateful(database, checked.message, topic_sender, received_at, calendar,
                              config)
    return FileReport(path, checked, tuple(problems))


def _check_interchange(path: str, payload: bytes, *, settings: CheckSettings, config: Config,
                       registry: Registry | None, database: Database | None,
                       received_at: datetime, sender: str | None,
                       calendar: BusinessCalendar) -> FileReport:
    """Every message of an EDIFACT interchange through the same stages as XML; LINE is the
    segment number."""
    interchange = tokenize(payload)
    problems = list(interchange.problems)
    last: Checked | None = None
    if interchange.sound:
        topic_sender = sender or interchange.sender
        sending = Sending(topic_sender, registry) if registry is not None else None
        for index in range(len(interchange.messages)):
            last = check_part(payload, index, settings=settings, sending=sending,
                              received_at=received_at, calendar=calendar)
            problems += last.problems
            if database is not None and last.message is not None and not last.rejected:
                problems += _stateful(database, last.message, topic_sender, received_at,
                                      calendar, config)
    return FileReport(path, last, tuple(problems))


def _line(report: FileReport, item: Problem) -> str:
    return f"{report.file}:{item.line or 0}: {item.severity} {item.code} {item.path or '-'}: " \
           f"{item.text}"


def _json(report: FileReport) -> dict[str, object]:
    checked = report.checked
    return {
        "file": report.file,
        "kind": checked.kind if checked else None,
        "reference": checked.reference if checked else None,
        "valid": report.unreadable is None and not has_errors(report.problems),
        "error": report.unreadable,
        "problems": [
            {"line": p.line or 0, "severity": p.severity, "code": p.code, "path": p.path,
             "text": p.text}
            for p in report.problems
        ],
    }


def validate(files: Sequence[str], *, config: Config, stateful: bool, received_at: datetime,
             sender: str | None, as_json: bool) -> int:
    calendar = BusinessCalendar(config.calendar)
    registry = load_registry(config.partners_file) if stateful else None
    database = _open_existing(config) if stateful else None
    try:
        reports = [
            check_file(path, config=config, registry=registry, database=database,
                       received_at=received_at, sender=sender, calendar=calendar)
            for path in files
        ]
    finally:
        if database is not None:
            database.close_sync()
    if as_json:
        print(json.dumps([_json(report) for report in reports], indent=2))
    else:
        for report in reports:
            if report.unreadable is not None:
                print(f"carm-gateway: {report.file}: cannot read: {report.unreadable}",
                      file=sys.stderr)
            for item in report.problems:
                print(_line(report, item))
    if any(report.unreadable for report in reports):
        return EXIT_USAGE
    if any(has_errors(report.problems) for report in reports):
        return EXIT_FAILED
    return EXIT_OK
