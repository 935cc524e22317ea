"""The README's run command chooses its broker: `scripts/run --broker-only` (no setup, no daemon)
starts a mosquitto of its own with config/mosquitto/local.conf on its own loopback port, reuses
it on the next run, and never settles for another program on that port. Each test moves the
broker to a free loopback port and a scratch directory, so nothing on 1883 is touched."""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.peers import REPO, free_port

RUN = REPO / "scripts" / "run"
LOCAL_CONF = REPO / "config" / "mosquitto" / "local.conf"
THE_GATEWAYS_SETTINGS = ("max_inflight_messages", "max_queued_messages", "message_size_limit",
                         "persistence", "set_tcp_nodelay")

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed"),
]


def _settings(text: str) -> dict[str, str]:
    pairs = (line.split(None, 1) for line in text.splitlines()
             if line.strip() and not line.startswith("#"))
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def _run(port: int, directory: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("CARM_")}
    environment |= {"CARM_RUN_MQTT_PORT": str(port), "CARM_RUN_BROKER_DIR": str(directory)}
    environment |= extra
    return subprocess.run([str(RUN), "--broker-only"], env=environment, capture_output=True,
                          text=True, timeout=30, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), f"mosquitto {pid} did not stop"


@pytest.fixture
def broker_directory(tmp_path: Path) -> Iterator[Path]:
    """A directory inside a 0700 one, as state/mosquitto is in a checkout under /root; the
    mosquitto started there is stopped afterwards, by its pid."""
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    directory = private / "mosquitto"
    try:
        yield directory
    finally:
        pid_file = directory / "mosquitto.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            command = Path(f"/proc/{pid}/cmdline")
            if command.exists() and str(directory) in command.read_text():
                _stop(pid)


def test_the_shipped_broker_has_a_port_of_its_own() -> None:
    """Not 1883: Debian's packaged mosquitto service or an operator's broker is there."""
    listener = _settings(LOCAL_CONF.read_text())["listener"].split()
    assert listener[1] == "127.0.0.1"
    assert listener[0] != "1883"


def test_starts_a_persistent_broker_with_the_gateways_settings_and_reuses_it(
        broker_directory: Path) -> None:
    port = free_port()
    first = _run(port, broker_directory)
    assert first.returncode == 0, first.stderr
    assert f"CARM_MQTT_URL=mqtt://127.0.0.1:{port}" in first.stdout
    pid = int((broker_directory / "mosquitto.pid").read_text())
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass

    written = _settings((broker_directory / "mosquitto.conf").read_text())
    shipped = _settings(LOCAL_CONF.read_text())
    for name in THE_GATEWAYS_SETTINGS:
        assert written[name] == shipped[name], name
    assert written["listener"] == f"{port} 127.0.0.1"
    # as root, mosquitto keeps the user that started it and writes the 0700 directory
    assert written["user"] == subprocess.run(["id", "-un"], capture_output=True, text=True,
                                             check=True).stdout.strip()
    assert (broker_directory / "mosquitto.log").stat().st_size > 0

    second = _run(port, broker_directory)
    assert second.returncode == 0, second.stderr
    assert f"using the mosquitto started before on 127.0.0.1:{port} (pid {pid})" in second.stdout
    assert int((broker_directory / "mosquitto.pid").read_text()) == pid

    _stop(pid)
    assert (broker_directory / "mosquitto.db").is_file()


def test_another_program_on_the_port_is_not_taken_for_the_broker(
        broker_directory: Path) -> None:
    """What listens there (the system's mosquitto, say) lacks the gateway's settings: refuse."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = _run(port, broker_directory)
    assert result.returncode != 0
    assert f"127.0.0.1:{port} is taken by another program" in result.stderr
    assert not (broker_directory / "mosquitto.pid").exists()


def test_a_broker_named_by_the_operator_is_used_as_it_is(broker_directory: Path) -> None:
    result = _run(free_port(), broker_directory, CARM_MQTT_URL="mqtt://127.0.0.1:1883")
    assert result.returncode == 0, result.stderr
    assert "CARM_MQTT_URL is set" in result.stdout
    assert not broker_directory.exists()
