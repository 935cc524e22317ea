"""What-if launcher: `python bench/nodelay.py run --config FILE` runs the gateway as
`python -m gateway run --config FILE` would, with TCP_NODELAY set on every TCP connection it
opens (paho, under aiomqtt, leaves Nagle's algorithm on). The gateway's files are not changed:
this measures what setting the option in gateway/transport/mqtt.py would gain.
"""

import runpy
import socket
import sys
from typing import Any

_create_connection = socket.create_connection


def _create_connection_without_nagle(*args: Any, **kwargs: Any) -> socket.socket:
    connection = _create_connection(*args, **kwargs)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


if __name__ == "__main__":
    socket.create_connection = _create_connection_without_nagle
    sys.argv = ["gateway", *sys.argv[1:]]
    runpy.run_module("gateway", run_name="__main__", alter_sys=True)
