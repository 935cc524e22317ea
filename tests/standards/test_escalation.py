"""Escalation fires once, at the configured share of the window, with an injected clock."""

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from support.pipeline import Harness, example

from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.standards.deadlines import parse_standard
from gateway.standards.escalation import (
    Escalator,
    earliest_escalation,
    elapsed_percent,
    open_deadlines,
)

EASTERN = "-05:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + EASTERN)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    yield opened
    opened.close()


def escalate(harness: Harness, now: datetime) -> list[int]:
    escalator = Escalator(harness.config, harness.processor.calendar)
    return harness.database.transaction_sync(lambda tx: escalator.escalate(tx, now))


def alerts(harness: Harness) -> int:
    return int(harness.scalar("SELECT COUNT(*) FROM outbox WHERE purpose = 'alert'"))  # type: ignore[arg-type]


def test_escalation_fires_once_at_75_percent_of_business_time(harness: Harness) -> None:
    """Received Monday 14:05 Eastern with 2 business days (24 business hours): 75 % is 18
    business hours, reached Wednesday 08:05. The deadline is raised then, once, with an email
    to the operators; after 14:05 it is counted missed, once."""
    harness.clock[0] = at("2026-11-23T14:05:00")
    harness.submit(example("declaration.xml"))
    assert escalate(harness, at("2026-11-25T08:04:00")) == []
    assert alerts(harness) == 0
    assert escalate(harness, at("2026-11-25T08:05:00")) == [1]
    assert escalate(harness, at("2026-11-25T09:00:00")) == []
    assert alerts(harness) == 1
    recipient = harness.scalar("SELECT recipient FROM outbox WHERE purpose = 'alert'")
    assert recipient == "root@localhost"
    escalate(harness, at("2026-11-25T14:06:00"))
    escalate(harness, at("2026-11-25T15:00:00"))
    assert harness.scalar("SELECT missed_at FROM inbox") == at("2026-11-25T14:06:00").isoformat()
    assert alerts(harness) == 1


def test_a_stopped_clock_is_never_escalated(harness: Harness) -> None:
    """Once the answer is delivered the deadline is met and nothing is raised."""
    harness.clock[0] = at("2026-11-23T14:05:00")
    harness.submit(example("declaration.xml"))
    harness.database.transaction_sync(lambda tx: tx.execute(
        "UPDATE inbox SET clock_stopped_at = ?", (at("2026-11-23T14:06:00").isoformat(),)))
    assert escalate(harness, at("2026-11-30T12:00:00")) == []
    assert harness.scalar("SELECT missed_at FROM inbox") is None


def test_the_scan_reads_only_clocks_old_enough_to_be_at_risk(harness: Harness) -> None:
    """The scan runs every 30 s: a burst's fresh messages are not read at all. The shortest
    window is one business day (12 hours of business time), so at 75 % nothing received less
    than 9 hours ago can be at risk."""
    assert earliest_escalation(harness.processor.calendar, harness.config.standards
                               .escalate_at_percent).total_seconds() == 9 * 3600
    harness.clock[0] = at("2026-11-23T09:00:00")
    harness.submit(example("declaration.xml"))
    fresh = [harness.journal(example("declaration.xml").replace(b"BRK42-2026-000101", f"BRK42-F{n}"
                                                                 .encode()),
                             at=at("2026-11-23T12:00:00")) for n in range(20)]
    assert None not in fresh
    now = at("2026-11-23T18:30:00")
    before = now - earliest_escalation(harness.processor.calendar, 75)
    found = harness.database.transaction_sync(lambda tx: open_deadlines(tx, "gw1", before))
    assert [deadline.inbox_id for deadline in found] == [1]


def test_the_shortest_window_still_escalates_on_time(harness: Harness) -> None:
    """With one business day for declarations, received Monday 10:00 Eastern: 75 % of 12
    business hours is 9 hours, reached at 19:00 that day, exactly the scan's bound."""
    harness.config = dataclasses.replace(harness.config, standards=dataclasses.replace(
        harness.config.standards, declaration=parse_standard("1 business day")))
    harness.clock[0] = at("2026-11-23T10:00:00")
    harness.submit(example("declaration.xml"))
    assert escalate(harness, at("2026-11-23T18:59:59")) == []
    assert escalate(harness, at("2026-11-23T19:00:00")) == [1]


def test_elapsed_share_of_a_calendar_window() -> None:
    """Calendar-day standards count elapsed time, across the end of daylight saving."""


    calendar = BusinessCalendar(CalendarSettings())
    received = datetime.fromisoformat("2026-10-30T10:00:00-04:00")
    due = datetime.fromisoformat("2026-11-09T09:00:00-05:00")
    standard = parse_standard("10 calendar days")
    assert elapsed_percent(calendar, standard, received, due,
                           datetime.fromisoformat("2026-11-06T09:00:00-05:00")) == 70
