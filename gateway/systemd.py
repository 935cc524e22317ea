"""sd_notify over the datagram socket systemd names in NOTIFY_SOCKET (a no-op elsewhere)."""

import os
import socket


def notify(state: str) -> bool:
    """Send one state line (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1); False if no socket."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True
