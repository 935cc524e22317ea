"""Typed messages of CONTRACT section 2: what a document says once it is decoded."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, NamedTuple

Kind = Literal["declaration", "payment", "appeal", "account-request", "unknown"]

KIND_OF_ROOT: dict[str, Kind] = {
    "Declaration": "declaration",
    "Payment": "payment",
    "Appeal": "appeal",
    "AccountRequest": "account-request",
}


@dataclass(frozen=True)
class Header:
    message_id: str
    sender: str
    sent_at: datetime
    test: bool


@dataclass(frozen=True)
class Totals:
    duty: Decimal
    excise_tax: Decimal
    gst: Decimal
    total: Decimal


class DeclarationLine(NamedTuple):
    """One line; a named tuple rather than a frozen dataclass because a declaration has up to
    999 of them and a tuple is built in a third of the time."""

    number: int
    hs_code: str
    description: str
    country_of_origin: str
    tariff_treatment: str
    quantity: Decimal
    unit: str
    value: Decimal
    duty_rate: Decimal
    excise_tax: Decimal
    gst_rate: Decimal
    reason_code: str | None


@dataclass(frozen=True)
class Declaration:
    header: Header
    transaction_number: str
    version: int
    purpose: Literal["original", "correction", "adjustment"]
    importer_account: str
    release_date: date
    currency: str
    exchange_rate: Decimal
    lines: tuple[DeclarationLine, ...]
    declared_totals: Totals | None
    source_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    kind: Kind = "declaration"

    @property
    def reference(self) -> str:
        return f"{self.transaction_number}/{self.version}"


@dataclass(frozen=True)
class Allocation:
    transaction_number: str
    amount: Decimal


@dataclass(frozen=True)
class Payment:
    header: Header
    payment_reference: str
    importer_account: str
    amount: Decimal
    method: str
    received_on: date
    allocations: tuple[Allocation, ...]
    source_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    kind: Kind = "payment"

    @property
    def reference(self) -> str:
        return self.payment_reference


@dataclass(frozen=True)
class Appeal:
    header: Header
    type: Literal["redetermination", "penalty"]
    importer_account: str
    transaction_number: str | None
    penalty_number: str | None
    decision_date: date
    disputed_amount: Decimal | None
    grounds: str
    source_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    kind: Kind = "appeal"

    @property
    def reference(self) -> str:
        return self.transaction_number or self.penalty_number or ""


@dataclass(frozen=True)
class AccountRequest:
    header: Header
    type: Literal["refund", "offset", "reconciliation"]
    importer_account: str
    amount: Decimal | None
    details: str
    source_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    kind: Kind = "account-request"

    @property
    def reference(self) -> str:
        return self.type


Message = Declaration | Payment | Appeal | AccountRequest
