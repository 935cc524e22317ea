"""SMTP delivery against a mail server that misbehaves, and over STARTTLS or implicit TLS."""

import asyncio
import contextlib
import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import trustme
from support.descriptors import open_targets
from support.mail import MailServer, running_mail_server
from support.pipeline import Harness, example

from gateway.config import SmtpSettings
from gateway.delivery.dispatch import Dispatcher
from gateway.delivery.senders import PermanentFailure, SmtpSender, TemporaryFailure
from gateway.store.outbox import OutboxRow

ATTEMPTS = 4


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(f"sqlite:///{tmp_path}/gateway.db", tmp_path / "state")
    yield opened
    opened.close()


@pytest.fixture
def certificate_authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A test CA that the client trusts (through SSL_CERT_FILE, as OpenSSL reads it)."""
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return authority


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def drain_until_settled(harness: Harness, sender: SmtpSender) -> None:
    """Drain, moving the clock past each backoff, until no row is pending (bounded)."""
    loop = Dispatcher(harness.database, "email", sender, attempts=ATTEMPTS, backoff_s_max=1,
                      now=lambda: harness.clock[0], temporary=TemporaryFailure,
                      permanent=PermanentFailure, instance="gw1")

    async def scenario() -> None:
        for _ in range(3 * ATTEMPTS):
            await loop.drain_once()
            harness.clock[0] += timedelta(seconds=5)
        await sender.close()

    asyncio.run(scenario())


def final_states(harness: Harness) -> set[str]:
    rows = harness.database.transaction_sync(
        lambda tx: tx.all("SELECT status FROM outbox WHERE channel = 'email'"))
    return {str(row[0]) for row in rows}


def queue_two(harness: Harness) -> None:
    harness.submit(example("declaration.xml"))
    harness.submit(example("invalid-dec001-declared-totals.xml"))


@pytest.mark.parametrize("failure", ["421 4.3.2 shutting down", "451 4.3.0 try later", "stall"])
def test_temporary_trouble_ends_delivered(harness: Harness, mail_server: MailServer,
                                          failure: str) -> None:
    """421, 451 and a stall past the timeout are retried; every email ends delivered, once."""
    queue_two(harness)
    mail_server.handler.failures.append(failure)
    mail_server.handler.stall_s = 2.0
    drain_until_settled(harness, SmtpSender(SmtpSettings(url=mail_server.url, start_tls=False),
                                            timeout_s=0.5))
    assert final_states(harness) == {"delivered"}
    assert len(mail_server.received) == 2
    assert harness.scalar("SELECT COUNT(*) FROM ledger_entries") == 1


def test_drop_after_data_gives_at_most_one_duplicate(harness: Harness,
                                                     mail_server: MailServer) -> None:
    """The server keeps the message and hangs up before answering: the retry sends it again,
    with the same Message-ID; nothing is lost."""
    queue_two(harness)
    mail_server.handler.failures.append("drop")
    drain_until_settled(harness, SmtpSender(SmtpSettings(url=mail_server.url, start_tls=False)))
    assert final_states(harness) == {"delivered"}
    ids = [received.message["Message-ID"] for received in mail_server.received]
    assert len(ids) == 3 and len(set(ids)) == 2


def test_refusal_after_all_attempts_is_dead(harness: Harness) -> None:
    """Connection refused on every attempt: the rows end dead, not lost and not pending."""
    queue_two(harness)
    drain_until_settled(harness, SmtpSender(SmtpSettings(url="smtp://127.0.0.1:1",
                                                         start_tls=False)))
    assert final_states(harness) == {"dead"}


def test_a_recipient_refused_with_550_is_dead_at_once(harness: Harness,
                                                     mail_server: MailServer) -> None:
    """A permanent refusal at RCPT TO (550: no such mailbox) is not retried: each row to that
    address is dead after its first attempt (the operators are alerted of a dead delivery)."""
    queue_two(harness)
    refused = "edi@broker42.example"
    mail_server.handler.refused.add(refused)
    drain_until_settled(harness, SmtpSender(SmtpSettings(url=mail_server.url, start_tls=False)))
    rows = harness.database.transaction_sync(lambda tx: tx.all(
        "SELECT recipient, status, attempts FROM outbox WHERE channel = 'email'"))
    assert [(str(r[0]), str(r[1]), int(r[2])) for r in rows] == [(refused, "dead", 1)] * 2


def test_closing_does_not_wait_long_for_a_server_that_does_not_answer_quit(
        harness: Harness, mail_server: MailServer) -> None:
    """A stopping daemon says QUIT on its idle connections at once and waits at most
    SMTP_QUIT_S for the answers, so a silent server cannot hold the stop past systemd's
    TimeoutStopSec (four connections, each QUIT left unanswered for 30 s)."""
    import time  # noqa: PLC0415

    from gateway.delivery.senders import SMTP_QUIT_S  # noqa: PLC0415

    mail_server.handler.quit_stall_s = 30.0
    sender = SmtpSender(SmtpSettings(url=mail_server.url, start_tls=False))

    async def scenario() -> float:
        clients = [await sender._take() for _ in range(4)]
        sender._idle.extend(clients)
        started = time.monotonic()
        await sender.close()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < SMTP_QUIT_S + 1.0


def test_starttls_with_authentication(harness: Harness,
                                      certificate_authority: trustme.CA) -> None:
    """STARTTLS with a certificate checked against the trusted CA, then AUTH."""
    with running_mail_server(starttls=server_context(certificate_authority)) as server:
        harness.submit(example("declaration.xml"))
        url = f"smtp://gateway:s3cret@127.0.0.1:{server.port}"
        drain_until_settled(harness, SmtpSender(SmtpSettings(url=url, start_tls=True)))
        assert final_states(harness) == {"delivered"}
        assert server.handler.logins == ["gateway"]


def test_implicit_tls_with_a_password_file(harness: Harness, tmp_path: Path,
                                           certificate_authority: trustme.CA) -> None:
    """smtps:// speaks TLS from the first byte; the password file wins over the URL."""
    password_file = tmp_path / "smtp-password"
    password_file.write_text("s3cret\n")
    with running_mail_server(implicit_tls=server_context(certificate_authority)) as server:
        harness.submit(example("declaration.xml"))
        settings = SmtpSettings(url=f"smtps://gateway:wrong@127.0.0.1:{server.port}",
                                password_file=password_file)
        drain_until_settled(harness, SmtpSender(settings))
        assert final_states(harness) == {"delivered"}
        assert server.handler.logins == ["gateway"]


def sockets_to(port: int) -> int:
    """This process's open TCP sockets whose peer is `port` (from /proc)."""
    held = set(open_targets())
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].rsplit(":", 1)[1], 16) == port and f"socket:[{fields[9]}]" in held:
            count += 1
    return count


@pytest.mark.parametrize("failure", [None, "451 4.3.0 try later"])
def test_a_closed_sender_leaves_no_connection_open(certificate_authority: trustme.CA,
                                                   failure: str | None) -> None:
    """`close()` returns once every connection it kept or dropped is gone, over TLS too, where
    closing only starts the TLS shutdown: the daemon's loop ends right after `close()`, and
    a socket still open then is left to the garbage collector (a ResourceWarning in tests)."""
    with running_mail_server(implicit_tls=server_context(certificate_authority)) as server:
        if failure is not None:
            server.handler.failures.append(failure)  # the sender drops that connection
        url = f"smtps://gateway:s3cret@127.0.0.1:{server.port}"
        sender = SmtpSender(SmtpSettings(url=url))
        row = OutboxRow(1, None, "outcome", "email", "ops@broker42.example",
                        b"Subject: test\r\n\r\nhello\r\n", None, None, 0)

        async def scenario() -> int:
            with contextlib.suppress(TemporaryFailure):
                await sender.send(row)
            await sender.close()
            return sockets_to(server.port)

        assert asyncio.run(scenario()) == 0
        assert len(server.received) == (0 if failure else 1)


def test_untrusted_certificate_is_refused(harness: Harness, tmp_path: Path,
                                          certificate_authority: trustme.CA) -> None:
    """Certificate checking is on: a server certificate from another CA is never trusted."""
    stranger = trustme.CA()
    with running_mail_server(starttls=server_context(stranger)) as server:
        harness.submit(example("declaration.xml"))
        url = f"smtp://gateway:s3cret@127.0.0.1:{server.port}"
        drain_until_settled(harness, SmtpSender(SmtpSettings(url=url, start_tls=True)))
        assert final_states(harness) == {"dead"}
        assert server.received == []
