"""Configuration (CONTRACT section 8): where it is found, the embedded defaults, environment
overrides, what is refused, and how `check-config` reports it."""

import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

import gateway.config
from gateway.cli import main
from gateway.config import (
    Config,
    ConfigError,
    build_config,
    find_config_path,
    listen_address,
    load_config,
    plain_address,
)
from gateway.standards.deadlines import Standard

PROJECT = Path(__file__).resolve().parents[1]
PARTNERS = PROJECT / "config" / "partners.toml"
EXIT_CONFIG = 78


@pytest.fixture(autouse=True)
def no_system_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's /etc/carm-gateway and CARM_* variables out of these tests."""
    monkeypatch.setattr(gateway.config, "SYSTEM_CONFIG", tmp_path / "absent" / "gateway.toml")
    for variable in ("CARM_CONFIG", "CARM_MQTT_URL", "CARM_DATABASE_URL", "CARM_SMTP_URL",
                     "CARM_PARTNERS_FILE"):
        monkeypatch.delenv(variable, raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# Defaults


def test_embedded_defaults_are_the_contract_table() -> None:
    """With no file at all, every key has the default of section 8's table."""
    config = load_config(None, environ={})
    assert config.source is None
    assert config.gateway.id == socket.gethostname()
    assert config.gateway.cluster == "carm-gateway"
    assert config.gateway.state_directory == Path("/var/lib/carm-gateway")
    assert config.gateway.max_message_bytes == 1_048_576
    mqtt = config.mqtt
    assert mqtt.url == "mqtt://127.0.0.1:1883"
    assert (mqtt.password_file, mqtt.ca_file, mqtt.cert_file, mqtt.key_file) == (None,) * 4
    assert mqtt.group == ""
    assert (mqtt.session_expiry_s, mqtt.receive_maximum) == (86_400, 1000)
    assert config.database_url == "sqlite:////var/lib/carm-gateway/gateway.db"
    smtp = config.smtp
    assert smtp.url == ""
    assert smtp.sender == "carm-gateway@localhost"
    assert smtp.operators == ("root@localhost",)
    assert smtp.domain == "localhost"
    assert smtp.start_tls is True
    assert smtp.password_file is None
    assert config.metrics_listen == "127.0.0.1:9464"
    assert (config.retries.attempts, config.retries.backoff_s_max) == (5, 300)
    assert config.retention.days == 2665
    assert config.retention.rejected_payload_bytes_max == 1_048_576
    assert config.partners_file == Path("/etc/carm-gateway/partners.toml")
    calendar = config.calendar
    assert (calendar.timezone, calendar.opens, calendar.closes, calendar.closures) == (
        "America/Toronto", time(7), time(19), ()
    )
    standards = config.standards
    assert standards.declaration == Standard(2, "business")
    assert standards.payment == Standard(2, "business")
    assert standards.account_request == Standard(10, "business")
    assert standards.appeal == Standard(10, "calendar")
    assert (standards.target_percent, standards.escalate_at_percent) == (
        Decimal(90), Decimal(75)
    )
    assert config.billing.due_skips_holidays is False
    assert config.billing.interest_annual_percent == Decimal(10)
    assert config.billing.rates == ()
    assert config.transaction_check_digit == "luhn"


def test_database_default_follows_the_state_directory(tmp_path: Path) -> None:
    """The default database lives in the configured state_directory."""
    path = write(tmp_path / "g.toml", '[gateway]\nstate_directory = "/srv/carm"\n')
    assert load_config(str(path), environ={}).database_url == "sqlite:////srv/carm/gateway.db"


def test_example_configuration_is_read_as_written() -> None:
    """config/gateway.toml loads and says what its comments say."""
    config = load_config(str(PROJECT / "config" / "gateway.toml"), environ={})
    assert config.gateway.id == "gw1"
    assert config.gateway.state_directory == Path("state")
    assert config.partners_file == Path("config/partners.toml")
    assert config.standards.account_request == Standard(10, "business")


# Where the file is found


def test_option_wins_over_carm_config(tmp_path: Path) -> None:
    """--config is explicit and comes before CARM_CONFIG."""
    option = write(tmp_path / "option.toml", '[gateway]\nid = "from-option"\n')
    variable = write(tmp_path / "variable.toml", '[gateway]\nid = "from-variable"\n')
    config = load_config(str(option), environ={"CARM_CONFIG": str(variable)})
    assert config.gateway.id == "from-option"
    assert find_config_path(str(option), {}) == (option, True)


def test_carm_config_names_the_file(tmp_path: Path) -> None:
    """Without --config, CARM_CONFIG names the file, and that is an explicit configuration."""
    path = write(tmp_path / "variable.toml", '[gateway]\nid = "from-variable"\n')
    config = load_config(None, environ={"CARM_CONFIG": str(path)})
    assert config.gateway.id == "from-variable"
    assert config.source == path
    assert find_config_path(None, {"CARM_CONFIG": str(path)}) == (path, True)


def test_system_file_is_used_when_it_exists(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """/etc/carm-gateway/gateway.toml is read when present, but is not an explicit one."""
    system = write(tmp_path / "system.toml", '[gateway]\nid = "from-etc"\n')
    monkeypatch.setattr(gateway.config, "SYSTEM_CONFIG", system)
    assert load_config(None, environ={}).gateway.id == "from-etc"
    assert find_config_path(None, {}) == (system, False)


def test_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    """A named configuration that does not exist is an error naming it."""
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml: configuration file not found"):
        load_config(str(missing), environ={})
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_config(None, environ={"CARM_CONFIG": str(missing)})


def test_file_that_is_not_toml_is_an_error(tmp_path: Path) -> None:
    """Invalid TOML is an error naming the file."""
    path = write(tmp_path / "broken.toml", "[gateway\nid = 1\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_config(str(path), environ={})


# Environment overrides


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("CARM_MQTT_URL", "mqtts://broker.example:8883", lambda c: c.mqtt.url),
        ("CARM_DATABASE_URL", "postgresql://carm@db.example/carm", lambda c: c.database_url),
        ("CARM_SMTP_URL", "smtps://mail.example:465", lambda c: c.smtp.url),
        ("CARM_PARTNERS_FILE", "/srv/partners.toml", lambda c: str(c.partners_file)),
    ],
)
def test_environment_wins_over_the_file(tmp_path: Path, variable: str, value: str,
                                        read: Callable[[Config], str]) -> None:
    """Each of the four environment variables overrides the same key in the file."""
    path = write(tmp_path / "g.toml", (
        '[mqtt]\nurl = "mqtt://file.example:1883"\n'
        '[database]\nurl = "sqlite:///file.db"\n'
        '[smtp]\nurl = "smtp://file.example:587"\n'
        '[partners]\nfile = "/file/partners.toml"\n'
    ))
    assert read(load_config(str(path), environ={variable: value})) == value
    assert read(load_config(str(path), environ={})) != value


def test_environment_overrides_the_defaults_too() -> None:
    """An override applies when no file is read at all."""
    config = load_config(None, environ={"CARM_MQTT_URL": "mqtt://other:1884"})
    assert config.mqtt.url == "mqtt://other:1884"


# What is refused


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"gatway": {"id": "x"}}, "unknown section"),
        ({"gateway": {"name": "x"}}, "unknown key"),
        ({"mqtt": {"username": "x"}}, "unknown key"),
        ({"gateway": "x"}, "must be a table"),
    ],
)
def test_unknown_section_or_key_is_an_error(raw: dict[str, object], message: str) -> None:
    """A typo in a section or key name is refused, not ignored."""
    with pytest.raises(ConfigError, match=message):
        build_config(raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"gateway": {"max_message_bytes": "1048576"}},
        {"gateway": {"max_message_bytes": True}},
        {"gateway": {"max_message_bytes": 1.5}},
        {"mqtt": {"receive_maximum": "1000"}},
        {"smtp": {"start_tls": "yes"}},
        {"smtp": {"operators": 7}},
        {"retries": {"attempts": True}},
        {"retries": {"backoff_s_max": "300"}},
        {"retries": {"backoff_s_max": True}},
        {"calendar": {"closures": "2026-12-24"}},
        {"billing": {"due_skips_holidays": 1}},
        {"rules": {"transaction_check_digit": 0}},
    ],
)
def test_wrong_type_is_an_error(raw: dict[str, object]) -> None:
    """A value of the wrong TOML type (a boolean is not a number) is refused."""
    with pytest.raises(ConfigError, match="wrong type"):
        build_config(raw)


def test_operators_must_be_addresses() -> None:
    """`operators` is one address or a list of addresses, not a list of numbers."""
    with pytest.raises(ConfigError):
        build_config({"smtp": {"operators": [1, 2]}})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"standards": {"declaration": "2 fortnights"}}, "declaration"),
        ({"standards": {"payment": "two business days"}}, "payment"),
        ({"standards": {"appeal": "0 calendar days"}}, "appeal"),
        ({"standards": {"account-request": ""}}, "account-request"),
    ],
)
def test_bad_standard_text_is_an_error(raw: dict[str, object], message: str) -> None:
    """A service standard that is not `N business days` or `N calendar days` is refused."""
    with pytest.raises(ConfigError, match=message):
        build_config(raw)


def test_standard_spellings_accepted() -> None:
    """`1 business day` and extra blanks or capitals are fine."""
    config = build_config({"standards": {"declaration": "1 business day",
                                         "appeal": " 30  Calendar  days "}})
    assert config.standards.declaration == Standard(1, "business")
    assert config.standards.appeal == Standard(30, "calendar")


@pytest.mark.parametrize(
    "calendar",
    [
        {"opens": "19:00", "closes": "07:00"},
        {"opens": "09:00", "closes": "09:00"},
        {"opens": time(19), "closes": time(7)},
    ],
)
def test_closing_before_opening_is_an_error(calendar: dict[str, object]) -> None:
    """Business hours that close before (or when) they open are refused."""
    with pytest.raises(ConfigError, match="earlier than closes"):
        build_config({"calendar": calendar})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"calendar": {"opens": "7 am"}}, "not a time"),
        ({"calendar": {"timezone": "America/Gotham"}}, "time zone"),
        ({"calendar": {"closures": ["2026-13-01"]}}, "not a date"),
        ({"mqtt": {"url": "http://broker:1883"}}, "mqtt://"),
        ({"database": {"url": "mysql://db/carm"}}, "sqlite"),
        ({"smtp": {"url": "imap://mail"}}, "smtp://"),
        ({"gateway": {"max_message_bytes": 0}}, "greater than 0"),
        ({"retries": {"attempts": 0}}, "greater than 0"),
        ({"rules": {"transaction_check_digit": "cbsa"}}, "luhn or none"),
        ({"standards": {"target_percent": "ninety"}}, "not a number"),
        ({"billing": {"rate": [{"from": "2026-01-01"}]}}, "billing.rate"),
        ({"billing": {"rate": [{"from": 5, "percent": 9}]}}, "not a date"),
    ],
)
def test_bad_value_is_an_error(raw: dict[str, object], message: str) -> None:
    """Values that cannot be used are refused with a message saying which."""
    with pytest.raises(ConfigError, match=message):
        build_config(raw)


def test_interest_rate_with_a_date_that_is_not_a_date_is_a_config_error() -> None:
    """`[[billing.rate]] from = "not-a-date"` is a configuration error (exit 78), not a crash."""
    with pytest.raises(ConfigError):
        build_config({"billing": {"rate": [{"from": "not-a-date", "percent": 9}]}})


def test_interest_rates_and_closures_are_read() -> None:
    """Dated interest rates are sorted by date; closures and TOML times are accepted."""
    config = build_config({
        "billing": {"rate": [{"from": date(2027, 1, 1), "percent": 8},
                             {"from": "2026-01-01", "percent": "9.5"}]},
        "calendar": {"closures": ["2026-12-24", date(2026, 12, 31)], "opens": time(8)},
    })
    assert [(rate.starts_on, rate.annual_percent) for rate in config.billing.rates] == [
        (date(2026, 1, 1), Decimal("9.5")), (date(2027, 1, 1), Decimal(8)),
    ]
    assert config.calendar.closures == (date(2026, 12, 24), date(2026, 12, 31))
    assert config.calendar.opens == time(8)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    """A refusal from a file's content says which file."""
    path = write(tmp_path / "typo.toml", '[gatway]\nid = "x"\n')
    with pytest.raises(ConfigError, match=r"typo\.toml: unknown section \[gatway\]"):
        load_config(str(path), environ={})


# check-config on the command line


def test_check_config_with_a_missing_file_exits_78_naming_it(tmp_path: Path) -> None:
    """`carm-gateway check-config --config missing.toml`: exit 78, the file named on stderr."""
    missing = tmp_path / "missing.toml"
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(missing)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == EXIT_CONFIG
    assert str(missing) in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("position", ["before", "after"])
def test_config_option_is_accepted_before_and_after_the_command(
        tmp_path: Path, position: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--config works on either side of the command name."""
    path = write(tmp_path / "g.toml",
                 f'[gateway]\nstate_directory = "{tmp_path}"\n[partners]\nfile = "{PARTNERS}"\n')
    arguments = ["--config", str(path), "check-config"] if position == "before" \
        else ["check-config", "--config", str(path)]
    assert main(arguments) == 0
    output = capsys.readouterr().out
    assert f"configuration: {path}" in output
    assert "(2 senders, 1 accounts)" in output


def test_check_config_with_a_missing_registry_exits_78(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration whose partner registry is missing fails check-config with 78."""
    registry = tmp_path / "no-partners.toml"
    path = write(tmp_path / "g.toml", f'[partners]\nfile = "{registry}"\n')
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG
    assert str(registry) in capsys.readouterr().err


def test_check_config_with_an_invalid_registry_exits_78(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A registry that does not parse fails check-config with 78 and says why."""
    registry = write(tmp_path / "partners.toml", '[[sender]]\nid = "bad id"\n')
    path = write(tmp_path / "g.toml", f'[partners]\nfile = "{registry}"\n')
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG
    assert "id must match" in capsys.readouterr().err


def test_check_config_with_an_invalid_file_exits_78(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A named file with a wrong key: 78 and the reason on stderr."""
    path = write(tmp_path / "g.toml", "[gateway]\nport = 1\n")
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG
    error = capsys.readouterr().err
    assert str(path) in error
    assert "unknown key [gateway] port" in error


def test_check_config_reads_carm_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """CARM_CONFIG is the configuration of check-config when no --config is given."""
    missing = tmp_path / "named-by-env.toml"
    monkeypatch.setenv("CARM_CONFIG", str(missing))
    assert main(["check-config"]) == EXIT_CONFIG
    assert "named-by-env.toml" in capsys.readouterr().err


def test_example_configuration_passes_check_config(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """config/gateway.toml with config/partners.toml, from the checkout, is a good configuration."""
    monkeypatch.chdir(PROJECT)
    assert main(["check-config", "--config", "config/gateway.toml"]) == 0
    output = capsys.readouterr().out
    assert "partner registry: config/partners.toml (2 senders, 1 accounts)" in output
    assert "mail: Maildir" in output


def test_check_config_prints_no_passwords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Credentials in the MQTT, SMTP and database URLs never appear in check-config's output."""
    path = write(tmp_path / "g.toml", f'[partners]\nfile = "{PARTNERS}"\n')
    monkeypatch.setenv("CARM_MQTT_URL", "mqtts://gw:mqtt-secret@broker.example:8883")
    monkeypatch.setenv("CARM_SMTP_URL", "smtps://gw:smtp-secret@mail.example:465")
    monkeypatch.setenv("CARM_DATABASE_URL", "postgresql://carm:db-secret@db.example/carm")
    assert main(["check-config", "--config", str(path)]) == 0
    captured = capsys.readouterr()
    assert "broker.example:8883" in captured.out
    for secret in ("mqtt-secret", "smtp-secret", "db-secret"):
        assert secret not in captured.out + captured.err


# Values that `run` could not use are refused when the configuration is loaded


@pytest.mark.parametrize(
    "listen",
    ["localhost", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:", "127.0.0.1:http",
     "127.0.0.1:+80", "::1:9464", "[::1:9464", "[localhost]:9464", "bad host!:9464",
     "127.0.0.1:9464\n"],
)
def test_a_listen_address_that_is_not_host_and_port_is_an_error(listen: str) -> None:
    """`[metrics] listen` is HOST:PORT with a port from 0 to 65535 (an IPv6 address in
    brackets); anything else is refused at load time, not a ValueError when `run` starts."""
    with pytest.raises(ConfigError, match=r"\[metrics\] listen"):
        build_config({"metrics": {"listen": listen}})


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:9464", ("::1", 9464)),
        (":9464", ("127.0.0.1", 9464)),
        ("metrics.example:65535", ("metrics.example", 65535)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
    ],
)
def test_listen_addresses_that_are_accepted(listen: str, address: tuple[str, int]) -> None:
    """The host and port the metrics endpoint binds; no host means the loopback, port 0 any
    free port (the tests' daemons use it)."""
    assert build_config({"metrics": {"listen": listen}}).metrics_listen == listen
    assert listen_address(listen) == address


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"retention": {"days": -1}}, r"\[retention\] days must be greater than 0"),
        ({"retention": {"days": 0}}, r"\[retention\] days must be greater than 0"),
        ({"retention": {"days": 10_000_000}}, r"\[retention\] days .*at most 36500"),
        ({"retention": {"rejected_payload_bytes_max": -4}},
         r"\[retention\] rejected_payload_bytes_max must be 0 or more"),
        ({"mqtt": {"receive_maximum": 65_536}}, r"\[mqtt\] receive_maximum .*at most 65535"),
        ({"mqtt": {"receive_maximum": -1}}, r"\[mqtt\] receive_maximum"),
        ({"mqtt": {"session_expiry_s": 2**32}}, r"\[mqtt\] session_expiry_s .*at most"),
        ({"retries": {"attempts": -3}}, r"\[retries\] attempts must be greater than 0"),
        ({"retries": {"attempts": 5000}}, r"\[retries\] attempts .*at most 1000"),
        ({"retries": {"backoff_s_max": -1}}, r"\[retries\] backoff_s_max"),
        ({"retries": {"backoff_s_max": float("nan")}}, r"\[retries\] backoff_s_max"),
        ({"retries": {"backoff_s_max": float("inf")}}, r"\[retries\] backoff_s_max"),
        ({"retries": {"backoff_s_max": 1e20}}, r"\[retries\] backoff_s_max .*at most 86400"),
        ({"gateway": {"max_message_bytes": -1}}, r"\[gateway\] max_message_bytes"),
    ],
)
def test_counts_and_durations_out_of_range_are_errors(raw: dict[str, object],
                                                       message: str) -> None:
    """Sizes, counts and durations have a sign and a range; `[retention] days = -1` would have
    made `purge` drop every record, and past the upper bounds date arithmetic overflows."""
    with pytest.raises(ConfigError, match=message):
        build_config(raw)


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", float("nan"),
                                   float("inf"), -5, "-0.5", 101, "100.01"])
@pytest.mark.parametrize(
    ("section", "key"),
    [("standards", "target_percent"), ("standards", "escalate_at_percent"),
     ("billing", "interest_annual_percent")],
)
def test_a_percentage_is_a_number_from_0_to_100(section: str, key: str, value: object) -> None:
    """NaN, infinities, negative values and values above 100 are refused by name."""
    with pytest.raises(ConfigError, match=rf"\[{section}\] {key} must be a percentage"):
        build_config({section: {key: value}})


@pytest.mark.parametrize("percent", ["NaN", "Infinity", -1, 250])
def test_a_dated_interest_rate_is_a_percentage_too(percent: object) -> None:
    """`[[billing.rate]] percent` follows the same rule as `interest_annual_percent`."""
    with pytest.raises(ConfigError, match=r"\[billing.rate\] percent must be a percentage"):
        build_config({"billing": {"rate": [{"from": "2026-01-01", "percent": percent}]}})


def test_percentages_at_the_bounds_are_accepted() -> None:
    """0 and 100 are percentages; so are decimals written as text."""
    config = build_config({"standards": {"target_percent": 100, "escalate_at_percent": "0"},
                           "billing": {"interest_annual_percent": "9.75"}})
    assert config.standards.target_percent == Decimal(100)
    assert config.standards.escalate_at_percent == Decimal(0)
    assert config.billing.interest_annual_percent == Decimal("9.75")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mqtt": {"url": "mqtt://broker:99999"}}, r"\[mqtt\] url"),
        ({"mqtt": {"url": "mqtts://gw:secret@broker:port"}}, r"\[mqtt\] url"),
        ({"smtp": {"url": "smtp://mail:99999"}}, r"\[smtp\] url"),
        ({"smtp": {"url": "smtps://[::1:465"}}, r"\[smtp\] url"),
    ],
)
def test_a_url_with_a_port_that_cannot_be_read_is_an_error(raw: dict[str, object],
                                                           message: str) -> None:
    """A port out of range in a URL is refused at load time (`run` failed with a traceback when
    it first connected), and the error hides the URL's credentials."""
    with pytest.raises(ConfigError, match=message) as refused:
        build_config(raw)
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize(
    "sender",
    ["", "nobody", "gw@mail.example\r\nBcc: victim@example.com", "Gateway <gw@mail.example>",
     "gw@mail.example, other@mail.example", "g w@mail.example", "gw@mail example",
     "gw@@mail.example", "gw@mail.example\n"],
)
def test_smtp_from_is_one_plain_address(sender: str) -> None:
    """`[smtp] from` goes into the From header and the envelope: exactly one bare address."""
    with pytest.raises(ConfigError, match=r"\[smtp\] from must be one plain address"):
        build_config({"smtp": {"from": sender}})


@pytest.mark.parametrize(
    "operators",
    ["ops@example.com\r\nBcc: victim@example.com", ["root@localhost", "x@y.example\nBcc: z@w"],
     ["Ops <ops@example.com>"], "ops@example.com, boss@example.com", []],
)
def test_operators_are_plain_addresses(operators: object) -> None:
    """Each operator address goes into a To header: one plain address each."""
    with pytest.raises(ConfigError, match=r"\[smtp\] operators"):
        build_config({"smtp": {"operators": operators}})


@pytest.mark.parametrize(
    "domain", ["", "localhost\r\nX-Injected: 1", "mail example", "gw@mail.example",
               "-mail.example", "mail..example", "mail.example>"],
)
def test_smtp_domain_is_a_host_name(domain: str) -> None:
    """`[smtp] domain` ends every Message-ID: a host name and nothing else."""
    with pytest.raises(ConfigError, match=r"\[smtp\] domain must be a host name"):
        build_config({"smtp": {"domain": domain}})


def test_plain_addresses_and_host_names_are_accepted() -> None:
    """Ordinary addresses and domains pass unchanged."""
    config = build_config({"smtp": {"from": "carm-gateway+gw1@mail.example.com",
                                    "operators": ["ops@example.com", "o'brien@example.ca"],
                                    "domain": "gw1.example.com"}})
    assert config.smtp.sender == "carm-gateway+gw1@mail.example.com"
    assert config.smtp.operators == ("ops@example.com", "o'brien@example.ca")
    assert config.smtp.domain == "gw1.example.com"
    assert plain_address("root@localhost")
    assert not plain_address("root@localhost\r\n")


@pytest.mark.parametrize(
    "raw",
    [
        {"calendar": {"closures": [datetime(2026, 12, 24)]}},
        {"billing": {"rate": [{"from": date(2026, 1, 1), "percent": 9},
                              {"from": datetime(2027, 1, 1), "percent": 8}]}},
    ],
)
def test_a_date_and_time_where_a_date_is_expected_is_an_error(raw: dict[str, object]) -> None:
    """TOML `2026-12-24T00:00:00` is a date and time: as a closure it never matched a day, and
    among dated rates it made sorting fail with a TypeError."""
    with pytest.raises(ConfigError, match="not a date"):
        build_config(raw)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("gateway", "id", "gw 1"),
        ("gateway", "id", "gw/1"),
        ("gateway", "cluster", "carm\r\nBcc: x@y.example"),
        ("mqtt", "group", "carm/east"),
        ("mqtt", "group", "carm+"),
        ("mqtt", "group", "#"),
    ],
)
def test_names_that_go_into_topics_and_headers_are_refused(section: str, key: str,
                                                           value: str) -> None:
    """The instance id, the cluster and the subscription group go into MQTT client ids and
    topic filters, AcknowledgementIDs and email Message-IDs: letters, digits, `.`, `_`, `-`."""
    with pytest.raises(ConfigError, match=rf"\[{section}\] {key} must be 1 to 64 letters"):
        build_config({section: {key: value}})


def test_plain_names_are_accepted() -> None:
    config = build_config({"gateway": {"id": "gw-1.east_2", "cluster": "carm-prod"},
                           "mqtt": {"group": "carm"}})
    assert (config.gateway.id, config.gateway.cluster, config.mqtt.group) == \
        ("gw-1.east_2", "carm-prod", "carm")
