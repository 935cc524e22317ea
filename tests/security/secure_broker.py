"""A mosquitto run from the shipped config/mosquitto/secure.conf and config/mosquitto/acl.

Only what cannot be shipped is rewritten in a copy of secure.conf: the port (a free loopback
one), the certificate and key (made here with trustme, for 127.0.0.1 only), the password file
(made with mosquitto_passwd), the persistence and log locations, and the user to run as (the
test's own: as root, mosquitto would switch to the user `mosquitto`, which cannot read the
test's directory). The ACL file is the shipped one, unchanged.
"""

import getpass
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
from support.peers import REPO, free_port

SHIPPED_CONFIG = REPO / "config" / "mosquitto" / "secure.conf"
SHIPPED_ACL = REPO / "config" / "mosquitto" / "acl"
START_TIMEOUT_S = 10.0
SERVER_NAME = "127.0.0.1"
"""The only name in the broker's certificate: `localhost` is a host name mismatch."""

ACCOUNTS = {
    "carm-gateway": "gateway-Secret-7f3a",
    "BRK42": "brk42-Secret-91c2",
    "BRK77": "brk77-Secret-5d0e",
}


@dataclass
class SecureBroker:
    port: int
    directory: Path
    authority: trustme.CA
    ca_file: Path
    process: subprocess.Popen[bytes]

    def url(self, username: str, password: str | None = None, host: str = SERVER_NAME) -> str:
        credentials = f"{username}:{password}" if password is not None else username
        return f"mqtts://{credentials}@{host}:{self.port}"

    def client_context(self) -> ssl.SSLContext:
        """What a partner who has the gateway operator's CA certificate uses."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


def secure_config(template: str, settings: dict[str, str]) -> str:
    """The shipped configuration with the given directives' values replaced.

    Every replaced directive must be in the shipped file: a test of a configuration that lost
    its TLS listener or its password file would prove nothing.
    """
    lines, replaced = [], set()
    for line in template.splitlines():
        words = line.split(maxsplit=1)
        if words and words[0] in settings:
            lines.append(f"{words[0]} {settings[words[0]]}")
            replaced.add(words[0])
        else:
            lines.append(line)
    missing = set(settings) - replaced
    if missing:
        raise AssertionError(f"{SHIPPED_CONFIG} has no {sorted(missing)} directive")
    lines.append(f"user {getpass.getuser()}")
    return "\n".join(lines) + "\n"


def write_password_file(path: Path, accounts: dict[str, str]) -> None:
    """One hashed entry per account, made by mosquitto_passwd as an operator would."""
    create = ["-c"]
    for username, password in accounts.items():
        subprocess.run(["mosquitto_passwd", "-b", *create, str(path), username, password],
                       check=True, timeout=20, capture_output=True)
        create = []


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            shown = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"mosquitto exited with {process.returncode}:\n{shown}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"mosquitto does not listen on {port} after {START_TIMEOUT_S} s")


@contextmanager
def running_secure_broker(directory: Path) -> Iterator[SecureBroker]:
    """The shipped secure configuration on a free port, with the test's CA and accounts."""
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    ca_file = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server = authority.issue_cert(SERVER_NAME)
    server.cert_chain_pems[0].write_to_path(str(directory / "server.crt"))
    server.private_key_pem.write_to_path(str(directory / "server.key"))
    write_password_file(directory / "passwd", ACCOUNTS)
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(secure_config(SHIPPED_CONFIG.read_text(), {
        "listener": f"{port} 127.0.0.1",
        "certfile": str(directory / "server.crt"),
        "keyfile": str(directory / "server.key"),
        "password_file": str(directory / "passwd"),
        "acl_file": str(SHIPPED_ACL),
        "persistence_location": f"{directory}/",
        "log_dest": f"file {directory}/mosquitto.log",
    }))
    process = subprocess.Popen(["mosquitto", "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(process, port, directory / "mosquitto.log")
        yield SecureBroker(port, directory, authority, ca_file, process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
