"""Secrets at the edges: where password files are read from, what an unreadable one does, the
TLS settings the gateway insists on, and the log redaction behind everything."""

import logging
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme
from support.peers import REPO

from gateway.config import ConfigError, MqttSettings
from gateway.logs import REDACTED, RedactingFilter, redact_secrets, redact_text
from gateway.secrets import read_secret, secret_path
from gateway.transport.mqtt import Link, broker_address, tls_context

SECRET = "s3cret-Pa55"


def test_a_bare_password_file_name_is_a_systemd_credential(tmp_path: Path) -> None:
    """`password_file = "mqtt-password"` is read from $CREDENTIALS_DIRECTORY (LoadCredential=);
    a path with a directory part is read as written."""
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    (tmp_path / "mqtt-password").write_text(f"{SECRET}\n")
    assert secret_path(Path("mqtt-password"), environ) == tmp_path / "mqtt-password"
    assert read_secret(Path("mqtt-password"), "[mqtt] password_file", environ) == SECRET
    assert secret_path(Path("/etc/carm/pw"), environ) == Path("/etc/carm/pw")
    assert secret_path(Path("conf/pw"), environ) == Path("conf/pw")
    assert secret_path(Path("mqtt-password"), {}) == Path("mqtt-password")


def test_the_password_file_wins_over_the_url(tmp_path: Path) -> None:
    """A password in the URL is replaced by the password file's; neither is in the repr."""
    password_file = tmp_path / "pw"
    password_file.write_text(f"  {SECRET}\n")
    address = broker_address(MqttSettings(url="mqtts://gw:url-password@broker:8883",
                                          password_file=password_file))
    assert (address.username, address.password, address.tls) == ("gw", SECRET, True)
    assert SECRET not in repr(address) and "url-password" not in repr(address)


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_an_unreadable_or_empty_password_file_is_a_clear_configuration_error(
        tmp_path: Path, content: str | None) -> None:
    """Missing or empty: ConfigError naming the setting and the file, never a traceback, and a
    hint when a bare name was meant as a credential outside systemd."""
    path = tmp_path / "pw"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=r"\[mqtt\] password_file .*pw"):
        broker_address(MqttSettings(url="mqtts://gw@broker", password_file=path))
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY"):
        read_secret(Path("no-such-credential"), "[mqtt] password_file", {})


def test_the_daemon_exits_78_when_its_password_file_cannot_be_read(tmp_path: Path) -> None:
    """`run` with an unreadable password_file stops at once with status 78 (bad configuration,
    not restarted by systemd) and says which file, instead of retrying a login for ever."""
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nstate_directory = "{tmp_path / "state"}"\n'
                      f'[mqtt]\nurl = "mqtts://carm-gateway@127.0.0.1:1"\n'
                      f'password_file = "{tmp_path / "missing"}"\n'
                      f'[partners]\nfile = "{REPO / "config" / "partners.toml"}"\n'
                      f'[metrics]\nlisten = "127.0.0.1:0"\n')
    result = subprocess.run([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                            capture_output=True, text=True, timeout=30, cwd=REPO, check=False)
    assert result.returncode == 78, result.stderr
    assert f"[mqtt] password_file {tmp_path / 'missing'}: cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_link_reads_its_secrets_when_it_is_made(tmp_path: Path) -> None:
    """The daemon's Link checks the password file and the TLS files when it is built."""
    with pytest.raises(ConfigError, match="password_file"):
        Link(MqttSettings(url="mqtt://gw@127.0.0.1", password_file=tmp_path / "missing"),
             "gw1", lambda: datetime.now(UTC))
    with pytest.raises(ConfigError, match="ca_file"):
        Link(MqttSettings(url="mqtts://gw@127.0.0.1", ca_file=tmp_path / "missing.pem"),
             "gw1", lambda: datetime.now(UTC))


def test_tls_checks_the_certificate_and_the_host_name(tmp_path: Path) -> None:
    """The context verifies the chain and the host name and speaks TLS 1.2 at least; a client
    certificate is loaded when configured."""
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    client = authority.issue_cert("gw1.example")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert_file))
    client.private_key_pem.write_to_path(str(key_file))
    context = tls_context(MqttSettings(url="mqtts://b", ca_file=ca_file, cert_file=cert_file,
                                       key_file=key_file))
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("settings", [
    MqttSettings(url="mqtts://b", ca_file=Path("/nonexistent/ca.pem")),
    MqttSettings(url="mqtts://b", key_file=Path("/nonexistent/client.key")),
    MqttSettings(url="mqtts://b", cert_file=Path("/nonexistent/client.pem")),
])
def test_unusable_tls_material_is_a_configuration_error(settings: MqttSettings) -> None:
    """A missing CA, certificate or key, or a key without its certificate: ConfigError."""
    with pytest.raises(ConfigError, match=r"\[mqtt\] (ca_file|cert_file|key_file)"):
        tls_context(settings)


@pytest.mark.parametrize(("text", "secret"), [
    ("mqtts://carm-gateway:SECRETpw@broker:8883", "SECRETpw"),
    ("connect postgresql://carm:pa%40ss@db/carm failed", "pa%40ss"),
    ("smtp://u:p@ss@mail:587 refused", "p@ss"),
    ("login password=hunter2, retry", "hunter2"),
    ("PASSWORD = 'two words' set", "two words"),
    ("db_password=xyz&x=1", "xyz"),
])
def test_redaction_blanks_url_passwords_and_password_values(text: str, secret: str) -> None:
    """What looks like `scheme://user:pass@` or `password=value` loses its secret."""
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize("text", [
    "mqtts://carm-gateway@broker:8883", "password_file=/etc/carm-gateway/pw",
    "carm/v1/in/BRK42", "mqtt://127.0.0.1:1883",
])
def test_redaction_leaves_what_is_not_a_secret(text: str) -> None:
    """User names, file names, topics and credential-free URLs stay readable."""
    assert redact_text(text) == text


def test_every_structlog_event_is_redacted() -> None:
    """The processor redacts the event, every field (nested too), an exception's text, and any
    field named like a secret, whatever the code that logged it."""
    event = redact_secrets(None, "error", {
        "event": f"cannot reach mqtts://gw:{SECRET}@broker",
        "error": ValueError(f"bad url mqtts://gw:{SECRET}@broker"),
        "nested": {"urls": [f"smtps://m:{SECRET}@mail"], "password": SECRET},
        "token": SECRET,
        "exception": f"Traceback ...\nOSError: password={SECRET}",
        "attempt": 3,
    })
    assert SECRET not in repr(event)
    assert event["attempt"] == 3
    assert event["token"] == REDACTED


def test_standard_library_records_are_redacted() -> None:
    """paho's and asyncio's records (logging) are redacted too, message and traceback."""
    try:
        raise OSError(f"cannot open mqtts://gw:{SECRET}@broker")
    except OSError:
        record = logging.LogRecord("paho", logging.WARNING, __file__, 1,
                                   "retry %s", (f"password={SECRET}",), sys.exc_info())
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert SECRET not in formatted
    assert "cannot open" in formatted
