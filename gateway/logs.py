"""structlog set-up: JSON lines to stdout (journald), console rendering in a terminal.

Every event, and every record of the standard library's logging (paho, asyncio), passes through
`redact_secrets` last: a belt-and-braces control behind the rule that no code logs a secret. It
blanks the password of anything that looks like a URL with credentials (`scheme://user:pass@`),
any `password=...` (or `passwd=`, `pwd=`, `secret=`, `token=`) and the values of fields with
such names.
"""

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"
# The password runs to the last `@` of the word: an unencoded `@` in it is not a way out.
_URL_CREDENTIALS = re.compile(
    r"(?P<prefix>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)(?P<secret>\S+)(?=@)"
)
_SENSITIVE_WORD = r"(?:password|passwd|pwd|secret|token)"
_ASSIGNED_SECRET = re.compile(
    rf"(?P<prefix>{_SENSITIVE_WORD}\s*=\s*)(?P<secret>\"[^\"]*\"|'[^']*'|[^\s,;&)\]}}]+)",
    re.IGNORECASE,
)
_SECRET_FIELD = re.compile(rf"{_SENSITIVE_WORD}s?", re.IGNORECASE)
_PLAIN = (int, float, bool, type(None))


def redact_text(text: str) -> str:
    """The text with URL passwords and `password=` values replaced by [REDACTED]."""
    if "://" in text:
        text = _URL_CREDENTIALS.sub(rf"\g<prefix>{REDACTED}", text)
    if "=" in text:
        text = _ASSIGNED_SECRET.sub(rf"\g<prefix>{REDACTED}", text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        return {key: (REDACTED if isinstance(key, str) and _SECRET_FIELD.fullmatch(key)
                      else _redact_value(item)) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    shown = repr(value)  # what the renderer would print: an exception, a path, a URL object
    redacted = redact_text(shown)
    return value if redacted == shown else redacted


def redact_secrets(logger: Any, method_name: str,
                   event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no event leaves with something that looks like a secret."""
    for key, value in event_dict.items():
        if _SECRET_FIELD.fullmatch(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


class RedactingFilter(logging.Filter):
    """The same for the standard library's records, message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: show the bare format
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def configure(json_lines: bool | None = None, level: int = logging.INFO) -> None:
    if json_lines is None:
        json_lines = not sys.stdout.isatty()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(known, RedactingFilter) for known in handler.filters):
            handler.addFilter(RedactingFilter())
