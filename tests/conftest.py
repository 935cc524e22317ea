"""Fixtures shared by the suite: real peers on loopback, and a gateway configuration."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.mail import MailServer, running_mail_server
from support.peers import Broker, running_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A mosquitto of our own on a free loopback port, with persistence."""
    with running_broker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """An aiosmtpd server on a free loopback port that keeps what it receives."""
    with running_mail_server() as server:
        yield server


def _postgres_admin_url() -> str:
    import os  # noqa: PLC0415

    return os.environ.get("CARM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the machine's server; skipped without one."""
    import uuid  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    admin = _postgres_admin_url()
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server at {admin}: {error}")
    name = f"carm_test_{uuid.uuid4().hex[:12]}"
    with connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/gateway.db"
    return str(request.getfixturevalue("postgres_url"))
