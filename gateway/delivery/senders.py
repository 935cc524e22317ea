"""Where outbox rows go: the broker, a Maildir, or an SMTP server.

Each sender raises `TemporaryFailure` (retried with backoff) or `PermanentFailure` (the row is
dead at once); library errors are translated here.
"""

import asyncio
import contextlib
import mailbox
import ssl
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

from gateway.config import SmtpSettings
from gateway.store.outbox import OutboxRow
from gateway.transport.mqtt import Link, LinkDown

SMTP_TIMEOUT_S = 30.0


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


class MaildirSender:
    """The embedded default: every email lands in `{state_directory}/mail` (Maildir)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def ready(self) -> None:
        return None

    def _add(self, payload: bytes) -> None:
        self.directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for part in ("", "tmp", "new", "cur"):
            (self.directory / part).mkdir(exist_ok=True, mode=0o700)
        mailbox.Maildir(self.directory, create=False).add(payload)

    async def send(self, row: OutboxRow) -> None:
        try:
            await asyncio.to_thread(self._add, row.payload)
        except OSError as error:
            raise TemporaryFailure(f"maildir: {error}") from error

    async def close(self) -> None:
        return None


class SmtpSender:
    """aiosmtplib over one reused connection; STARTTLS or implicit TLS as configured."""

    def __init__(self, settings: SmtpSettings) -> None:
        parts = urlsplit(settings.url)
        self.settings = settings
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if settings.password_file is not None:
            password = settings.password_file.read_text(encoding="utf-8").strip()
        self.password = password
        self._client: aiosmtplib.SMTP | None = None

    async def ready(self) -> None:
        return None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.implicit_tls,
            start_tls=False if self.implicit_tls else self.settings.start_tls,
            tls_context=ssl.create_default_context(),
            username=self.username,
            password=self.password,
            timeout=SMTP_TIMEOUT_S,
        )
        await client.connect()
        self._client = client
        return client

    async def send(self, row: OutboxRow) -> None:
        recipients = [address for _, address in getaddresses([row.recipient]) if address]
        try:
            client = await self._connected()
            await client.sendmail(self.settings.sender, recipients, row.payload)
        except aiosmtplib.SMTPResponseException as error:
            await self._drop()
            failure = PermanentFailure if error.code >= 500 else TemporaryFailure
            raise failure(f"smtp {error.code}: {error.message}") from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            await self._drop()
            raise TemporaryFailure(f"smtp: {error}") from error

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # it is broken already
                client.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
