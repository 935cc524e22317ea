"""The benchmark does not rot: its smoke profile runs every part end to end (a real mosquitto,
the daemon, aiosmtpd, SQLite) in well under a minute and prints one JSON line per figure."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMOKE_BOUND_S = 150
EXPECTED_FIGURES = (
    "check, 10-line declaration",
    "sustained rate, 10-line declarations, end to end",
    "latency at half the max rate",
    "CPU per message, 10-line declarations",
    "ingest (journalled, PUBACK sent)",
    "peak RSS of the service's processes",
    "READY after start",
    "email delivery, outbox -> SmtpSender",
    "processing per message, 20,000 vs 1,000 prior entries",
    "processing per message, interchange of 100 messages",
)
MAY_BE_ZERO_OR_LESS = ("RSS growth",)
"""Figures that are differences, not amounts."""


@pytest.mark.slow
@pytest.mark.timeout(SMOKE_BOUND_S + 30)
@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")
def test_smoke_profile_prints_a_positive_figure_per_json_line() -> None:
    """`bench/run.py --profile smoke` exits 0 and prints, for every part of the benchmark, JSON
    lines with a positive value, and a positive ratio wherever a baseline was measured."""
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--profile", "smoke"],
        capture_output=True, text=True, timeout=SMOKE_BOUND_S, cwd=REPO, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    figures = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    names = [figure["figure"] for figure in figures]
    for expected in EXPECTED_FIGURES:
        assert any(name.startswith(expected) for name in names), (expected, names)
    for figure in figures:
        assert {"figure", "value", "unit", "baseline", "ratio"} <= figure.keys()
        if any(word in figure["figure"] for word in MAY_BE_ZERO_OR_LESS):
            assert isinstance(figure["value"], float)
            continue
        assert figure["value"] > 0, figure
        if figure["baseline"] is not None:
            assert figure["baseline"] > 0, figure
            assert figure["ratio"] > 0, figure
    assert "figure" in result.stdout.splitlines()[0]
