"""Identifier formats and check digits: RM accounts (BN15) and transaction numbers."""

import re

ACCOUNT_PATTERN = re.compile(r"(?P<bn9>[0-9]{9})RM(?P<suffix>[0-9]{4})")
TRANSACTION_PATTERN = re.compile(r"[0-9]{14}")
SENDER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


def luhn_check_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit that makes `digits` followed by it valid."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
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
