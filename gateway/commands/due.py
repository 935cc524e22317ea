"""`carm-gateway due --kind KIND --received ISO-TIME`: the RespondBy of a message."""

import json
from datetime import datetime

from gateway.commands import EXIT_OK, UsageError
from gateway.config import Config
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.deadlines import respond_by

KINDS = ("declaration", "payment", "appeal", "account-request")


def in_words(moment: datetime) -> str:
    """`Tuesday 24 November 2026, 18:00 EST`: the local wall time a person reads."""
    return f"{moment:%A} {moment.day} {moment:%B %Y, %H:%M} {moment.tzname()}"


def due(config: Config, kind: str, received: datetime, as_json: bool) -> int:
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    calendar = BusinessCalendar(config.calendar)
    standard = config.standards.for_kind(kind)
    local = respond_by(calendar, standard, received).astimezone(calendar.zone)
    if as_json:
        print(json.dumps({"kind": kind, "standard": str(standard), "received": received.isoformat(),
                          "respond_by": local.isoformat(timespec="seconds"),
                          "respond_by_words": in_words(local)}))
    else:
        print(local.isoformat(timespec="seconds"))
        print(in_words(local))
    return EXIT_OK
