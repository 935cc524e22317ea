"""Where outbox rows go: the broker, a Maildir, or an SMTP server.

Each sender raises `TemporaryFailure` (retried with backoff) or `PermanentFailure` (the row is
dead at once); library errors are translated here. A row is delivered once `send` and then
`flush` returned: the broker's PUBACK and the SMTP server's answer come with `send`, a
Maildir's directory entries are flushed to disk by `flush`, once for many emails.
"""

import asyncio
import concurrent.futures
import contextlib
import ssl
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol

from gateway.config import SmtpSettings
from gateway.delivery.maildir import MaildirWriter
from gateway.secrets import read_secret
from gateway.store.outbox import OutboxRow
from gateway.transport.mqtt import Link, LinkDown, PublishRefused

SMTP_TIMEOUT_S = 30.0
SMTP_POOL_SIZE = 4
"""Connections kept open to the SMTP server: one stalled conversation holds only one."""
SMTP_QUIT_S = 2.0
"""How long a stopping daemon waits for the SMTP server to answer QUIT and for its
connections to close."""
SMTP_CLOSED_POLL_S = 0.005


class TemporaryFailure(Exception):
    """Worth trying again later: connection refused, 4xx, a timeout."""


class PermanentFailure(Exception):
    """Trying again will not help: a 5xx answer."""


class MqttSender:
    def __init__(self, link: Link) -> None:
        self.link = link

    async def ready(self) -> None:
        await self.link.connected.wait()

    async def send(self, row: OutboxRow) -> None:
        try:
            await self.link.publish(row.recipient, row.payload, row.correlation_data)
        except (LinkDown, TimeoutError) as error:
            raise TemporaryFailure(f"mqtt: {error}") from error
        except PublishRefused as refused:
            failure = TemporaryFailure if refused.temporary else PermanentFailure
            raise failure(f"mqtt {row.recipient}: {refused}") from refused

    async def flush(self) -> None:
        """Nothing to do: a publish is delivered once the broker acknowledged it."""
        return None


class MaildirSender:
    """The embedded default: every email lands in `{state_directory}/mail` (Maildir).

    The files are written by one thread of the sender's own, one email after another. On
    the event loop's shared pool, the emails of a drain were written by several threads at
    once, each releasing and taking the interpreter lock at every file operation against the
    event loop and the database thread: 19 context switches per message instead of 9, and a
    higher half-rate p99 (docs/performance.md). `flush` flushes `new/` on the same thread,
    once for the emails written before it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._box = MaildirWriter(directory)
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None

    async def ready(self) -> None:
        return None

    async def send(self, row: OutboxRow) -> None:
        if self._writer is None:
            self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="maildir")
        try:
            await asyncio.get_running_loop().run_in_executor(self._writer, self._box.add,
                                                             row.payload)
        except OSError as error:
            raise TemporaryFailure(f"maildir: {error}") from error

    async def flush(self) -> None:
        """Every email `send` wrote, its name in `new/` on disk (after `close`, on a thread
        of the event loop's pool)."""
        try:
            if self._writer is None:
                await asyncio.to_thread(self._box.flush)
            else:
                await asyncio.get_running_loop().run_in_executor(self._writer, self._box.flush)
        except OSError as error:
            raise TemporaryFailure(f"maildir: flushing new/: {error}") from error

    async def close(self) -> None:
        """Wait for the email being written; a later `send` starts a new writer."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.to_thread(writer.shutdown, wait=True)


class SmtpSender:
    """aiosmtplib over a small pool of reused connections; STARTTLS or implicit TLS."""

    def __init__(self, settings: SmtpSettings, *, pool_size: int = SMTP_POOL_SIZE,
                 timeout_s: float = SMTP_TIMEOUT_S) -> None:
        parts = urlsplit(settings.url)
        self.settings = settings
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if settings.password_file is not None:
            password = read_secret(settings.password_file, "[smtp] password_file")
        self._password = password
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[aiosmtplib.SMTP] = []
        self._closing: list[SMTPProtocol] = []
        """Connections closed and not yet gone: over TLS, closing only starts the shutdown."""

    def __repr__(self) -> str:
        return f"SmtpSender({self.host}:{self.port}, tls={self.implicit_tls})"

    async def ready(self) -> None:
        return None

    async def flush(self) -> None:
        """Nothing to do: an email is delivered once the server accepted it."""
        return None

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.implicit_tls,
            start_tls=False if self.implicit_tls else self.settings.start_tls,
            tls_context=ssl.create_default_context(),
            username=self.username,
            password=self._password,
            timeout=self.timeout_s,
        )
        await client.connect()
        return client

    async def _take(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        return await self._connect()

    async def send(self, row: OutboxRow) -> None:
        recipients = [address for _, address in getaddresses([row.recipient]) if address]
        async with self._slots:
            client: aiosmtplib.SMTP | None = None
            try:
                client = await self._take()
                await client.sendmail(self.settings.sender, recipients, row.payload)
            except aiosmtplib.SMTPResponseException as error:
                self._discard(client)
                failure = PermanentFailure if error.code >= 500 else TemporaryFailure
                raise failure(f"smtp {error.code}: {error.message}") from error
            except aiosmtplib.SMTPRecipientsRefused as error:  # each refusal has its code
                self._discard(client)
                refusals = error.recipients
                permanent = bool(refusals) and all(item.code >= 500 for item in refusals)
                failure = PermanentFailure if permanent else TemporaryFailure
                text = "; ".join(f"{item.recipient}: {item.code} {item.message}"
                                 for item in refusals)
                raise failure(f"smtp recipients refused: {text}") from error
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                self._discard(client)
                raise TemporaryFailure(f"smtp: {type(error).__name__}: {error}") from error
            self._idle.append(client)

    async def close(self) -> None:
        """QUIT on the idle connections, all at once, then wait until every connection closed
        so far is gone; all of it within SMTP_QUIT_S: a server that does not answer must not
        hold the daemon's stop past systemd's TimeoutStopSec. The loop ends right after: a
        connection still closing then would leave its socket to the garbage collector."""
        deadline = asyncio.get_running_loop().time() + SMTP_QUIT_S
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(client) for client in idle if client.is_connected))
        # aiosmtplib has no event for a closed connection: its protocol drops its transport then
        while self._still_closing() \
                and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(SMTP_CLOSED_POLL_S)

    async def _quit(self, client: aiosmtplib.SMTP) -> None:
        if client.protocol is not None:
            self._closing.append(client.protocol)
        try:
            await asyncio.wait_for(client.quit(), SMTP_QUIT_S)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()

    def _discard(self, client: aiosmtplib.SMTP | None) -> None:
        """Close a connection that failed; a new one is made for the next message."""
        if client is None:
            return
        if client.protocol is not None:
            self._still_closing()  # forget those gone, so the list stays short
            self._closing.append(client.protocol)
        with contextlib.suppress(Exception):  # it is broken already
            client.close()

    def _still_closing(self) -> bool:
        self._closing = [protocol for protocol in self._closing
                         if protocol.transport is not None]
        return bool(self._closing)
