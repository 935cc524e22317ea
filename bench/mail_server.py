"""aiosmtpd in a process of its own (the tests' `running_mail_server`), so that the mail
server does not share a GIL with the client being measured. Prints `ready PORT`; on SIGTERM
prints `received N` and exits."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.mail import running_mail_server


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_mail_server() as server:
        print(f"ready {server.port}", flush=True)
        stop.wait()
        print(f"received {len(server.received)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
