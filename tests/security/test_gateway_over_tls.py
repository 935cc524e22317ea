"""The real daemon behind the shipped secure broker: TLS, its own account, the partner checks
of its pipeline (AUTH002, AUTH001), secrets kept out of its logs, owner-only state files."""

import json
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from secure_broker import ACCOUNTS, SecureBroker, running_secure_broker
from support.peers import REPO, Daemon, write_config

EXAMPLES = REPO / "examples"
NS = {"a": "urn:carm-gateway:message:1"}
COMMAND_TIMEOUT_S = 30
ANSWER_TIMEOUT_S = "15"
GATEWAY_PASSWORD = ACCOUNTS["carm-gateway"]
OTHER_ACCOUNT = "987654324RM0001"
"""Registered, and delegated to BRK77 only."""

REGISTRY = """\
[[sender]]
id = "BRK42"
email = "edi@broker42.example"
notify = "all"
accounts = ["123456782RM0001"]

[[sender]]
id = "BRK77"
email = "edi@broker77.example"
notify = "all"
accounts = ["987654324RM0001"]

[[account]]
number = "123456782RM0001"
email = "accounts@importer.example"
security = "25000.00"
security_type = "bond"

[[account]]
number = "987654324RM0001"
email = "accounts@other-importer.example"
security = "1000.00"
security_type = "cash"
"""


@dataclass
class Setup:
    broker: SecureBroker
    directory: Path
    registry: Path
    partner_password: Path


@dataclass
class Submitted:
    exit_status: int
    stderr: str
    status: str | None
    answer: bytes | None

    def text(self, path: str) -> str | None:
        assert self.answer is not None
        found = etree.fromstring(self.answer).find(path, namespaces=NS)
        return str(found.text) if found is not None else None

    def codes(self) -> list[str]:
        assert self.answer is not None
        root = etree.fromstring(self.answer)
        return [str(p.get("code")) for p in root.findall("a:Problem", namespaces=NS)]


def gateway_config(setup: Setup, name: str, mqtt_url: str, mqtt_extra: str = "") -> Path:
    """write_config's file with TLS material (and more) added to its [mqtt] table."""
    path = write_config(setup.directory / name, mqtt_url=mqtt_url, partners=setup.registry,
                        instance=name)
    text = path.read_text()
    url_line = f'url = "{mqtt_url}"\n'
    assert url_line in text
    extra = f'ca_file = "{setup.broker.ca_file}"\n{mqtt_extra}'
    path.write_text(text.replace(url_line, url_line + extra, 1))
    return path


def run_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *arguments], capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT_S, cwd=REPO, check=False)


def submit(config: Path, document: Path, *, sender: str = "BRK42", username: str = "BRK42",
           password_file: Path) -> Submitted:
    result = run_command("submit", "--config", str(config), "--sender", sender,
                         "--username", username, "--password-file", str(password_file),
                         "--timeout", ANSWER_TIMEOUT_S, "--json", str(document))
    shown: list[dict[str, str | None]] = (json.loads(result.stdout) if result.stdout.strip()
                                           else [{}])
    answer = shown[0].get("answer")
    return Submitted(result.returncode, result.stderr, shown[0].get("status"),
                     answer.encode() if answer else None)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    directory = tmp_path_factory.mktemp("gateway-over-tls")
    registry = directory / "partners.toml"
    registry.write_text(REGISTRY)
    partner_password = directory / "brk42-password"
    partner_password.write_text(ACCOUNTS["BRK42"] + "\n")
    with running_secure_broker(directory / "broker") as broker:
        yield Setup(broker, directory, registry, partner_password)


@pytest.fixture(scope="module")
def daemon(setup: Setup) -> Iterator[Daemon]:
    """The gateway as its unit runs it: user name in the URL, the password a systemd
    credential (a bare name in password_file, read from $CREDENTIALS_DIRECTORY)."""
    credentials = setup.directory / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "mqtt-password").write_text(GATEWAY_PASSWORD + "\n")
    config = gateway_config(setup, "gateway", setup.broker.url("carm-gateway"),
                            'password_file = "mqtt-password"\n')
    running = Daemon(config, setup.directory / "daemon.log",
                     {"CREDENTIALS_DIRECTORY": str(credentials)})
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.mark.slow
def test_a_declaration_submitted_over_tls_is_accepted(setup: Setup, daemon: Daemon) -> None:
    """`submit --username BRK42 --password-file F` publishes over TLS as the partner; the
    daemon, logged in as carm-gateway with its credential, answers accepted."""
    result = submit(daemon.config, EXAMPLES / "declaration.xml",
                    password_file=setup.partner_password)
    assert (result.exit_status, result.status) == (0, "accepted"), result.stderr
    assert result.text("a:Sender") == "BRK42"
    assert result.text("a:Assessment/a:Total") == "1093.07"
    assert result.codes() == []


@pytest.mark.slow
def test_a_forged_header_sender_is_auth002(setup: Setup, daemon: Daemon) -> None:
    """BRK42 publishes, on its own topic, a document whose Header/Sender names BRK99: AUTH002,
    answered to BRK42 only, with no balance."""
    result = submit(daemon.config, EXAMPLES / "invalid-auth002-sender-mismatch.xml",
                    password_file=setup.partner_password)
    assert (result.exit_status, result.status) == (1, "rejected"), result.stderr
    assert "AUTH002" in result.codes()
    assert result.text("a:Sender") == "BRK42"
    assert result.text("a:Balance") is None


@pytest.mark.slow
def test_an_account_the_sender_is_not_delegated_for_is_auth001(
        setup: Setup, daemon: Daemon, tmp_path: Path) -> None:
    """A valid declaration for a registered account that BRK42 is not delegated for (BRK77 is):
    AUTH001, and the answer carries nothing of that account (no assessment, no balance)."""
    original = (EXAMPLES / "declaration.xml").read_text()
    document = tmp_path / "other-account.xml"
    document.write_text(original
                        .replace("BRK42-2026-000101", "BRK42-SEC-000001")
                        .replace("123456782RM0001", OTHER_ACCOUNT)
                        .replace("12345000001235", "12345000007778"))
    result = submit(daemon.config, document, password_file=setup.partner_password)
    assert (result.exit_status, result.status) == (1, "rejected"), result.stderr
    assert result.codes() == ["AUTH001"]
    assert result.text("a:Balance") is None
    assert result.text("a:Assessment/a:Total") is None
    assert result.text("a:PaymentDue") is None


@pytest.mark.slow
def test_submit_cannot_publish_as_another_partner(setup: Setup, daemon: Daemon,
                                                  tmp_path: Path) -> None:
    """With BRK42's account, `submit --sender BRK77` is refused by the broker at once (exit 1,
    the reason on stderr), and a wrong password is refused at login."""
    as_other = submit(daemon.config, EXAMPLES / "declaration-test.xml", sender="BRK77",
                      password_file=setup.partner_password)
    assert as_other.exit_status == 1
    assert "refused the publish on carm/v1/in/BRK77" in as_other.stderr
    assert "Not authorized" in as_other.stderr
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    refused = submit(daemon.config, EXAMPLES / "declaration-test.xml", password_file=wrong)
    assert refused.exit_status == 1
    assert "Not authorized" in refused.stderr


@pytest.mark.slow
def test_the_database_and_the_maildir_are_owner_only(setup: Setup, daemon: Daemon) -> None:
    """After a run, the state directory and the Maildir are 0700 and the database 0600, so
    no other local user reads declarations, payments or emails."""
    result = submit(daemon.config, EXAMPLES / "payment.xml", password_file=setup.partner_password)
    assert result.status in ("accepted", "rejected"), result.stderr
    state = daemon.config.parent / "state"
    mail = state / "mail"
    deadline = time.monotonic() + 10
    while not any((mail / "new").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any((mail / "new").glob("*")), "no email was written"
    modes = {path.name: stat.S_IMODE(path.stat().st_mode)
             for path in (state, mail, mail / "new", mail / "tmp", mail / "cur")}
    assert modes == dict.fromkeys(modes, 0o700)
    for database_file in state.glob("gateway.db*"):
        assert stat.S_IMODE(database_file.stat().st_mode) == 0o600, database_file.name


@pytest.mark.slow
def test_a_password_in_the_url_is_in_no_log_line_and_no_check_config_output(
        setup: Setup, tmp_path: Path) -> None:
    """The gateway's password given in the URL (mqtts://carm-gateway:PASSWORD@...) works, and
    appears in no line the daemon writes, whether its login succeeds or fails, nor in what
    check-config prints, also when it comes from CARM_MQTT_URL."""
    config = gateway_config(setup, "url-password",
                            setup.broker.url("carm-gateway", GATEWAY_PASSWORD))
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        daemon.wait_ready()
        result = submit(config, EXAMPLES / "declaration-test.xml",
                        password_file=setup.partner_password)
        assert result.status == "accepted", result.stderr
    finally:
        daemon.stop()

    wrong_url = setup.broker.url("carm-gateway", "Wrong-" + GATEWAY_PASSWORD)
    refused = Daemon(gateway_config(setup, "wrong-password", wrong_url), tmp_path / "refused.log")
    refused.start()
    try:
        deadline = time.monotonic() + 15
        while "broker connection lost" not in refused.log.read_text() \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        refused.stop()

    logged = daemon.log.read_text() + refused.log.read_text()
    assert "message processed" in logged and "broker connection lost" in logged
    assert GATEWAY_PASSWORD not in logged

    checked = run_command("check-config", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert f"mqtts://127.0.0.1:{setup.broker.port}" in checked.stdout
    from_environment = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(config)],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, cwd=REPO, check=False,
        env={"PATH": "/usr/bin:/bin", "CARM_MQTT_URL": wrong_url})
    assert from_environment.returncode == 0, from_environment.stderr
    for output in (checked.stdout, checked.stderr, from_environment.stdout,
                   from_environment.stderr):
        assert GATEWAY_PASSWORD not in output
