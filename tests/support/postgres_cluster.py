"""A PostgreSQL cluster of the test's own (initdb on a free port), for tests that stop,
restart or terminate the server; never the machine's shared one."""

import contextlib
import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.peers import free_port, wait_for_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class Cluster:
    directory: Path
    port: int
    binaries: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *arguments: str) -> None:
        subprocess.run(_as_postgres([str(self.binaries / "pg_ctl"), "-D", str(self.directory),
                                     "-w", "-t", "60", *arguments]),
                       check=True, capture_output=True, timeout=90)

    def start(self) -> None:
        self._pg_ctl("-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
                     "-l", str(self.directory / "server.log"), "start")
        wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def restart(self) -> None:
        self.stop()
        self.start()


def available() -> str | None:
    """Why a cluster cannot be made here, or None when it can."""
    if _binaries() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to start PostgreSQL as postgres"
    return None


@contextmanager
def own_cluster(parent: Path) -> Iterator[Cluster]:
    binaries = _binaries()
    assert binaries is not None
    directory = parent / "pgdata"
    directory.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        for ancestor in (parent, *parent.parents):
            if ancestor == Path("/"):
                break
            os.chmod(ancestor, os.stat(ancestor).st_mode | 0o011)
    subprocess.run(_as_postgres([str(binaries / "initdb"), "-D", str(directory), "-U",
                                 "postgres", "-A", "trust", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    cluster = Cluster(directory, free_port(), binaries)
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
