"""The outcome of one journalled message: what its Acknowledgement and emails say."""

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from gateway.codec.messages import Kind, Totals
from gateway.validation.problems import Problem

Status = Literal["accepted", "rejected", "received", "deferred"]


@dataclass(frozen=True)
class Outcome:
    acknowledgement_id: str
    ref_message_id: str | None
    sender: str
    kind: Kind
    reference: str | None
    status: Status
    test: bool
    received_at: datetime
    respond_by: datetime | None
    problems: tuple[Problem, ...] = ()
    assessment: Totals | None = None
    balance: Decimal | None = None
    payment_due: date | None = None
    case_number: str | None = None
    importer_account: str | None = None
    """Not part of the Acknowledgement: whose account this is, for the importer's copy."""

    @property
    def final(self) -> bool:
        """Whether delivering this outcome stops the message's clock: not when `deferred`
        (a final answer follows), nor when `received` (the case's own steps stop it)."""
        return self.status not in ("deferred", "received")

    def with_problem(self, extra: Problem) -> "Outcome":
        return replace(self, problems=(*self.problems, extra))


def _totals_json(totals: Totals | None) -> dict[str, str] | None:
    if totals is None:
        return None
    return {
        "duty": str(totals.duty),
        "excise_tax": str(totals.excise_tax),
        "gst": str(totals.gst),
        "total": str(totals.total),
    }


def to_json(outcome: Outcome) -> str:
    return json.dumps({
        "acknowledgement_id": outcome.acknowledgement_id,
        "ref_message_id": outcome.ref_message_id,
        "sender": outcome.sender,
        "kind": outcome.kind,
        "reference": outcome.reference,
        "status": outcome.status,
        "test": outcome.test,
        "received_at": outcome.received_at.isoformat(),
        "respond_by": outcome.respond_by.isoformat() if outcome.respond_by else None,
        "problems": [
            {"code": p.code, "severity": p.severity, "text": p.text, "path": p.path,
             "line": p.line}
            for p in outcome.problems
        ],
        "assessment": _totals_json(outcome.assessment),
        "balance": None if outcome.balance is None else str(outcome.balance),
        "payment_due": outcome.payment_due.isoformat() if outcome.payment_due else None,
        "case_number": outcome.case_number,
        "importer_account": outcome.importer_account,
    })


def from_json(text: str) -> Outcome:
    data: dict[str, Any] = json.loads(text)
    assessment = data["assessment"]
    return Outcome(
        acknowledgement_id=data["acknowledgement_id"],
        ref_message_id=data["ref_message_id"],
        sender=data["sender"],
        kind=data["kind"],
        reference=data["reference"],
        status=data["status"],
        test=data["test"],
        received_at=datetime.fromisoformat(data["received_at"]),
        respond_by=datetime.fromisoformat(data["respond_by"]) if data["respond_by"] else None,
        problems=tuple(Problem(**p) for p in data["problems"]),
        assessment=None if assessment is None else Totals(
            duty=Decimal(assessment["duty"]),
            excise_tax=Decimal(assessment["excise_tax"]),
            gst=Decimal(assessment["gst"]),
            total=Decimal(assessment["total"]),
        ),
        balance=None if data["balance"] is None else Decimal(data["balance"]),
        payment_due=date.fromisoformat(data["payment_due"]) if data["payment_due"] else None,
        case_number=data["case_number"],
        importer_account=data.get("importer_account"),
    )
