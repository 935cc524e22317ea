"""`carm-gateway check-config` (CONTRACT section 8): it refuses what `run` would refuse, with exit
78 and a message naming the file, the key and what is wrong, and it reads the password files
and TLS material the way `run` does."""

import subprocess
import sys
from pathlib import Path

import pytest
import trustme

import gateway.config
import gateway.secrets
from gateway.cli import main

PROJECT = Path(__file__).resolve().parents[2]
PARTNERS = PROJECT / "config" / "partners.toml"
EXIT_CONFIG = 78


@pytest.fixture(autouse=True)
def no_system_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's /etc/carm-gateway, its credentials and CARM_* variables out."""
    monkeypatch.setattr(gateway.config, "SYSTEM_CONFIG", tmp_path / "absent" / "gateway.toml")
    monkeypatch.setattr(gateway.secrets, "SYSTEMD_CREDENTIALS", tmp_path / "run-credentials",
                        raising=False)
    for variable in ("CARM_CONFIG", "CARM_MQTT_URL", "CARM_DATABASE_URL", "CARM_SMTP_URL",
                     "CARM_PARTNERS_FILE", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(variable, raising=False)


def configuration(tmp_path: Path, extra: str, partners: Path = PARTNERS) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[gateway]\nstate_directory = "{tmp_path / "state"}"\n'
                    f'[partners]\nfile = "{partners}"\n{extra}', encoding="utf-8")
    return path


def check_config(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["check-config", "--config", str(path)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[metrics]\nlisten = "localhost"\n', "[metrics] listen must be HOST:PORT"),
        ('[metrics]\nlisten = "127.0.0.1:99999"\n', "[metrics] listen"),
        ("[retention]\ndays = -1\n", "[retention] days must be greater than 0"),
        ('[standards]\ntarget_percent = "NaN"\n', "[standards] target_percent"),
        ('[smtp]\nfrom = "gw@mail.example\\r\\nBcc: victim@example.com"\n', "[smtp] from"),
        ('[mqtt]\nurl = "mqtt://127.0.0.1:99999"\n', "[mqtt] url"),
    ],
)
def test_a_value_run_cannot_use_fails_check_config_with_78(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str) -> None:
    """The message names the configuration file, the key and what is wrong; stdout is empty."""
    path = configuration(tmp_path, extra)
    status, out, err = check_config(path, capsys)
    assert status == EXIT_CONFIG
    assert f"{path}: {message}" in err
    assert out == ""


@pytest.mark.parametrize("security", ["NaN", "Infinity", "-25000.00"])
def test_a_registry_security_that_is_not_an_amount_fails_check_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], security: str) -> None:
    """`security = "NaN"` used to pass and then crash `ledger statement`."""
    registry = tmp_path / "partners.toml"
    registry.write_text(PARTNERS.read_text(encoding="utf-8").replace(
        'security = "25000.00"', f'security = "{security}"'), encoding="utf-8")
    assert f'security = "{security}"' in registry.read_text(encoding="utf-8")
    status, _, err = check_config(configuration(tmp_path, "", registry), capsys)
    assert status == EXIT_CONFIG
    assert f"{registry}: [[account]] 123456782RM0001: security" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[mqtt]\nurl = "mqtts://127.0.0.1:8883"\nca_file = "{missing}"\n',
         "[mqtt] ca_file {missing}: cannot load"),
        ('[mqtt]\nurl = "mqtts://127.0.0.1:8883"\ncert_file = "{missing}"\n',
         "[mqtt] cert_file {missing}"),
        ('[mqtt]\npassword_file = "{missing}"\n', "[mqtt] password_file {missing}: cannot read"),
        ('[smtp]\nurl = "smtp://127.0.0.1:25"\npassword_file = "{missing}"\n',
         "[smtp] password_file {missing}: cannot read"),
    ],
)
def test_a_secret_or_tls_file_that_cannot_be_read_fails_check_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str) -> None:
    """Password files and TLS material are loaded as `run` loads them, so a missing one is exit
    78 here too, named by key and path."""
    missing = tmp_path / "missing" / "file"
    status, out, err = check_config(
        configuration(tmp_path, extra.format(missing=missing)), capsys)
    assert status == EXIT_CONFIG
    assert message.format(missing=missing) in err
    assert out == ""


def test_readable_secrets_and_tls_material_pass_and_are_not_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Good files pass; the passwords in them appear nowhere in the output."""
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    (tmp_path / "mqtt-pw").write_text("mqtt-s3cret\n", encoding="utf-8")
    (tmp_path / "smtp-pw").write_text("smtp-s3cret\n", encoding="utf-8")
    extra = (f'[mqtt]\nurl = "mqtts://gw@127.0.0.1:8883"\nca_file = "{ca_file}"\n'
             f'password_file = "{tmp_path / "mqtt-pw"}"\n'
             f'[smtp]\nurl = "smtps://gw@127.0.0.1:465"\n'
             f'password_file = "{tmp_path / "smtp-pw"}"\n')
    status, out, err = check_config(configuration(tmp_path, extra), capsys)
    assert status == 0, err
    assert "s3cret" not in out + err


def test_a_credential_of_the_service_is_left_to_the_service(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A systemd credential exists only while the service runs: from a shell, a bare name
    (no $CREDENTIALS_DIRECTORY) or a path in the service's absent credentials directory is
    reported as not checked, and check-config still passes (docs/install.md, step 5)."""
    service_credentials = gateway.secrets.SYSTEMD_CREDENTIALS / "carm-gateway.service"
    extra = ('[mqtt]\npassword_file = "mqtt-password"\n'
             f'[smtp]\nurl = "smtp://127.0.0.1:25"\n'
             f'password_file = "{service_credentials / "smtp-password"}"\n')
    status, out, err = check_config(configuration(tmp_path, extra), capsys)
    assert status == 0, err
    assert "[mqtt] password_file mqtt-password: a systemd credential" in out
    assert f"[smtp] password_file {service_credentials / 'smtp-password'}: a systemd" in out


def test_a_credential_is_checked_where_the_service_can_read_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With $CREDENTIALS_DIRECTORY set (inside the service), a missing credential is an error."""
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    status, _, err = check_config(
        configuration(tmp_path, '[mqtt]\npassword_file = "mqtt-password"\n'), capsys)
    assert status == EXIT_CONFIG
    assert f"[mqtt] password_file {tmp_path / 'mqtt-password'}: cannot read" in err


def test_run_with_a_bad_listen_address_exits_78_without_a_traceback(tmp_path: Path) -> None:
    """`run` refused `listen = "localhost"` with a ValueError traceback and exit 1, which
    systemd restarts every 5 s; now it is exit 78 (RestartPreventExitStatus) and one line."""
    path = configuration(tmp_path, '[metrics]\nlisten = "localhost"\n'
                                   '[mqtt]\nurl = "mqtt://127.0.0.1:9"\n')
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "run", "--config", str(path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == EXIT_CONFIG
    assert "Traceback" not in result.stderr
    assert f"{path}: [metrics] listen must be HOST:PORT" in result.stderr


def test_check_config_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json`: what was checked, as the text output says it."""
    import json  # noqa: PLC0415

    path = configuration(tmp_path, "")
    assert main(["check-config", "--config", str(path), "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["configuration"] == str(path) and checked["mail"] == "Maildir"
    assert checked["senders"] > 0 and checked["accounts"] > 0 and checked["notes"] == []
