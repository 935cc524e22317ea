"""The partner registry (CONTRACT section 8): senders, their delegations, importer accounts."""

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from gateway.config import ConfigError, plain_address
from gateway.identifiers import account_valid, sender_valid
from gateway.money import CENT

Notify = Literal["all", "rejections", "none"]
SECURITY_LIMIT = Decimal("1e13")
"""Security is an amount like any other: at most 15 digits, two of them after the point."""


@dataclass(frozen=True)
class Sender:
    id: str
    email: str
    notify: Notify
    accounts: frozenset[str]


@dataclass(frozen=True)
class Account:
    number: str
    email: str
    security: Decimal
    security_type: Literal["bond", "cash"]


@dataclass(frozen=True)
class Registry:
    senders: dict[str, Sender]
    accounts: dict[str, Account]

    def sender(self, sender_id: str) -> Sender | None:
        return self.senders.get(sender_id)

    def account(self, number: str) -> Account | None:
        return self.accounts.get(number)


def _email(where: str, value: object) -> str:
    if not isinstance(value, str) or not plain_address(value):
        raise ConfigError(f"{where}: email must be one plain address: {value!r}")
    return value


def _security(where: str, value: object) -> Decimal:
    """Release-prior-to-payment security in CAD: finite, not negative, whole cents (NaN or
    Infinity would make every statement's security check fail)."""
    try:
        security = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: security is not an amount: {value!r}") from None
    if not (security.is_finite() and 0 <= security < SECURITY_LIMIT
            and security == security.quantize(CENT)):
        raise ConfigError(f"{where}: security must be an amount from 0 to 9999999999999.99 in "
                          f"whole cents: {value!r}")
    return security


def _sender(item: dict[str, Any]) -> Sender:
    sender_id = item.get("id")
    if not isinstance(sender_id, str) or not sender_valid(sender_id):
        raise ConfigError(f"[[sender]] id must match [A-Za-z0-9_-]{{1,32}}: {sender_id!r}")
    where = f"[[sender]] {sender_id}"
    unknown = set(item) - {"id", "email", "notify", "accounts"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    notify = item.get("notify", "all")
    if notify not in ("all", "rejections", "none"):
        raise ConfigError(f"{where}: notify must be all, rejections or none: {notify!r}")
    accounts = item.get("accounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
        raise ConfigError(f"{where}: accounts must be a list of account numbers")
    for number in accounts:
        if not account_valid(number):
            raise ConfigError(f"{where}: not a valid RM account: {number}")
    return Sender(sender_id, _email(where, item.get("email")), notify, frozenset(accounts))


def _account(item: dict[str, Any]) -> Account:
    number = item.get("number")
    if not isinstance(number, str) or not account_valid(number):
        raise ConfigError(f"[[account]] number is not a valid RM account: {number!r}")
    where = f"[[account]] {number}"
    unknown = set(item) - {"number", "email", "security", "security_type"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    security = _security(where, item.get("security", "0"))
    security_type = item.get("security_type", "bond")
    if security_type not in ("bond", "cash"):
        raise ConfigError(f"{where}: security_type must be bond or cash: {security_type!r}")
    return Account(number, _email(where, item.get("email")), security, security_type)


def parse_registry(raw: dict[str, Any]) -> Registry:
    unknown = set(raw) - {"sender", "account"}
    if unknown:
        raise ConfigError(f"unknown tables {sorted(unknown)}; expected [[sender]] and [[account]]")
    for table in ("sender", "account"):
        items = raw.get(table, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ConfigError(f"{table} must be written as [[{table}]] tables")
    senders: dict[str, Sender] = {}
    for item in raw.get("sender", []):
        sender = _sender(item)
        if sender.id in senders:
            raise ConfigError(f"[[sender]] {sender.id} is registered twice")
        senders[sender.id] = sender
    accounts: dict[str, Account] = {}
    for item in raw.get("account", []):
        account = _account(item)
        if account.number in accounts:
            raise ConfigError(f"[[account]] {account.number} is registered twice")
        accounts[account.number] = account
    for sender in senders.values():
        missing = sorted(sender.accounts - set(accounts))
        if missing:
            raise ConfigError(f"[[sender]] {sender.id}: accounts not registered: {missing}")
    return Registry(senders, accounts)


def load_registry(path: Path) -> Registry:
    """Read and check the registry; ConfigError says what is wrong and where."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: partner registry not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the partner registry: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        return parse_registry(raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
