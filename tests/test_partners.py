"""The partner registry (CONTRACT section 8): senders, their delegations and importer accounts,
and every way a registry is refused."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError
from gateway.partners import load_registry, parse_registry

PROJECT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456782RM0001"
OTHER_ACCOUNT = "123026635RM0001"


def sender(**changes: Any) -> dict[str, Any]:
    return {"id": "BRK42", "email": "edi@broker42.example", "accounts": [ACCOUNT], **changes}


def account(**changes: Any) -> dict[str, Any]:
    return {"number": ACCOUNT, "email": "accounts@importer.example", **changes}


def test_example_registry_is_read() -> None:
    """config/partners.toml: BRK42 delegated for one account, BRK77 for none."""
    registry = load_registry(PROJECT / "config" / "partners.toml")
    brk42 = registry.sender("BRK42")
    brk77 = registry.sender("BRK77")
    assert brk42 is not None and brk77 is not None
    assert (brk42.email, brk42.notify, brk42.accounts) == (
        "edi@broker42.example", "all", frozenset({ACCOUNT})
    )
    assert (brk77.notify, brk77.accounts) == ("rejections", frozenset())
    importer = registry.account(ACCOUNT)
    assert importer is not None
    assert (importer.email, importer.security, importer.security_type) == (
        "accounts@importer.example", Decimal("25000.00"), "bond"
    )
    assert registry.sender("BRK99") is None
    assert registry.account(OTHER_ACCOUNT) is None


def test_defaults_of_a_minimal_registry() -> None:
    """notify defaults to all, accounts to none, security to 0 and its type to bond."""
    registry = parse_registry({"sender": [{"id": "S", "email": "s@x.example"}],
                               "account": [account()]})
    only = registry.sender("S")
    assert only is not None
    assert (only.notify, only.accounts) == ("all", frozenset())
    importer = registry.account(ACCOUNT)
    assert importer is not None
    assert (importer.security, importer.security_type) == (Decimal(0), "bond")


def test_empty_registry_is_valid() -> None:
    """A registry with nobody in it parses (every message is then AUTH003)."""
    registry = parse_registry({})
    assert (registry.senders, registry.accounts) == ({}, {})


@pytest.mark.parametrize("sender_id", ["", "BRK 42", "BRK/42", "x" * 33, 42, None, "BRK42\n"])
def test_bad_sender_id_is_refused(sender_id: object) -> None:
    """A sender id must match [A-Za-z0-9_-]{1,32}: it is the topic segment."""
    with pytest.raises(ConfigError, match="id must match"):
        parse_registry({"sender": [sender(id=sender_id)], "account": [account()]})


@pytest.mark.parametrize("notify", ["always", "ALL", "", 1])
def test_bad_notify_is_refused(notify: object) -> None:
    """notify is all, rejections or none."""
    with pytest.raises(ConfigError, match="notify must be"):
        parse_registry({"sender": [sender(notify=notify)], "account": [account()]})


@pytest.mark.parametrize("number", ["123456783RM0001", "123456782RM001", "", 123456782])
def test_bad_account_number_is_refused(number: object) -> None:
    """An [[account]] number must be a valid RM account (format and check digit)."""
    with pytest.raises(ConfigError, match="not a valid RM account"):
        parse_registry({"account": [account(number=number)]})


def test_bad_delegated_account_is_refused() -> None:
    """A sender delegated for a malformed account is refused."""
    with pytest.raises(ConfigError, match="not a valid RM account: 123456783RM0001"):
        parse_registry({"sender": [sender(accounts=["123456783RM0001"])],
                        "account": [account()]})


@pytest.mark.parametrize("accounts", [ACCOUNT, [1], "none"])
def test_accounts_must_be_a_list_of_numbers(accounts: object) -> None:
    """accounts is a list of account numbers."""
    with pytest.raises(ConfigError, match="accounts must be a list"):
        parse_registry({"sender": [sender(accounts=accounts)], "account": [account()]})


def test_duplicate_sender_is_refused() -> None:
    """A sender id registered twice is refused."""
    with pytest.raises(ConfigError, match="BRK42 is registered twice"):
        parse_registry({"sender": [sender(), sender(email="other@x.example")],
                        "account": [account()]})


def test_duplicate_account_is_refused() -> None:
    """An account registered twice is refused."""
    with pytest.raises(ConfigError, match="registered twice"):
        parse_registry({"account": [account(), account()]})


def test_sender_delegated_for_an_unregistered_account_is_refused() -> None:
    """Every account a sender is delegated for must be registered as an [[account]]."""
    with pytest.raises(ConfigError, match=r"accounts not registered: \['123026635RM0001'\]"):
        parse_registry({"sender": [sender(accounts=[ACCOUNT, OTHER_ACCOUNT])],
                        "account": [account()]})


@pytest.mark.parametrize(
    "email", [None, "", "no-at-sign", "a@b.example, c@d.example", "a@b.example\r\nBcc: x@y",
              "Name <a@b.example>", "a b@c.example"],
)
def test_email_must_be_one_plain_address(email: object) -> None:
    """An email is exactly one plain address: no lists, names or header injection."""
    with pytest.raises(ConfigError, match="email must be one plain address"):
        parse_registry({"sender": [sender(email=email)], "account": [account()]})
    with pytest.raises(ConfigError, match="email must be one plain address"):
        parse_registry({"account": [account(email=email)]})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"partner": []}, "unknown tables"),
        ({"sender": [sender(phone="1")], "account": [account()]}, "unknown keys"),
        ({"account": [account(limit="1")]}, "unknown keys"),
        ({"account": [account(security="lots")]}, "security is not an amount"),
        ({"account": [account(security_type="cheque")]}, "security_type must be"),
    ],
)
def test_other_mistakes_are_refused(raw: dict[str, Any], message: str) -> None:
    """Unknown tables and keys, and bad security values, are refused."""
    with pytest.raises(ConfigError, match=message):
        parse_registry(raw)


def test_load_registry_names_the_file(tmp_path: Path) -> None:
    """A missing, unreadable or invalid registry file is an error that names it."""
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml: partner registry not found"):
        load_registry(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[sender]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_registry(broken)
    invalid = tmp_path / "invalid.toml"
    invalid.write_text('[[sender]]\nid = "bad id"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid\.toml: .*id must match"):
        load_registry(invalid)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[sender]]\nid = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml: cannot read"):
        load_registry(latin)


@pytest.mark.parametrize(
    "raw",
    [
        {"sender": ["BRK42"]},
        {"account": {"number": ACCOUNT, "email": "a@b.example"}},
    ],
)
def test_tables_that_are_not_arrays_of_tables_are_refused(raw: dict[str, Any]) -> None:
    """`[sender]` written for `[[sender]]`, or a list of strings, is a ConfigError (exit 78),
    not a crash."""
    with pytest.raises(ConfigError):
        parse_registry(raw)


def test_single_table_mistake_in_a_file_is_a_config_error(tmp_path: Path) -> None:
    """A registry file using `[sender]` instead of `[[sender]]` is refused with its name."""
    path = tmp_path / "partners.toml"
    path.write_text('[sender]\nid = "BRK42"\nemail = "edi@broker42.example"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"partners\.toml"):
        load_registry(path)


@pytest.mark.parametrize(
    "security", ["NaN", "sNaN", "Infinity", "-Infinity", float("nan"), float("inf"), "-1", -0.01,
                 "1.001", "1E+30", True],
)
def test_security_is_an_amount_in_cents_of_zero_or_more(security: object) -> None:
    """`security` is compared and printed on every statement: NaN made `ledger statement` fail
    with decimal.InvalidOperation, so it, infinities, negative amounts, fractions of a cent and
    amounts beyond 13 integer digits are refused by name."""
    with pytest.raises(ConfigError, match=rf"\[\[account\]\] {ACCOUNT}: security"):
        parse_registry({"account": [account(security=security)]})


@pytest.mark.parametrize(("security", "amount"),
                         [("25000.00", "25000.00"), (25000, "25000"), ("0", "0"),
                          (1234.5, "1234.5"), ("9999999999999.99", "9999999999999.99")])
def test_security_amounts_that_are_accepted(security: object, amount: str) -> None:
    """Whole amounts, cents, and zero (the default) are fine."""
    registry = parse_registry({"account": [account(security=security)]})
    assert registry.accounts[ACCOUNT].security == Decimal(amount)


@pytest.mark.parametrize("email", ["edi@broker42 example", "edi@-broker42.example",
                                   "edi@broker42.example\t", "édi@broker42.example"])
def test_email_is_checked_like_the_smtp_addresses(email: str) -> None:
    """The registry's addresses follow the rule of `[smtp] from` and `operators`."""
    with pytest.raises(ConfigError, match="email must be one plain address"):
        parse_registry({"account": [account(email=email)]})
