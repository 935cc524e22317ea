"""Identifier formats and check digits: RM accounts (BN15) and transaction numbers."""

import re

ACCOUNT_PATTERN = re.compile(r"(?P<bn9>[0-9]{9})RM(?P<suffix>[0-9]{4})")
TRANSACTION_PATTERN = re.compile(r"[0-9]{14}")
SENDER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


_DIGITS = "0123456789"
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")
"""Each digit's Luhn double, its digits added: 5 -> 10 -> 1, 9 -> 18 -> 9."""


def luhn_check_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit that makes `digits` followed by it valid: counting from
    the right, the first digit and every second one after it are doubled. (The sums run over
    the ASCII codes, 48 more than each digit.)"""
    if digits.strip(_DIGITS):
        raise ValueError(f"not ASCII digits: {digits!r}")
    codes = digits.encode("ascii")
    total = sum(codes[::-2].translate(_DOUBLED)) + sum(codes[-2::-2]) - 48 * len(codes)
    return str(-total % 10)


def luhn_valid(digits: str) -> bool:
    """True when the last digit is the Luhn (mod 10) check digit of the others."""
    if not digits.isascii() or not digits.isdigit():
        return False
    return digits[-1] == luhn_check_digit(digits[:-1])


def account_valid(number: str) -> bool:
    """An RM program account: a BN9 with a valid check digit, `RM`, four digits (ACC001)."""
    match = ACCOUNT_PATTERN.fullmatch(number)
    return match is not None and luhn_valid(match["bn9"])


def transaction_valid(number: str, check_digit: str) -> bool:
    """A 14-digit transaction number whose last digit checks under `check_digit` (TXN001)."""
    if TRANSACTION_PATTERN.fullmatch(number) is None:
        return False
    return check_digit == "none" or luhn_valid(number)


def sender_valid(sender: str) -> bool:
    return SENDER_PATTERN.fullmatch(sender) is not None
