"""Emails written into a Maildir, durably and with few system calls.

Each email goes to `tmp/` under a unique name, is flushed to disk, renamed into `new/`, and
then `new/` itself is flushed, so that a crash never loses an email whose delivery was
recorded. The names follow the Maildir convention of the standard library's `mailbox`
(`time.M<microseconds>P<pid>Q<count>.<host>`), and any Maildir reader takes the files.

`mailbox.Maildir.add` and the flush of `new/` made some 17 system calls an email (a `stat` of
the name, the file opened twice, a chmod, a `stat` of the folders); this makes 9. Each call
releases and takes back the interpreter lock, a context switch whenever the event loop or the
database thread holds it (docs/performance.md). `new/` is opened again for each flush, so
that a Maildir someone made anew is the one flushed; the name is linked into `new/`, as
`mailbox` does, so that a clash fails instead of replacing an email.
"""

import itertools
import os
import socket
import stat
import time
from pathlib import Path

FOLDERS = ("tmp", "new", "cur")
FILE_MODE = stat.S_IRUSR | stat.S_IWUSR
"""Emails carry partners' data: readable by the gateway's user only."""
_NUMBERS = itertools.count()


def unique_name(now: float, number: int, host: str | None = None) -> str:
    """A Maildir file name: seconds, microseconds, process, a per-process count, host (its
    `/` and `:` escaped as `mailbox` does)."""
    host = (host if host is not None else socket.gethostname())
    host = host.replace("/", r"\057").replace(":", r"\072")
    return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{number}.{host}"


def sync_directory(path: Path) -> None:
    """Flush a directory's entries to disk (a file's own fsync does not cover its name)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class MaildirWriter:
    """One Maildir, written by one thread at a time (the sender's own)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made = False
        self._host = socket.gethostname()

    def add(self, payload: bytes) -> str:
        """Write one email; its name in `new/` once it is on disk with its name."""
        if not self._made:
            self._make_folders()
        try:
            return self._write(payload)
        except FileNotFoundError:  # someone removed the folders: make them again, once
            self._make_folders()
            return self._write(payload)

    def _make_folders(self) -> None:
        self.directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for part in ("", *FOLDERS):
            (self.directory / part).mkdir(exist_ok=True, mode=0o700)
        for made in (self.directory.parent, self.directory):  # the new folders' names
            sync_directory(made)
        self._made = True

    def _write(self, payload: bytes) -> str:
        name = unique_name(time.time(), next(_NUMBERS), self._host)
        temporary = self.directory / "tmp" / name
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                             FILE_MODE)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(descriptor, view):]
            os.fsync(descriptor)
        except BaseException:
            os.close(descriptor)
            temporary.unlink(missing_ok=True)
            raise
        os.close(descriptor)
        try:
            os.link(temporary, self.directory / "new" / name)
        finally:
            temporary.unlink(missing_ok=True)
        sync_directory(self.directory / "new")
        return name
