"""The fault-injection suite: a short profile by default, a long one with more seeds
(CARM_FAULT_PROFILE=long); a report of each fault, runs, messages and invariants."""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

PROFILE = os.environ.get("CARM_FAULT_PROFILE", "short")
SEEDS = [11, 23] if PROFILE == "short" else list(range(1, 21))
MESSAGES = 30 if PROFILE == "short" else 200


@dataclass
class Run:
    fault: str
    seed: int | None
    messages: int
    held: bool
    detail: str


RUNS: list[Run] = []


@pytest.fixture
def report() -> Iterator[list[Run]]:
    yield RUNS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RUNS:
        return
    terminalreporter.section(f"fault report ({PROFILE} profile)")
    terminalreporter.write_line(f"{'fault':<46} {'seed':>5} {'messages':>8}  invariants")
    for run in RUNS:
        verdict = "I1-I5 held" if run.held else f"BROKEN: {run.detail}"
        terminalreporter.write_line(f"{run.fault:<46} {run.seed or '-'!s:>5} "
                                    f"{run.messages:>8}  {verdict}")
