"""Named crash points for the fault-injection tests; inert unless the environment names one.

`CARM_FAULT_CRASH_AT=NAME` makes the process exit at once (as `kill -9` would leave it) the
first time it reaches that point. Production never sets it.
"""

import os

CRASH_POINTS = frozenset({
    "before-journal-commit",
    "after-journal-commit",
    "in-handler-transaction",
    "after-handler-commit",
    "in-smtp-conversation",
})
CRASH_EXIT_STATUS = 137


class InjectedFault(RuntimeError):
    """A failure the fault tests asked for."""


def poison_point(message_id: str | None) -> None:
    """`CARM_FAULT_POISON=ID`: processing the message with that MessageID fails every time."""
    poison = os.environ.get("CARM_FAULT_POISON")
    if poison and message_id == poison:
        raise InjectedFault(f"injected failure for {message_id}")


def crash_point(name: str) -> None:
    if name not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {name}")
    if os.environ.get("CARM_FAULT_CRASH_AT") == name:
        os._exit(CRASH_EXIT_STATUS)
