"""The character repertoires of the syntax levels UNOA, UNOB and UNOC (ISO 9735), and how a
payload's bytes become text."""

import functools
import re

SYNTAX_LEVELS = ("UNOA", "UNOB", "UNOC")

_LEVEL_A = "A-Z0-9 .,\\-()/='+:?!\"%&*;<>"
_REPERTOIRES = {
    "UNOA": _LEVEL_A,
    "UNOB": "\x20-\x7e",
    "UNOC": "\x20-\x7e\xa0-\xff",
}
"""Level A: upper case letters, digits, space and . , - ( ) / = ' + : ? ! " % & * ; < >.
Level B: all of printable ISO 646 (ASCII), lower case letters included. Level C: ISO 8859-1
without its control characters."""


def decode(payload: bytes) -> str:
    """Every byte as the ISO 8859-1 character of that value: lossless for every level (UNOA and
    UNOB are subsets of it), so a stray byte is reported as a character, never a crash."""
    return payload.decode("latin-1")


@functools.cache
def invalid_character(level: str, service_characters: str) -> re.Pattern[str] | None:
    """A pattern finding a character outside the level's repertoire (the interchange's own
    service characters are always allowed); None for an unknown level, which is not checked."""
    repertoire = _REPERTOIRES.get(level)
    if repertoire is None:
        return None
    extra = "".join(re.escape(character) for character in service_characters)
    return re.compile(f"[^{repertoire}{extra}]")


def fit(text: str, level: str) -> str:
    """Text that can be written at a syntax level: upper case for UNOA, and any character
    outside the repertoire replaced by a space (responses quote inputs and problem texts)."""
    if level == "UNOA":
        text = text.upper()
    pattern = invalid_character(level if level in _REPERTOIRES else "UNOA", "")
    assert pattern is not None
    return pattern.sub(" ", text)


def is_number(text: str) -> bool:
    """Digits 0 to 9 only, at least one: `str.isdigit` alone also takes other scripts' digits
    and superscripts, which `int` refuses."""
    return text.isascii() and text.isdigit()


QUOTED_CHARACTERS_MAX = 40
"""A value quoted in a problem text is cut to this many characters."""


def whole_number(text: str, digits_max: int) -> int | None:
    """The value of a digit string with at most `digits_max` digits after its leading zeros,
    else None. The length is checked on the text first: `int` refuses more than 4,300 digits
    (a ValueError), and no count or number of the contract comes near that."""
    if not is_number(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > digits_max:
        return None
    return int(significant or "0")


def quoted(text: str) -> str:
    """The text as a problem quotes it: `repr`, cut to QUOTED_CHARACTERS_MAX characters with
    the full length said, so that a huge value does not make a huge answer."""
    if len(text) <= QUOTED_CHARACTERS_MAX:
        return repr(text)
    return f"{text[:QUOTED_CHARACTERS_MAX]!r}... ({len(text)} characters)"
