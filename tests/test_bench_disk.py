"""The benchmark's disk probe: flush times taken beside a phase, and what they add up to."""

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from disk import STALL_MS, Flushes, FlushProbe  # noqa: E402

PROBE_RUN_S = 0.3


def test_the_probe_times_real_flushes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with FlushProbe(tmp_path, interval_s=0.005) as probe:
        time.sleep(PROBE_RUN_S)
    flushes = probe.flushes()
    assert 3 <= len(flushes.samples_ms) <= PROBE_RUN_S / 0.005 + 1
    assert all(sample > 0 for sample in flushes.samples_ms)
    assert list(tmp_path.iterdir()) == []
    taken = len(flushes.samples_ms)
    time.sleep(0.05)
    assert len(probe.flushes().samples_ms) == taken, "stopped when the phase ended"


def test_stalls_are_the_flushes_of_the_bound_or_longer() -> None:
    flushes = Flushes((0.3, 0.4, STALL_MS, 0.2, 95.0, 0.5, STALL_MS - 0.1))
    assert flushes.stalls == 2
    assert flushes.stalled_ms == STALL_MS + 95.0
    assert flushes.longest_ms == 95.0
    assert flushes.percentile(0.5) == 0.5  # the 4th of 7
    assert flushes.percentile(0.99) == 95.0
    assert "7 flushes" in flushes.describe() and "longest 95.0 ms" in flushes.describe()


def test_a_probe_that_took_nothing_says_so() -> None:
    empty = Flushes(())
    assert (empty.percentile(0.99), empty.longest_ms, empty.stalls) == (0.0, 0.0, 0)
    assert empty.describe().startswith("0 flushes")
