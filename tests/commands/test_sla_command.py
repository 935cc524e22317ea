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
