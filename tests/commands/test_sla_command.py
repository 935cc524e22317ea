"""`carm-gateway sla report`: met, late and open deadlines per kind, period and sender."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support.pipeline import Harness, example

from gateway.commands.sla import sla_report
from gateway.config import build_config


@pytest.fixture
def filled(tmp_path: Path) -> Harness:
    """Three declarations received Monday 2026-11-23: one answered in time, one answered
    late, one still open."""
    harness = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    harness.submit(example("declaration.xml"))
    harness.submit(example("declaration-contract.xml"))
    harness.submit(example("invalid-dec001-declared-totals.xml"))
    respond_by = datetime.fromisoformat(str(harness.scalar("SELECT respond_by FROM inbox")))

    def stop(inbox_id: int, at: datetime) -> None:
        harness.database.transaction_sync(lambda tx: tx.execute(
            "UPDATE inbox SET clock_stopped_at = ? WHERE id = ?", (at.isoformat(), inbox_id)))

    stop(1, respond_by - timedelta(hours=1))
    stop(2, respond_by + timedelta(hours=1))
    harness.close()
    return harness


def test_report_counts_met_late_and_open(filled: Harness, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Before the deadline passes, the unanswered one is open; compliance is met over closed."""
    config = build_config({"database": {"url": f"sqlite:///{tmp_path}/gateway.db"}})
    chart = tmp_path / "chart.html"
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert sla_report(config, date(2026, 11, 1), date(2026, 11, 30), chart, True, now) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == {"due": 3, "met": 1, "late": 1, "open": 1,
                               "compliance_percent": "50.0", "meets_target": False}
    assert report["by_kind"][0]["kind"] == "declaration"
    assert report["by_kind"][0]["period"] == "2026-11"
    assert report["by_sender"][0]["sender"] == "BRK42"
    assert len(report["slowest"]) == 3
    page = chart.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<rect" in page


def test_open_deadline_past_due_is_late(filled: Harness, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Once its RespondBy has passed, a running clock counts as late; text output."""
    config = build_config({"database": {"url": f"sqlite:///{tmp_path}/gateway.db"}})
    now = datetime(2026, 12, 1, tzinfo=UTC)
    sla_report(config, date(2026, 11, 1), date(2026, 11, 30), None, False, now)
    text = capsys.readouterr().out
    assert "BELOW TARGET" in text
    assert "declaration      2026-11      3     1     2     0      33.3 %" in text


def test_range_outside_the_deadlines_is_empty(filled: Harness, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Deadlines due outside --from/--to are not counted."""
    config = build_config({"database": {"url": f"sqlite:///{tmp_path}/gateway.db"}})
    sla_report(config, date(2026, 10, 1), date(2026, 10, 31), None, True)
    assert json.loads(capsys.readouterr().out)["total"]["due"] == 0


def test_a_paused_account_request_is_open_and_a_withdrawal_keeps_the_pause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An account request awaiting the client's information is not late while paused, even
    past its RespondBy; withdrawn while paused, its RespondBy moves by the business time the
    pause took, as a resume would have moved it."""
    from gateway.appeals.cases import CaseDesk, StepRequest  # noqa: PLC0415

    harness = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    eastern = "-05:00"
    harness.clock[0] = datetime.fromisoformat("2026-11-02T10:00:00" + eastern)
    case = harness.submit(example("account-request.xml")).case_number
    assert case is not None
    desk = CaseDesk(harness.config, harness.registry, harness.processor.calendar)

    def step(name: str, at: str, note: str | None = None) -> None:
        request = StepRequest(case, name, "operator:test", note=note)
        harness.database.transaction_sync(lambda tx: desk.take(
            tx, request, datetime.fromisoformat(at + eastern), "account-request"))

    step("acknowledge", "2026-11-02T11:00:00")
    step("review", "2026-11-03T11:00:00")
    step("request-info", "2026-11-04T11:00:00", "send the invoice")
    config = build_config({"database": {"url": f"sqlite:///{tmp_path}/gateway.db"}})
    november = (date(2026, 11, 1), date(2026, 11, 30))
    capsys.readouterr()  # the log lines so far
    sla_report(config, *november, None, True, datetime(2026, 11, 25, 17, tzinfo=UTC))
    total = json.loads(capsys.readouterr().out)["total"]
    assert (total["open"], total["late"]) == (1, 0), "RespondBy 2026-11-17 passed while paused"
    # 10 business days from 11-02 10:00: 11-16 10:00, and 11-11 (Remembrance Day) is not one:
    # 11-17 10:00. Paused 11-04 11:00 with 8 business days and 23 hours left (11-04 11:00 to
    # 11-17 10:00), withdrawn 11-30 12:00: those 8 days 23 hours again from then, 12-10 11:00.
    step("withdraw", "2026-11-30T12:00:00", "the client gave up")
    respond_by = datetime.fromisoformat(str(harness.scalar("SELECT respond_by FROM inbox")))
    assert respond_by == datetime.fromisoformat("2026-12-10T11:00:00" + eastern)
    capsys.readouterr()
    sla_report(config, date(2026, 12, 1), date(2026, 12, 31), None, True,
               datetime(2026, 12, 11, tzinfo=UTC))
    assert json.loads(capsys.readouterr().out)["total"]["met"] == 1
    harness.close()
