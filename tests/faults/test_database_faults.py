"""Database faults: SQLite held locked by another process; PostgreSQL backends terminated
mid-run and the server restarted (a cluster the test owns)."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import MESSAGES, SEEDS, Run
from invariants import check
from support.peers import Broker, Daemon, write_config
from support.postgres_cluster import Cluster, available, own_cluster
from traffic import publish_in_background, traffic, wait_settled

LOCK_HELD_S = 7.0
"""Longer than the gateway's busy timeout (5 s): its journal commit fails and is retried."""


@pytest.mark.slow
def test_sqlite_held_locked_by_another_process(tmp_path: Path, broker: Broker,
                                               report: list[Run]) -> None:
    """While another process holds an exclusive lock, nothing is acknowledged; afterwards
    every message is journalled and answered once."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start(CARM_LOG_LEVEL="debug")
    daemon.wait_ready()
    database = tmp_path / "gateway" / "state" / "gateway.db"
    messages = traffic(SEEDS[0], MESSAGES)
    locker = sqlite3.connect(database, timeout=10, isolation_level=None,
                             check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    unlock = threading.Timer(LOCK_HELD_S, lambda: locker.execute("COMMIT"))
    try:
        unlock.start()
        publisher = publish_in_background(broker, messages, lambda: 0.01)
        publisher.join(timeout=60)
        unlock.join(timeout=LOCK_HELD_S + 5)
        assert wait_settled(str(database), [m.message_id for m in messages])
    finally:
        unlock.cancel()
        locker.close()
        daemon.stop()
    log = (tmp_path / "daemon.log").read_text()
    assert "journal commit failed, retrying" in log
    findings = check(f"sqlite:///{database}", [m.message_id for m in messages],
                     logs=[tmp_path / "daemon.log"])
    report.append(Run("SQLite locked by another process (7 s)", SEEDS[0], len(messages),
                      findings.held, findings.summary()))
    assert findings.held, findings.summary()


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    with own_cluster(tmp_path_factory.mktemp("postgres")) as running:
        yield running


def terminate_gateway_backends(cluster: Cluster) -> int:
    with psycopg.connect(cluster.admin_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'carm'"
            " AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_backends_terminated_and_server_restarted(
    tmp_path: Path, broker: Broker, cluster: Cluster, report: list[Run]
) -> None:
    """The daemon on PostgreSQL keeps its promises while its connections are terminated
    mid-run and while the server restarts."""
    with psycopg.connect(cluster.admin_url, autocommit=True) as connection:
        connection.execute("CREATE DATABASE carm")
    url = cluster.url("carm")
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url,
                          extra=f'\n[database]\nurl = "{url}"\n')
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start(CARM_LOG_LEVEL="debug")
    daemon.wait_ready()
    messages = traffic(SEEDS[1], MESSAGES)
    try:
        publisher = publish_in_background(broker, messages, lambda: 0.03)
        time.sleep(0.3)
        terminated = terminate_gateway_backends(cluster)
        time.sleep(0.3)
        cluster.restart()
        publisher.join(timeout=60)
        assert wait_settled(url, [m.message_id for m in messages])
    finally:
        daemon.stop()
    assert terminated >= 1
    findings = check(url, [m.message_id for m in messages], logs=[tmp_path / "daemon.log"])
    report.append(Run("PostgreSQL backends terminated, server restarted", SEEDS[1],
                      len(messages), findings.held, findings.summary()))
    assert findings.held, findings.summary()
