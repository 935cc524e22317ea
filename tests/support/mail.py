"""aiosmtpd as the SMTP peer: keeps every message; can be told to fail on purpose."""

import asyncio
import email
import email.message
import email.policy
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from support.peers import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Answers to give, one per DATA, before accepting again (e.g. "451 try later");
    "stall" waits `stall_s` without answering, "drop" keeps the message and hangs up."""
    stall_s: float = 5.0
    logins: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    """Recipients refused at RCPT TO with 550."""
    quit_stall_s: float = 0.0
    """How long QUIT waits for its answer."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_QUIT(self, server: Any, session: Any,  # noqa: N802
                          envelope: Any) -> str:
        await asyncio.sleep(self.quit_stall_s)
        return "221 Bye"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure == "stall":
            await asyncio.sleep(self.stall_s)
            return "451 4.4.2 too late"
        if failure is not None and failure != "drop":
            return failure
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or envelope.content)))
        if failure == "drop":
            server.transport.close()
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        login = getattr(auth_data, "login", b"")
        password = getattr(auth_data, "password", b"")
        if (login, password) == (b"gateway", b"s3cret"):
            self.logins.append(login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@dataclass
class MailServer:
    port: int
    handler: Handler

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return self.received
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.received)} of {count} emails after {timeout_s} s")


class ClosingController(Controller):
    """aiosmtpd's controller, which on stop also closes the connections still open and waits
    for them to be closed, so that no socket outlives its server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[Any] = []

    def factory(self) -> Any:
        session = super().factory()
        self.sessions = [s for s in self.sessions if s.transport is not None]
        self.sessions.append(session)
        return session

    async def _close_sessions(self, timeout_s: float) -> None:
        for session in self.sessions:
            if session.transport is not None:
                session.transport.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(session.transport is None for session in self.sessions):
                return
            await asyncio.sleep(0.01)

    def stop(self, no_assert: bool = False) -> None:
        closed = asyncio.run_coroutine_threadsafe(self._close_sessions(2.0), self.loop)
        closed.result(timeout=5)
        super().stop(no_assert)


@contextmanager
def running_mail_server(*, starttls: ssl.SSLContext | None = None,
                        implicit_tls: ssl.SSLContext | None = None) -> Iterator[MailServer]:
    """Plain by default; with `starttls` it requires STARTTLS and authentication, with
    `implicit_tls` it speaks TLS from the start and offers authentication."""
    handler = Handler()
    port = free_port()
    options: dict[str, Any] = {}
    if starttls is not None:
        options = {"tls_context": starttls, "require_starttls": True,
                   "authenticator": handler.authenticate, "auth_required": True}
    if implicit_tls is not None:
        # aiosmtpd only knows TLS it started itself; this connection is TLS from the start
        # (so AUTH is offered without STARTTLS; the test checks that the client logged in)
        options = {"ssl_context": implicit_tls, "authenticator": handler.authenticate,
                   "auth_require_tls": False}
    controller = ClosingController(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield MailServer(port, handler)
    finally:
        controller.stop()
