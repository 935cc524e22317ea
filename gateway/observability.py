"""The metrics endpoint (/metrics, /healthz, /readyz) and the heartbeat to systemd.

A small asyncio HTTP responder: the endpoints are GETs with no body, for Prometheus and for
load balancers; anything else is 404.
"""

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway import metrics
from gateway.config import listen_address
from gateway.store.database import Database, StoreUnavailable, Tx
from gateway.systemd import notify

log = structlog.get_logger("gateway.observability")
REQUEST_TIMEOUT_S = 5.0
REQUEST_BYTES_MAX = 8192
HEARTBEAT_S_DEFAULT = 5.0


@dataclass(frozen=True)
class Counts:
    journal: int
    outbox: int
    dead_letters: int
    oldest_respond_by: str | None


def counts(tx: Tx, instance: str) -> Counts:
    journal = tx.one("SELECT COUNT(*) FROM inbox WHERE status = 'pending' AND instance = ?",
                     (instance,))
    outbox = tx.one("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND instance = ?",
                    (instance,))
    dead = tx.one("SELECT COUNT(*) FROM dead_letters WHERE resolved_at IS NULL")
    oldest = tx.one("SELECT MIN(respond_by) FROM inbox WHERE clock_stopped_at IS NULL"
                    " AND instance = ?", (instance,))  # along the index inbox_open_clock
    return Counts(int(journal[0]) if journal else 0, int(outbox[0]) if outbox else 0,
                  int(dead[0]) if dead else 0,
                  None if oldest is None or oldest[0] is None else str(oldest[0]))


def heartbeat_interval_s() -> float:
    """Half of systemd's WatchdogSec (WATCHDOG_USEC), or a few seconds without a watchdog."""
    watchdog_us = os.environ.get("WATCHDOG_USEC", "")
    if watchdog_us.isascii() and watchdog_us.isdigit() and int(watchdog_us) > 0:
        return int(watchdog_us) / 2_000_000
    return HEARTBEAT_S_DEFAULT


async def heartbeat(database: Database, instance: str, connected: Callable[[], bool]) -> None:
    """From the main loop: WATCHDOG=1 (a hung loop stops it, and systemd restarts us), the
    STATUS= line with live counts, and the backlog gauges.

    The watchdog is fed whatever the database does: a database locked by a command or a
    PostgreSQL failover is waited out by the loops that use it, and must not get a running
    daemon killed. One reading of the counts at a time; a slow one is waited for across
    intervals and STATUS says so."""
    interval_s = heartbeat_interval_s()
    reading: asyncio.Future[Counts] | None = None
    while True:
        notify("WATCHDOG=1")
        started = time.monotonic()
        if reading is None:
            reading = asyncio.ensure_future(database.transaction(lambda tx: counts(tx, instance)))
        await asyncio.wait({reading}, timeout=interval_s)
        link = "connected" if connected() else "reconnecting"
        if not reading.done():
            notify(f"STATUS=broker {link}; database busy")
        else:
            finished, reading = reading, None
            try:
                found = finished.result()
            except StoreUnavailable as error:
                notify(f"STATUS=broker {link}; database unavailable: {error}"[:200])
            else:
                metrics.BACKLOG.labels("journal").set(found.journal)
                metrics.BACKLOG.labels("outbox").set(found.outbox)
                metrics.DEAD_LETTERS.set(found.dead_letters)
                notify(f"STATUS=broker {link}; journal backlog {found.journal}; outbox backlog "
                       f"{found.outbox}; dead letters {found.dead_letters}")
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))


class MetricsServer:
    def __init__(self, listen: str, ready: Callable[[], bool]) -> None:
        self.host, self.port = listen_address(listen)  # checked when the config was loaded
        self.ready = ready

    async def serve(self) -> None:
        try:
            server = await asyncio.start_server(self._answer, self.host, self.port)
        except OSError as error:
            log.error("metrics endpoint not started", listen=f"{self.host}:{self.port}",
                      error=str(error))
            return
        log.info("metrics endpoint listening", listen=f"{self.host}:{self.port}")
        async with server:
            await server.serve_forever()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            request = head[:REQUEST_BYTES_MAX].split(b"\r\n", 1)[0].decode("latin-1").split()
            path = request[1].split("?", 1)[0] if len(request) >= 2 else ""
            status, content_type, body = self._route(request[0] if request else "", path)
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                         + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass
        finally:
            writer.close()

    def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(metrics.REGISTRY)
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            if self.ready():
                return "200 OK", "text/plain", b"ready\n"
            return "503 Service Unavailable", "text/plain", b"not ready\n"
        return "404 Not Found", "text/plain", b"not found\n"
