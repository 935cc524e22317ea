"""The benchmark's own peers: a mosquitto configured as the project ships it, the daemon,
and readings of a process's CPU time and memory from /proc.

The test suite's helpers (`tests/support/peers.py`: free ports, the daemon's configuration and
process) are reused by path, so the benchmark starts the daemon exactly as the tests do.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for entry in (str(REPO), str(REPO / "tests")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from support.peers import Daemon, free_port, wait_for_port, write_config  # noqa: E402

SHIPPED_BROKER_CONFIG = REPO / "config" / "mosquitto" / "local.conf"
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
STOP_GRACE_S = 10.0

__all__ = ["Broker", "Daemon", "ProcessReading", "free_port", "read_process",
           "stop_daemon", "wait_for_port", "write_config"]


def broker_config(port: int, directory: Path, extra: str = "") -> str:
    """config/mosquitto/local.conf with its listener moved to `port` and its files into
    `directory`; every limit it sets (in-flight window, queue, message size) is kept."""
    replacements = {
        "listener": f"listener {port} 127.0.0.1",
        "persistence_location": f"persistence_location {directory}/",
        "log_dest": f"log_dest file {directory}/mosquitto.log",
    }
    lines = []
    for line in SHIPPED_BROKER_CONFIG.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if word == "user":
            continue
        lines.append(replacements.get(word, line))
    # as root, mosquitto would switch to its own user, which cannot write our directory
    lines.append(f"user {getpass.getuser()}")
    return "\n".join(lines) + "\n" + extra


@dataclass
class Broker:
    directory: Path
    port: int = field(default_factory=free_port)
    extra: str = ""
    """Lines added to the shipped configuration (a diagnostic such as set_tcp_nodelay)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "mosquitto.conf"
        config.write_text(broker_config(self.port, self.directory, self.extra), encoding="utf-8")
        self.process = subprocess.Popen(["mosquitto", "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=STOP_GRACE_S)
        self.process = None


@dataclass(frozen=True)
class ProcessReading:
    """CPU seconds (user + system) and memory of a process and its live descendants."""

    cpu_s: float
    rss_bytes: int
    hwm_bytes: int
    """Sum of each process's peak resident set (VmHWM): an upper bound of the peak total."""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found += [int(child) for child in text.split()]
    return found


def _tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += _children(current)
    return pids


def _one(pid: int) -> tuple[float, int, int]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0, 0
    fields = stat[stat.rindex(")") + 2:].split()
    # utime, stime, cutime, cstime are fields 14 to 17 of stat (12 to 15 after the name)
    ticks = sum(int(value) for value in fields[11:15])
    rss = hwm = 0
    for name, target in (("VmRSS", "rss"), ("VmHWM", "hwm")):
        match = re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            if target == "rss":
                rss = int(match[1]) * 1024
            else:
                hwm = int(match[1]) * 1024
    return ticks / CLOCK_TICKS_PER_S, rss, hwm


def read_process(pid: int) -> ProcessReading:
    cpu = 0.0
    rss = hwm = 0
    for member in _tree(pid):
        member_cpu, member_rss, member_hwm = _one(member)
        cpu += member_cpu
        rss += member_rss
        hwm += member_hwm
    return ProcessReading(cpu, rss, hwm)


def stop_daemon(daemon: Daemon, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM (the daemon drains), a second SIGTERM after `grace_s` (it exits at once),
    SIGKILL as the last resort: a benchmark never waits for a long backlog to drain."""
    process = daemon.process
    if process is None or process.poll() is not None:
        daemon.process = None
        return
    for signal_number, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGTERM, 5.0),
                                  (signal.SIGKILL, 5.0)):
        process.send_signal(signal_number)
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    daemon.process = None
