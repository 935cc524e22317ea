"""The case state machine (CONTRACT section 8): the only steps a case may take."""

from typing import Literal

CaseState = Literal[
    "received", "acknowledged", "under_review", "awaiting_information", "decided", "withdrawn"
]

STEPS: dict[str, dict[str, CaseState]] = {
    "received": {"acknowledge": "acknowledged", "withdraw": "withdrawn"},
    "acknowledged": {"review": "under_review", "withdraw": "withdrawn"},
    "under_review": {
        "request-info": "awaiting_information", "decide": "decided", "withdraw": "withdrawn",
    },
    "awaiting_information": {"resume": "under_review", "withdraw": "withdrawn"},
    "decided": {},
    "withdrawn": {},
}
FINAL_STATES = frozenset({"decided", "withdrawn"})


class IllegalStep(ValueError):
    """A step the case table does not allow from the case's state."""


def next_state(state: str, step: str) -> CaseState:
    allowed = STEPS.get(state)
    if allowed is None:
        raise IllegalStep(f"unknown case state {state!r}")
    if step not in allowed:
        possible = ", ".join(sorted(allowed)) or "none: the case is closed"
        raise IllegalStep(f"a case that is {state} cannot {step}; possible steps: {possible}")
    return allowed[step]
