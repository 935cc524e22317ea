"""A loopback TCP proxy the tests control: cut every connection, refuse for a while, stall."""

import select
import socket
import threading
import time

from support.peers import free_port

CHUNK_BYTES = 65536
POLL_S = 0.05


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(POLL_S)
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._refuse_until = 0.0
        self._stall_until = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def cut(self, refuse_s: float = 0.0) -> None:
        """Close every connection now and refuse new ones for `refuse_s`."""
        self._refuse_until = time.monotonic() + refuse_s
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            for sock in (client, upstream):
                sock.close()

    def stall(self, seconds: float) -> None:
        """Stop forwarding in both directions for `seconds` (connections stay open)."""
        self._stall_until = time.monotonic() + seconds

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                client = None
            if client is not None:
                if time.monotonic() < self._refuse_until:
                    client.close()
                else:
                    try:
                        upstream = socket.create_connection(("127.0.0.1", self.target_port), 2)
                    except OSError:
                        client.close()
                    else:
                        with self._lock:
                            self._pairs.append((client, upstream))
            self._forward()

    def _forward(self) -> None:
        if time.monotonic() < self._stall_until:
            time.sleep(POLL_S)
            return
        with self._lock:
            pairs = list(self._pairs)
        sockets = [sock for pair in pairs for sock in pair]
        if not sockets:
            return
        try:
            readable, _, _ = select.select(sockets, [], [], POLL_S)
        except (OSError, ValueError):
            return
        for sock in readable:
            pair = next(p for p in pairs if sock in p)
            other = pair[1] if sock is pair[0] else pair[0]
            try:
                data = sock.recv(CHUNK_BYTES)
                if data:
                    other.sendall(data)
                    continue
            except OSError:
                pass
            with self._lock:
                if pair in self._pairs:
                    self._pairs.remove(pair)
            for end in pair:
                end.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.cut()
        self._listener.close()
