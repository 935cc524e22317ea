"""Configuration (CONTRACT section 8): one TOML file, embedded defaults, environment overrides.

The tree is frozen and checked when it is built; problems raise ConfigError, which only the
command line turns into exit status 78.
"""

import contextlib
import ipaddress
import math
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.standards.calendar import CalendarSettings
from gateway.standards.deadlines import Standard, parse_standard

SYSTEM_CONFIG = Path("/etc/carm-gateway/gateway.toml")
ENVIRONMENT_OVERRIDES = {
    "CARM_MQTT_URL": ("mqtt", "url"),
    "CARM_DATABASE_URL": ("database", "url"),
    "CARM_SMTP_URL": ("smtp", "url"),
    "CARM_PARTNERS_FILE": ("partners", "file"),
}
RECEIVE_MAXIMUM_MAX = 65_535
"""MQTT 5 sends Receive Maximum as a two-byte integer ..."""
SESSION_EXPIRY_S_MAX = 4_294_967_295
"""... and Session Expiry Interval as a four-byte one."""
RETRY_ATTEMPTS_MAX = 1000
"""The backoff doubles per attempt; 2.0 ** attempts overflows a float past 1023."""
BACKOFF_S_MAX_MAX = 86_400.0
"""A day between retries is already a stalled queue."""
RETENTION_DAYS_MAX = 36_500
"""A hundred years; far beyond it the purge cut-off falls before year 1."""
_HOST_NAME = re.compile(r"(?=[A-Za-z0-9.-]{1,253}\Z)"
                        r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class ConfigError(Exception):
    """The configuration or the partner registry cannot be used; the text says why."""


@dataclass(frozen=True)
class GatewaySettings:
    id: str
    cluster: str = "carm-gateway"
    state_directory: Path = Path("/var/lib/carm-gateway")
    max_message_bytes: int = 1_048_576


@dataclass(frozen=True)
class MqttSettings:
    url: str = "mqtt://127.0.0.1:1883"
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    group: str = ""
    session_expiry_s: int = 86_400
    receive_maximum: int = 1000


@dataclass(frozen=True)
class SmtpSettings:
    url: str = ""
    sender: str = "carm-gateway@localhost"
    operators: tuple[str, ...] = ("root@localhost",)
    domain: str = "localhost"
    start_tls: bool = True
    password_file: Path | None = None


@dataclass(frozen=True)
class RetrySettings:
    attempts: int = 5
    backoff_s_max: float = 300.0


@dataclass(frozen=True)
class RetentionSettings:
    days: int = 2665
    rejected_payload_bytes_max: int = 1_048_576


@dataclass(frozen=True)
class StandardsSettings:
    declaration: Standard = field(default_factory=lambda: parse_standard("2 business days"))
    payment: Standard = field(default_factory=lambda: parse_standard("2 business days"))
    account_request: Standard = field(default_factory=lambda: parse_standard("10 business days"))
    appeal: Standard = field(default_factory=lambda: parse_standard("10 calendar days"))
    target_percent: Decimal = Decimal(90)
    escalate_at_percent: Decimal = Decimal(75)

    def for_kind(self, kind: str) -> Standard:
        """The standard of a kind; unreadable input is answered like a declaration."""
        return {
            "payment": self.payment,
            "account-request": self.account_request,
            "appeal": self.appeal,
        }.get(kind, self.declaration)


@dataclass(frozen=True)
class InterestRate:
    starts_on: date
    annual_percent: Decimal


@dataclass(frozen=True)
class BillingSettings:
    due_skips_holidays: bool = False
    interest_annual_percent: Decimal = Decimal(10)
    rates: tuple[InterestRate, ...] = ()


@dataclass(frozen=True)
class Config:
    gateway: GatewaySettings
    mqtt: MqttSettings
    database_url: str
    smtp: SmtpSettings
    metrics_listen: str
    retries: RetrySettings
    retention: RetentionSettings
    partners_file: Path
    calendar: CalendarSettings
    standards: StandardsSettings
    billing: BillingSettings
    transaction_check_digit: str
    source: Path | None
    """The file read, or None for the embedded defaults."""


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "gateway": {"id": str, "cluster": str, "state_directory": str, "max_message_bytes": int},
    "mqtt": {
        "url": str, "password_file": str, "ca_file": str, "cert_file": str, "key_file": str,
        "group": str, "session_expiry_s": int, "receive_maximum": int,
    },
    "database": {"url": str},
    "smtp": {
        "url": str, "from": str, "operators": (str, list), "domain": str, "start_tls": bool,
        "password_file": str,
    },
    "metrics": {"listen": str},
    "retries": {"attempts": int, "backoff_s_max": (int, float)},
    "retention": {"days": int, "rejected_payload_bytes_max": int},
    "partners": {"file": str},
    "calendar": {"timezone": str, "opens": (str, time), "closes": (str, time), "closures": list},
    "standards": {
        "declaration": str, "payment": str, "account-request": str, "appeal": str,
        "target_percent": (int, float, str), "escalate_at_percent": (int, float, str),
    },
    "billing": {
        "due_skips_holidays": bool, "interest_annual_percent": (int, float, str), "rate": list,
    },
    "rules": {"transaction_check_digit": str},
}


def host_name(text: str) -> bool:
    """A DNS host name: dot-separated labels of letters, digits and hyphens (so an IPv4
    address passes too)."""
    return _HOST_NAME.fullmatch(text) is not None


def plain_address(value: object) -> bool:
    """One bare address, `local@host.name`: no display name, no second address and no white
    space or line break that could start another header."""
    if not isinstance(value, str) or len(value) > 254:
        return False
    local, at, host = value.rpartition("@")
    return bool(at) and len(local) <= 64 and _DOT_ATOM.fullmatch(local) is not None \
        and host_name(host)


def listen_address(listen: str) -> tuple[str, int]:
    """`[metrics] listen` as the host and port to bind: `HOST:PORT`, `[IPV6]:PORT`, or `:PORT`
    for the loopback. Raises ConfigError saying what is wrong."""
    host, colon, port = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]") and _ipv6(host[1:-1]):
        host = host[1:-1]
    elif not colon or (host and not host_name(host)):
        raise ConfigError("[metrics] listen must be HOST:PORT (an IPv6 address in brackets), "
                          f"e.g. 127.0.0.1:9464: {listen!r}")
    if not (port.isascii() and port.isdigit() and int(port) <= 65_535):  # 0: any free port
        raise ConfigError(f"[metrics] listen must end with a port from 0 to 65535: {listen!r}")
    return host or "127.0.0.1", int(port)


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def find_config_path(option: str | None, environ: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The file to read and whether it was named explicitly (option or CARM_CONFIG)."""
    if option:
        return Path(option), True
    if environ.get("CARM_CONFIG"):
        return Path(environ["CARM_CONFIG"]), True
    if SYSTEM_CONFIG.exists():
        return SYSTEM_CONFIG, False
    return None, False


def load_config(option: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Find, read, override from the environment, and check the configuration."""
    environ = os.environ if environ is None else environ
    path, _ = find_config_path(option, environ)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
    for variable, (section, key) in ENVIRONMENT_OVERRIDES.items():
        if environ.get(variable):
            raw.setdefault(section, {})[key] = environ[variable]
    try:
        return build_config(raw, path)
    except ConfigError as error:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}{error}") from None


def _redacted(url: str) -> str:
    """A URL for an error message: whatever stands before an `@` is left out."""
    scheme, separator, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"{scheme}{separator}{rest}"


def _check_types(raw: Mapping[str, Any]) -> None:
    for section, values in raw.items():
        if section not in _SCHEMA:
            raise ConfigError(f"unknown section [{section}]")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table")
        for key, value in values.items():
            expected = _SCHEMA[section].get(key)
            if expected is None:
                raise ConfigError(f"unknown key [{section}] {key}")
            allowed = expected if isinstance(expected, tuple) else (expected,)
            if not isinstance(value, expected) or (isinstance(value, bool) and bool not in allowed):
                raise ConfigError(f"[{section}] {key} has the wrong type: {value!r}")


def _positive(section: str, key: str, value: float, maximum: float = math.inf) -> None:
    if not (0 < value <= maximum and math.isfinite(value)):  # NaN fails every comparison
        most = f" and at most {maximum:.0f}" if math.isfinite(maximum) else ""
        raise ConfigError(f"[{section}] {key} must be greater than 0{most}, not {value}")


def _decimal(section: str, key: str, value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"[{section}] {key} is not a number: {value!r}") from None


def _percent(section: str, key: str, value: object) -> Decimal:
    percent = _decimal(section, key, value)
    if not (percent.is_finite() and 0 <= percent <= 100):  # NaN cannot even be compared
        raise ConfigError(f"[{section}] {key} must be a percentage from 0 to 100: {value!r}")
    return percent


def _check_url(section: str, url: str, schemes: tuple[str, ...], must: str) -> None:
    """The scheme, and a host and port that urllib can read (a bad port raised at connect)."""
    if not url.startswith(schemes):
        raise ConfigError(f"[{section}] url {must}: {_redacted(url)}")
    try:
        urlsplit(url).port  # noqa: B018 (read for the ValueError it raises)
    except ValueError as error:
        raise ConfigError(f"[{section}] url has a host or port that cannot be read ({error}): "
                          f"{_redacted(url)}") from None


def _name(section: str, key: str, value: str) -> None:
    """An instance id, cluster or subscription group: it goes into MQTT client ids and topic
    filters (where `/`, `+` and `#` mean something), AcknowledgementIDs and email Message-IDs."""
    if _NAME.fullmatch(value) is None:
        raise ConfigError(f"[{section}] {key} must be 1 to 64 letters, digits, '.', '_' or "
                          f"'-': {value!r}")


def _address(section: str, key: str, value: str) -> str:
    if not plain_address(value):
        raise ConfigError(f"[{section}] {key} must be one plain address like "
                          f"gateway@example.com: {value!r}")
    return value


def _time(section: str, key: str, value: object) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"[{section}] {key} is not a time like 07:00: {value!r}") from None


def _optional_path(value: object) -> Path | None:
    return Path(str(value)) if value else None


def _standard(key: str, value: str) -> Standard:
    try:
        return parse_standard(value)
    except ValueError as error:
        raise ConfigError(f"[standards] {key}: {error}") from None


def _date(where: str, value: object) -> date:
    """A TOML date or ISO 8601 text; a TOML date and time is refused (it never equals a day,
    and it cannot be ordered among dates)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise ConfigError(f"{where} is not a date: {value!r}")


def _rates(items: list[Any]) -> tuple[InterestRate, ...]:
    rates = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"from", "percent"}:
            raise ConfigError("[[billing.rate]] needs exactly `from` (a date) and `percent`")
        rates.append(InterestRate(_date("[[billing.rate]] from", item["from"]),
                                  _percent("billing.rate", "percent", item["percent"])))
    return tuple(sorted(rates, key=lambda rate: rate.starts_on))


def _closures(items: list[Any]) -> tuple[date, ...]:
    return tuple(_date("[calendar] closures entry", item) for item in items)


def build_config(raw: Mapping[str, Any], source: Path | None = None) -> Config:
    """The checked configuration tree from parsed TOML (missing keys take the defaults)."""
    _check_types(raw)
    section = {name: dict(raw.get(name, {})) for name in _SCHEMA}
    gateway = section["gateway"]
    state_directory = Path(gateway.get("state_directory", "/var/lib/carm-gateway"))
    gateway_settings = GatewaySettings(
        id=gateway.get("id") or socket.gethostname(),
        cluster=gateway.get("cluster", "carm-gateway"),
        state_directory=state_directory,
        max_message_bytes=gateway.get("max_message_bytes", 1_048_576),
    )
    _positive("gateway", "max_message_bytes", gateway_settings.max_message_bytes)
    _name("gateway", "id", gateway_settings.id)
    _name("gateway", "cluster", gateway_settings.cluster)
    mqtt = section["mqtt"]
    mqtt_settings = MqttSettings(
        url=mqtt.get("url", "mqtt://127.0.0.1:1883"),
        password_file=_optional_path(mqtt.get("password_file")),
        ca_file=_optional_path(mqtt.get("ca_file")),
        cert_file=_optional_path(mqtt.get("cert_file")),
        key_file=_optional_path(mqtt.get("key_file")),
        group=mqtt.get("group", ""),
        session_expiry_s=mqtt.get("session_expiry_s", 86_400),
        receive_maximum=mqtt.get("receive_maximum", 1000),
    )
    if mqtt_settings.group:
        _name("mqtt", "group", mqtt_settings.group)
    _check_url("mqtt", mqtt_settings.url, ("mqtt://", "mqtts://"),
               "must start with mqtt:// or mqtts://")
    _positive("mqtt", "session_expiry_s", mqtt_settings.session_expiry_s, SESSION_EXPIRY_S_MAX)
    _positive("mqtt", "receive_maximum", mqtt_settings.receive_maximum, RECEIVE_MAXIMUM_MAX)
    database_url = section["database"].get("url", f"sqlite:///{state_directory}/gateway.db")
    if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError("[database] url must be sqlite:/// or postgresql://: "
                          f"{_redacted(database_url)}")
    smtp = section["smtp"]
    operators = smtp.get("operators", "root@localhost")
    listed = [operators] if isinstance(operators, str) else operators
    if not listed or not all(plain_address(item) for item in listed):
        raise ConfigError("[smtp] operators must be one plain address or a list of them: "
                          f"{operators!r}")
    smtp_settings = SmtpSettings(
        url=smtp.get("url", ""),
        sender=_address("smtp", "from", smtp.get("from", "carm-gateway@localhost")),
        operators=tuple(listed),
        domain=smtp.get("domain", "localhost"),
        start_tls=smtp.get("start_tls", True),
        password_file=_optional_path(smtp.get("password_file")),
    )
    if smtp_settings.url:
        _check_url("smtp", smtp_settings.url, ("smtp://", "smtps://"),
                   "must be empty, smtp:// or smtps://")
    if not host_name(smtp_settings.domain):
        raise ConfigError(f"[smtp] domain must be a host name: {smtp_settings.domain!r}")
    retries = RetrySettings(
        attempts=section["retries"].get("attempts", 5),
        backoff_s_max=float(section["retries"].get("backoff_s_max", 300)),
    )
    _positive("retries", "attempts", retries.attempts, RETRY_ATTEMPTS_MAX)
    _positive("retries", "backoff_s_max", retries.backoff_s_max, BACKOFF_S_MAX_MAX)
    retention = RetentionSettings(
        days=section["retention"].get("days", 2665),
        rejected_payload_bytes_max=section["retention"].get(
            "rejected_payload_bytes_max", 1_048_576
        ),
    )
    _positive("retention", "days", retention.days, RETENTION_DAYS_MAX)
    if retention.rejected_payload_bytes_max < 0:
        raise ConfigError("[retention] rejected_payload_bytes_max must be 0 or more, not "
                          f"{retention.rejected_payload_bytes_max}")
    calendar = section["calendar"]
    try:
        calendar_settings = CalendarSettings(
            timezone=calendar.get("timezone", "America/Toronto"),
            opens=_time("calendar", "opens", calendar.get("opens", "07:00")),
            closes=_time("calendar", "closes", calendar.get("closes", "19:00")),
            closures=_closures(calendar.get("closures", [])),
        )
    except ValueError as error:
        raise ConfigError(f"[calendar] {error}") from None
    standards = section["standards"]
    standards_settings = StandardsSettings(
        declaration=_standard("declaration", standards.get("declaration", "2 business days")),
        payment=_standard("payment", standards.get("payment", "2 business days")),
        account_request=_standard(
            "account-request", standards.get("account-request", "10 business days")
        ),
        appeal=_standard("appeal", standards.get("appeal", "10 calendar days")),
        target_percent=_percent("standards", "target_percent", standards.get("target_percent", 90)),
        escalate_at_percent=_percent(
            "standards", "escalate_at_percent", standards.get("escalate_at_percent", 75)
        ),
    )
    billing = section["billing"]
    billing_settings = BillingSettings(
        due_skips_holidays=billing.get("due_skips_holidays", False),
        interest_annual_percent=_percent(
            "billing", "interest_annual_percent", billing.get("interest_annual_percent", 10)
        ),
        rates=_rates(billing.get("rate", [])),
    )
    metrics_listen = section["metrics"].get("listen", "127.0.0.1:9464")
    listen_address(metrics_listen)
    check_digit = section["rules"].get("transaction_check_digit", "luhn")
    if check_digit not in ("luhn", "none"):
        raise ConfigError(f"[rules] transaction_check_digit must be luhn or none: {check_digit}")
    return Config(
        gateway=gateway_settings,
        mqtt=mqtt_settings,
        database_url=database_url,
        smtp=smtp_settings,
        metrics_listen=metrics_listen,
        retries=retries,
        retention=retention,
        partners_file=Path(section["partners"].get("file", "/etc/carm-gateway/partners.toml")),
        calendar=calendar_settings,
        standards=standards_settings,
        billing=billing_settings,
        transaction_check_digit=check_digit,
        source=source,
    )
