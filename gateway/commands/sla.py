"""`carm-gateway sla report --from DATE --to DATE [--chart FILE] [--json]`."""

import json
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path

from gateway.commands import EXIT_OK, UsageError
from gateway.config import Config
from gateway.standards.calendar import BusinessCalendar
from gateway.standards.compliance import Deadline, Report, Tally, compile_report
from gateway.store.database import Tx, open_database

CHART_WIDTH_PX = 720
CHART_HEIGHT_PX = 240


def load_deadlines(tx: Tx) -> list[Deadline]:
    rows = tx.all("SELECT inbox.id, inbox.sender, kind, message_id, received_at,"
                  " inbox.respond_by, inbox.clock_stopped_at, cases.info_requested_at"
                  " FROM inbox LEFT JOIN cases ON cases.inbox_id = inbox.id"
                  " ORDER BY inbox.id")
    return [
        Deadline(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3]),
                 datetime.fromisoformat(str(r[4])), datetime.fromisoformat(str(r[5])),
                 _moment(r[6]), _moment(r[7]))
        for r in rows
    ]


def _moment(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _percent(tally: Tally) -> str:
    percent = tally.percent
    return "-" if percent is None else f"{percent} %"


def _tally_json(report: Report, tally: Tally) -> dict[str, object]:
    percent = tally.percent
    return {"due": tally.due, "met": tally.met, "late": tally.late, "open": tally.open,
            "compliance_percent": None if percent is None else str(percent),
            "meets_target": report.meets_target(tally)}


def as_json(report: Report, zone_now: datetime) -> str:
    return json.dumps({
        "from": report.first.isoformat(), "to": report.last.isoformat(),
        "target_percent": str(report.target_percent),
        "generated_at": zone_now.isoformat(timespec="seconds"),
        "total": _tally_json(report, report.total),
        "by_kind": [{"kind": kind, "period": period, **_tally_json(report, tally)}
                    for (kind, period), tally in sorted(report.by_kind_period.items())],
        "by_sender": [{"sender": sender, **_tally_json(report, tally)}
                      for sender, tally in sorted(report.by_sender.items())],
        "slowest": [{"inbox_id": d.inbox_id, "sender": d.sender, "kind": d.kind,
                     "message_id": d.message_id, "received_at": d.received_at.isoformat(),
                     "respond_by": d.respond_by.isoformat(),
                     "stopped_at": d.stopped_at.isoformat() if d.stopped_at else None}
                    for d in report.slowest],
    }, indent=2)


def as_text(report: Report, now: datetime) -> str:
    verdict = {True: "meets target", False: "BELOW TARGET", None: ""}
    lines = [f"Service-standard compliance, deadlines due {report.first} to {report.last} "
             f"(target {report.target_percent} %)", ""]
    lines.append(f"{'kind':<16} {'period':<8} {'due':>5} {'met':>5} {'late':>5} {'open':>5} "
                 f"{'compliance':>11}")
    rows = sorted(report.by_kind_period.items())
    for (kind, period), tally in rows:
        mark = verdict[report.meets_target(tally)]
        lines.append(f"{kind:<16} {period:<8} {tally.due:>5} {tally.met:>5} {tally.late:>5} "
                     f"{tally.open:>5} {_percent(tally):>11}  {mark}")
    total = report.total
    lines.append(f"{'all':<16} {'':<8} {total.due:>5} {total.met:>5} {total.late:>5} "
                 f"{total.open:>5} {_percent(total):>11}  {verdict[report.meets_target(total)]}")
    lines += ["", f"{'sender':<32} {'due':>5} {'met':>5} {'late':>5} {'open':>5} "
                  f"{'compliance':>11}"]
    for sender, tally in sorted(report.by_sender.items()):
        lines.append(f"{sender:<32} {tally.due:>5} {tally.met:>5} {tally.late:>5} "
                     f"{tally.open:>5} {_percent(tally):>11}")
    if report.slowest:
        lines += ["", "Slowest:"]
        for deadline in report.slowest:
            hours = deadline.taken_s(now) / 3600
            state = deadline.state(now)
            lines.append(f"  {deadline.kind} {deadline.message_id or '-'} from {deadline.sender}:"
                         f" {hours:.1f} h, {state} (respond by {deadline.respond_by:%Y-%m-%d %H:%M}"
                         " UTC)")
    return "\n".join(lines)


def as_chart(report: Report) -> str:
    """Daily compliance as bars in an SVG inside a small HTML page."""
    days = sorted(report.by_day)
    bar_px = max(4, (CHART_WIDTH_PX - 40) // max(1, len(days)))
    target_y = CHART_HEIGHT_PX - 20 - float(report.target_percent) * 2
    bars = []
    for index, day in enumerate(days):
        tally = report.by_day[day]
        percent = tally.percent
        height = 0.0 if percent is None else float(percent) * 2
        colour = "#2b8a3e" if report.meets_target(tally) else "#c92a2a"
        x = 40 + index * bar_px
        bars.append(
            f'<rect x="{x}" y="{CHART_HEIGHT_PX - 20 - height:.1f}" width="{bar_px - 2}" '
            f'height="{height:.1f}" fill="{colour}"><title>{escape(day.isoformat())}: '
            f"{escape(_percent(tally))} of {tally.met + tally.late} closed</title></rect>"
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH_PX}" '
        f'height="{CHART_HEIGHT_PX}">'
        f'<line x1="40" x2="{CHART_WIDTH_PX}" y1="{target_y:.1f}" y2="{target_y:.1f}" '
        'stroke="#555" stroke-dasharray="4"/>'
        f'<text x="0" y="{target_y + 4:.1f}" font-size="11">{report.target_percent}%</text>'
        + "".join(bars) + "</svg>"
    )
    title = f"Daily compliance {report.first} to {report.last}"
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"</head><body><h1>{escape(title)}</h1>{svg}<p>Bars: share of deadlines due that day"
            " whose clock stopped in time; dashed line: the target.</p></body></html>\n")


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"not a date like 2026-11-01: {text}") from None


def sla_report(config: Config, first: date, last: date, chart: Path | None,
               json_output: bool, now: datetime | None = None) -> int:
    if last < first:
        raise UsageError("--to is before --from")
    if chart is not None and chart.suffix.lower() not in (".html", ".htm", ".svg"):
        raise UsageError(f"{chart}: the chart is written as HTML (.html) or SVG (.svg)")
    now = now or datetime.now(UTC)
    calendar = BusinessCalendar(config.calendar)
    database = open_database(config.database_url)
    try:
        deadlines = database.read_sync(load_deadlines)
    finally:
        database.close_sync()
    report = compile_report(deadlines, first=first, last=last,
                            target_percent=config.standards.target_percent, zone=calendar.zone,
                            now=now)
    print(as_json(report, now.astimezone(calendar.zone)) if json_output else as_text(report, now))
    if chart is not None:
        page = as_chart(report)
        if chart.suffix.lower() == ".svg":
            page = page[page.index("<svg"):page.index("</svg>") + 6] + "\n"
        try:
            chart.write_text(page, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"{chart}: cannot write: {error.strerror}") from None
    return EXIT_OK
