"""`carm-gateway appeals ...` and `carm-gateway requests ...`: the operator's case desk."""

import json
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from gateway.appeals.cases import (
    Case,
    CaseDesk,
    CaseError,
    StepRequest,
    case_steps,
    find_case,
    list_cases,
)
from gateway.commands import EXIT_FAILED, EXIT_OK, UsageError
from gateway.commands.ledger import open_existing_database
from gateway.config import Config
from gateway.money import format_amount
from gateway.partners import load_registry
from gateway.standards.calendar import BusinessCalendar

CASE_TYPES = {"appeals": "appeal", "requests": "account-request"}
STEPS = ("acknowledge", "review", "resume", "request-info", "withdraw", "decide")


def operator() -> str:
    """Who takes the step: CARM_OPERATOR, else the invoking user."""
    for variable in ("CARM_OPERATOR", "SUDO_USER", "USER", "LOGNAME"):
        if os.environ.get(variable):
            return f"operator:{os.environ[variable]}"
    return "operator:unknown"


def _amount(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--amount is not an amount: {text}") from None


def _case_json(case: Case, now: datetime) -> dict[str, object]:
    return {
        "case": case.case_number, "type": case.case_type, "subtype": case.subtype,
        "account": case.importer_account, "sender": case.sender, "reference": case.reference,
        "status": case.status, "opened_at": case.opened_at.isoformat(),
        "respond_by": case.respond_by.isoformat(),
        "clock_stopped_at": case.clock_stopped_at.isoformat() if case.clock_stopped_at else None,
        "client_answer_due": (case.client_answer_due.isoformat()
                              if case.client_answer_due else None),
        "age_days": (now - case.opened_at).days, "overdue": case.overdue(now),
        "outcome": case.outcome,
        "amount": format_amount(case.decided_amount) if case.decided_amount is not None else None,
    }


def list_command(config: Config, group: str, status: str | None, overdue: bool,
                 as_json: bool, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    database = open_existing_database(config)
    try:
        cases = database.read_sync(lambda tx: list_cases(tx, CASE_TYPES[group], status))
    finally:
        database.close_sync()
    if overdue:
        cases = [case for case in cases if case.overdue(now)]
    if as_json:
        print(json.dumps([_case_json(case, now) for case in cases], indent=2))
        return EXIT_OK
    zone = BusinessCalendar(config.calendar).zone
    print(f"{'case':<16} {'status':<21} {'account':<16} {'reference':<16} {'age':>4} "
          f"{'respond by':<17}")
    for case in cases:
        mark = "  OVERDUE" if case.overdue(now) else ""
        print(f"{case.case_number:<16} {case.status:<21} {case.importer_account:<16} "
              f"{(case.reference or '-')[:16]:<16} {(now - case.opened_at).days:>4} "
              f"{case.respond_by.astimezone(zone):%Y-%m-%d %H:%M}{mark}")
    return EXIT_OK


def show_command(config: Config, group: str, case_number: str, as_json: bool,
                 now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    database = open_existing_database(config)
    try:
        case, steps = database.read_sync(
            lambda tx: (find_case(tx, case_number), case_steps(tx, case_number)))
    finally:
        database.close_sync()
    if case is None or case.case_type != CASE_TYPES[group]:
        print(f"carm-gateway: no {CASE_TYPES[group]} case {case_number}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps({**_case_json(case, now), "steps": [
            {"at": step.at.isoformat(), "step": step.step, "actor": step.actor,
             "note": step.note} for step in steps]}, indent=2))
        return EXIT_OK
    zone = BusinessCalendar(config.calendar).zone
    for key, value in _case_json(case, now).items():
        print(f"{key + ':':<19}{value if value is not None else '-'}")
    print("steps:")
    for step in steps:
        print(f"  {step.at.astimezone(zone):%Y-%m-%d %H:%M %Z}  {step.step:<13} {step.actor}"
              f"{': ' + step.note if step.note else ''}")
    return EXIT_OK


def step_command(config: Config, group: str, step: str, case_number: str, *,
                 note: str | None, outcome: str | None, amount: str | None,
                 now: datetime | None = None) -> int:
    if step in ("request-info", "withdraw", "decide") and not note:
        raise UsageError(f"{step} needs --reason TEXT")
    request = StepRequest(case_number, step, operator(), note, outcome, _amount(amount))
    desk = CaseDesk(config, load_registry(config.partners_file),
                    BusinessCalendar(config.calendar))
    database = open_existing_database(config)
    try:
        case = database.transaction_sync(
            lambda tx: desk.take(tx, request, now or datetime.now(UTC), CASE_TYPES[group]))
    except CaseError as error:
        print(f"carm-gateway: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        database.close_sync()
    print(f"{case.case_number}: {case.status}")
    return EXIT_OK
