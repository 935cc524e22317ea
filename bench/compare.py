"""Two checkouts of the gateway at a fixed rate, taking turns: CPU, context switches, latency.

`.venv/bin/python bench/compare.py --before DIR --after DIR [--rounds 3] [--rate 240]`

Each round starts a fresh broker and a fresh daemon of each checkout in turn (`before`, then
`after`), warms it with `--warmup-s` seconds in a closed loop (window 500), then sends 10-line
declarations (or `--mix`, e.g. declaration-10-large) at `--rate` a second for `--seconds` and
reads, per answered message: the daemon's CPU time (user and system, per thread), its context
switches (voluntary and not), and the latency from publish to answer (p50, p99, max); and the
disk's flush times beside it (bench/disk.py), so that a run whose tail came from a stall of
the disk says so. On these noisy machines a change shows as
a difference that holds in every round, not in one run; CPU and context switches per message
move less between runs than the p99 does.

A checkout is any directory holding the gateway (`git worktree add DIR COMMIT`); the daemon
runs from it with this virtualenv, the broker, traffic and load process are this checkout's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from disk import FlushProbe  # noqa: E402
from end_to_end import daemon_config  # noqa: E402
from peers import Broker, Daemon, stop_daemon  # noqa: E402
from traffic import make_partners  # noqa: E402

READY_TIMEOUT_S = 30.0
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ThreadTimes:
    user_s: float
    system_s: float
    voluntary: int
    involuntary: int


def thread_times(pid: int) -> dict[str, ThreadTimes]:
    """Each thread of `pid` by name and id: CPU seconds and context switches so far."""
    found = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        base = Path(f"/proc/{pid}/task/{task}")
        try:
            stat = (base / "stat").read_text()
            name = (base / "comm").read_text().strip()
            status = dict(line.split(":", 1) for line in (base / "status").read_text()
                          .splitlines() if ":" in line)
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[f"{name}-{task}"] = ThreadTimes(
            int(fields[11]) / CLOCK_TICKS_PER_S, int(fields[12]) / CLOCK_TICKS_PER_S,
            int(status["voluntary_ctxt_switches"]), int(status["nonvoluntary_ctxt_switches"]))
    return found


def per_message(before: dict[str, ThreadTimes], after: dict[str, ThreadTimes],
                count: int) -> dict[str, dict[str, float]]:
    """Per answered message and thread: CPU ms (user, system) and context switches."""
    rows = {}
    for name, end in after.items():
        start = before.get(name, ThreadTimes(0.0, 0.0, 0, 0))
        rows[name] = {
            "user_ms": (end.user_s - start.user_s) * 1000 / count,
            "system_ms": (end.system_s - start.system_s) * 1000 / count,
            "switches": (end.voluntary - start.voluntary
                         + end.involuntary - start.involuntary) / count,
        }
    return rows


def load(broker: Broker, *options: str, bound_s: float) -> dict[str, object]:
    command = [sys.executable, str(BENCH / "load.py"), "--port", str(broker.port), *options]
    output = subprocess.run(command, capture_output=True, text=True, timeout=bound_s,
                            check=True).stdout
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def one_run(checkout: Path, work: Path, arguments: argparse.Namespace) -> dict[str, object]:
    work.mkdir(parents=True)
    partners = make_partners(arguments.seed).write(work / "partners.toml")
    broker = Broker(work / "broker")
    broker.start()
    daemon = Daemon(daemon_config(work / "daemon", broker, partners),  # its own gateway
                    work / "daemon" / "daemon.log", directory=checkout)
    try:
        daemon.start()
        daemon.wait_ready(timeout_s=READY_TIMEOUT_S)
        assert daemon.process is not None
        pid = daemon.process.pid
        warm = load(broker, "--mode", "closed", "--window", "500", "--seconds",
                    str(arguments.warmup_s), "--stream", "1", "--warmup-s", "1",
                    bound_s=arguments.warmup_s + 120)
        os.sync()
        start = thread_times(pid)
        with FlushProbe(work) as probe:
            result = load(broker, "--mode", "open", "--rate", str(arguments.rate), "--seconds",
                          str(arguments.seconds), "--stream", "2", "--mix", arguments.mix,
                          "--warmup-s", str(min(5.0, arguments.seconds / 5)),
                          bound_s=arguments.seconds + 120)
        end = thread_times(pid)
    finally:
        stop_daemon(daemon)
        broker.stop()
    replies = int(result["replies"])  # type: ignore[call-overload]
    threads = per_message(start, end, max(1, replies))
    flushes = probe.flushes()
    return {
        "checkout": str(checkout), "closed_loop_per_s": warm["rate_per_s"],
        "rate_per_s": result["rate_per_s"],
        "latency_ms": result["latency_ms"], "replies": replies,
        **({"latency_ms_small": result["latency_ms_small"],
            "latency_ms_large": result["latency_ms_large"]} if "large" in arguments.mix else {}),
        "cpu_ms": sum(row["user_ms"] + row["system_ms"] for row in threads.values()),
        "switches": sum(row["switches"] for row in threads.values()),
        "disk_flush_ms": {"p99": round(flushes.percentile(0.99), 3),
                          "longest": round(flushes.longest_ms, 3), "stalls": flushes.stalls},
        "threads": {name: {key: round(value, 3) for key, value in row.items()}
                    for name, row in threads.items()
                    if row["user_ms"] + row["system_ms"] > 0.01},
    }


def revision(checkout: Path) -> str:
    found = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=240.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix", default="declaration-10",
                        help="the measured load's traffic (bench/traffic.py), e.g. "
                             "declaration-10-large")
    arguments = parser.parse_args()
    sides = {"before": arguments.before.resolve(), "after": arguments.after.resolve()}
    results: dict[str, list[dict[str, object]]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="carm-compare-") as directory:
        for number in range(arguments.rounds):
            for side, checkout in sides.items():
                work = Path(directory) / f"{side}-{number}"
                run = one_run(checkout, work, arguments)
                results[side].append(run)
                latency = run["latency_ms"]
                print(f"round {number + 1} {side:6s} ({revision(checkout)}): closed loop "
                      f"{run['closed_loop_per_s']}/s, then {run['rate_per_s']}/s, "
                      f"CPU {run['cpu_ms']:.2f} ms/message, "
                      f"{run['switches']:.1f} switches/message, latency {latency}, disk flush "
                      f"{run['disk_flush_ms']}"
                      + (f", the small ones {run['latency_ms_small']}, the large ones "
                         f"{run['latency_ms_large']}" if "latency_ms_small" in run else ""),
                      flush=True)
                print(json.dumps({"round": number + 1, "side": side, **run}), flush=True)
                time.sleep(1)
    for side, runs in results.items():
        cpu = [float(run["cpu_ms"]) for run in runs]  # type: ignore[arg-type]
        switches = [float(run["switches"]) for run in runs]  # type: ignore[arg-type]
        p99 = [float(run["latency_ms"]["p99"]) for run in runs]  # type: ignore[index]
        print(f"{side}: CPU ms/message median {statistics.median(cpu):.2f} "
              f"({min(cpu):.2f}-{max(cpu):.2f}); switches median "
              f"{statistics.median(switches):.1f}; p99 ms median {statistics.median(p99):.1f} "
              f"({min(p99):.1f}-{max(p99):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
