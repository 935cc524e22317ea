"""Real peers for the tests: a mosquitto on a free loopback port, the daemon as a process."""

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


MOSQUITTO_CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
# as root, mosquitto would switch to its own user, which cannot write the test's directory
user {user}
persistence true
persistence_location {directory}/
autosave_interval 1
autosave_on_changes true
max_inflight_messages 1000
set_tcp_nodelay true
max_queued_messages 100000
log_dest file {directory}/mosquitto.log
"""


@dataclass
class Broker:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    extra_config: str = ""

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.directory / "mosquitto.conf"
        config.write_text(MOSQUITTO_CONFIG.format(port=self.port, directory=self.directory,
                                                  user=getpass.getuser()) + self.extra_config)
        self.process = subprocess.Popen(["mosquitto", "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """kill -9: what persistence has saved is all that survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def running_broker(directory: Path) -> Iterator[Broker]:
    if shutil.which("mosquitto") is None:
        raise RuntimeError("mosquitto is not installed: run .ci/run, or apt-get install mosquitto")
    directory.mkdir(parents=True, exist_ok=True)
    broker = Broker(free_port(), directory)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def mosquitto_pub(broker: Broker, topic: str, payload_file: Path,
                  correlation: str | None = None) -> None:
    """Publish with the real mosquitto client, MQTT 5, QoS 1."""
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5",
               "-q", "1", "-t", topic, "-f", str(payload_file)]
    if correlation is not None:
        command += ["-D", "publish", "correlation-data", correlation]
    subprocess.run(command, check=True, timeout=20)


GATEWAY_CONFIG = """\
[gateway]
id = "{instance}"
state_directory = "{state}"

[mqtt]
url = "{mqtt_url}"

[smtp]
url = "{smtp_url}"
start_tls = false

[partners]
file = "{partners}"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[retries]
attempts = {attempts}
backoff_s_max = 1
"""


def write_config(directory: Path, *, mqtt_url: str, smtp_url: str = "",
                 partners: Path = REPO / "config" / "partners.toml",
                 instance: str = "gw1", attempts: int = 5, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    path.write_text(GATEWAY_CONFIG.format(
        instance=instance, state=directory / "state", mqtt_url=mqtt_url, smtp_url=smtp_url,
        partners=partners, attempts=attempts, metrics_port=free_port(),
    ) + extra)
    return path


@dataclass
class Daemon:
    config: Path
    log: Path
    environment: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    directory: Path = REPO
    """Where it runs: `python -m gateway` imports the gateway of this checkout."""
    program: tuple[str, ...] = ("-m", "gateway")
    """What the interpreter runs, before `run --config` (the benchmark's TCP_NODELAY wrapper)."""

    def start(self, **environment: str) -> None:
        env = {key: value for key, value in os.environ.items()
               if key not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        env.update({**self.environment, **environment})
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *self.program, "run", "--config", str(self.config)],
            stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=self.directory,
        )
        handle.close()

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the daemon exited with {self.process.returncode}:\n"
                                   f"{self.log.read_text()}")
            if self.log.exists() and "gateway ready" in self.log.read_text():
                return
            time.sleep(0.05)
        raise TimeoutError(f"the daemon was not ready:\n{self.log.read_text()}")

    def wait_exit(self, timeout_s: float = START_TIMEOUT_S) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


@dataclass
class Response:
    topic: str
    payload: bytes
    correlation_data: bytes | None


class Listener:
    """A subscriber on the out topics, collecting what the gateway answers."""

    def __init__(self, broker: Broker, topic: str = "carm/v1/out/#") -> None:
        import paho.mqtt.client as paho  # noqa: PLC0415
        from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

        self.responses: list[Response] = []
        self._subscribed = False
        self._client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5,
                                   client_id=f"listener-{free_port()}")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: setattr(self, "_subscribed", True)
        self._client.connect("127.0.0.1", broker.port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()
        deadline = time.monotonic() + 10
        while not self._subscribed and time.monotonic() < deadline:
            time.sleep(0.02)

    def _on_message(self, client: object, userdata: object, message: object) -> None:
        properties = getattr(message, "properties", None)
        correlation = getattr(properties, "CorrelationData", None)
        self.responses.append(Response(
            getattr(message, "topic"), bytes(getattr(message, "payload")),  # noqa: B009
            bytes(correlation) if correlation is not None else None,
        ))

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[Response]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.responses) >= count:
                return list(self.responses)
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.responses)} of {count} responses after {timeout_s} s")

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
