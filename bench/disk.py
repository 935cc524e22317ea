"""How long the disk takes to flush while a phase runs: a probe beside the daemon.

Every journal commit waits for a disk flush (synchronous=FULL), and so does every answer. A
thread of the benchmark writes 4 KiB to a file of its own, on the daemon's file system, and
flushes it (`fdatasync`), every 10 ms, timing each flush. A flush that takes 100 ms here
took as long for the daemon's commits at that moment, whatever the daemon does: that is the
machine. The same probe during the echo client's phase, where nothing of the gateway writes,
is the baseline.
"""

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

PROBE_INTERVAL_S = 0.01
PROBE_BYTES = 4096
PROBE_SAMPLES_MAX = 200_000
"""At one flush per 10 ms, more than 30 minutes: a bound, not a limit any phase meets."""
STALL_MS = 20.0
"""A flush at least this long is counted as a stall: most of the latency target (25 ms)."""


@dataclass(frozen=True)
class Flushes:
    """The flush times of one probe, in milliseconds, in the order they were taken."""

    samples_ms: tuple[float, ...]

    def percentile(self, fraction: float) -> float:
        if not self.samples_ms:
            return 0.0
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def longest_ms(self) -> float:
        return max(self.samples_ms, default=0.0)

    @property
    def stalls(self) -> int:
        return sum(1 for sample in self.samples_ms if sample >= STALL_MS)

    @property
    def stalled_ms(self) -> float:
        """The time spent in stalls, all of them together."""
        return sum(sample for sample in self.samples_ms if sample >= STALL_MS)

    def describe(self) -> str:
        return (f"{len(self.samples_ms)} flushes, p50 {self.percentile(0.5):.2f} ms, p99 "
                f"{self.percentile(0.99):.2f} ms, longest {self.longest_ms:.1f} ms, "
                f"{self.stalls} of {STALL_MS:g} ms or more ({self.stalled_ms:.0f} ms in all)")


class FlushProbe:
    """`with FlushProbe(directory) as probe: ...`, then `probe.flushes()`."""

    def __init__(self, directory: Path, interval_s: float = PROBE_INTERVAL_S) -> None:
        self.path = directory / f".flush-probe-{os.getpid()}"
        self.interval_s = interval_s
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flush-probe", daemon=True)

    def __enter__(self) -> "FlushProbe":
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)
        self.path.unlink(missing_ok=True)

    def flushes(self) -> Flushes:
        return Flushes(tuple(self._samples))

    def _run(self) -> None:
        block = b"\0" * PROBE_BYTES
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while len(self._samples) < PROBE_SAMPLES_MAX and not self._stop.is_set():
                started = time.perf_counter()
                os.pwrite(descriptor, block, 0)
                os.fdatasync(descriptor)
                self._samples.append((time.perf_counter() - started) * 1000)
                self._stop.wait(self.interval_s)
        finally:
            os.close(descriptor)
