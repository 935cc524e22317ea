"""Service-standard compliance (CONTRACT section 6): per kind, period and sender.

Pure: rows in, counts out. A deadline is met when its clock stopped by RespondBy, late when it
stopped after or still runs past it, open while it runs before it or is paused before it.
Compliance is met over met plus late; open deadlines do not count yet.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

State = Literal["met", "late", "open"]
SLOWEST_SHOWN = 5


@dataclass(frozen=True)
class Deadline:
    inbox_id: int
    sender: str
    kind: str
    message_id: str | None
    received_at: datetime
    respond_by: datetime
    stopped_at: datetime | None
    paused_at: datetime | None = None
    """When a case awaiting the client's information paused the clock (RespondBy moves by the
    pause when the case resumes)."""

    def state(self, now: datetime) -> State:
        if self.stopped_at is not None:
            return "met" if self.stopped_at <= self.respond_by else "late"
        running_until = self.paused_at or now
        return "late" if running_until > self.respond_by else "open"

    def taken_s(self, now: datetime) -> int:
        return int(((self.stopped_at or now) - self.received_at).total_seconds())


@dataclass
class Tally:
    due: int = 0
    met: int = 0
    late: int = 0
    open: int = 0

    def add(self, state: State) -> None:
        self.due += 1
        setattr(self, state, getattr(self, state) + 1)

    @property
    def percent(self) -> Decimal | None:
        closed = self.met + self.late
        if closed == 0:
            return None
        return (Decimal(self.met) * 100 / closed).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class Report:
    first: date
    last: date
    target_percent: Decimal
    by_kind_period: dict[tuple[str, str], Tally] = field(default_factory=dict)
    by_sender: dict[str, Tally] = field(default_factory=dict)
    by_day: dict[date, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)
    slowest: list[Deadline] = field(default_factory=list)

    def meets_target(self, tally: Tally) -> bool | None:
        percent = tally.percent
        return None if percent is None else percent >= self.target_percent


def compile_report(deadlines: Iterable[Deadline], *, first: date, last: date,
                   target_percent: Decimal, zone: ZoneInfo, now: datetime) -> Report:
    """Tally deadlines that fall due on Eastern dates from `first` to `last` inclusive."""
    report = Report(first, last, target_percent)
    chosen = []
    for deadline in deadlines:
        due_day = deadline.respond_by.astimezone(zone).date()
        if not first <= due_day <= last:
            continue
        state = deadline.state(now)
        period = f"{due_day:%Y-%m}"
        report.by_kind_period.setdefault((deadline.kind, period), Tally()).add(state)
        report.by_sender.setdefault(deadline.sender, Tally()).add(state)
        report.by_day.setdefault(due_day, Tally()).add(state)
        report.total.add(state)
        chosen.append(deadline)
    report.slowest = sorted(chosen, key=lambda d: d.taken_s(now), reverse=True)[:SLOWEST_SHOWN]
    return report
