"""Emails written into a Maildir, durably and with few system calls.

Each email goes to `tmp/` under a unique name, is flushed to disk, and is linked into `new/`;
`flush` then flushes `new/` itself, once for all the names linked since the last flush, so
that a crash never loses an email whose delivery was recorded: the delivery loop records
deliveries only after that flush (gateway/delivery/dispatch.py). The names follow the Maildir
convention of the standard library's `mailbox` (`time.M<microseconds>P<pid>Q<count>.<host>`),
and any Maildir reader takes the files.

`mailbox.Maildir.add` and the flush of `new/` made some 17 system calls an email (a `stat` of
the name, the file opened twice, a chmod, a `stat` of the folders); this makes 6, and 3 more
for each flush of `new/`, which a batch of emails shares. Each call releases and takes back
the interpreter lock, a context switch whenever the event loop or the database thread holds
it (docs/performance.md). `new/` is opened again for each flush, so that a Maildir someone
made anew is the one flushed; the name is linked into `new/`, as `mailbox` does, so that a
clash fails instead of replacing an email.
"""

import itertools
import os
import socket
import stat
import threading
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
    """One Maildir, written by one thread at a time (the sender's own); `flush` may be called
    from any thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made = False
        self._host = socket.gethostname()
        self._unflushed = False
        """A name was linked into `new/` since the last flush began."""
        self._flushing = threading.Lock()

    def add(self, payload: bytes) -> str:
        """Write one email, on disk, into `new/`; its name in `new/` is on disk once `flush`
        returns."""
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
            self._unflushed = True
        finally:
            temporary.unlink(missing_ok=True)
        return name

    def flush(self) -> None:
        """Flush `new/` if a name was linked into it since the last flush began: every name
        linked before this call is on disk when it returns (a flush under way when it is
        called is waited for)."""
        with self._flushing:
            if not self._unflushed:
                return
            self._unflushed = False
            try:
                sync_directory(self.directory / "new")
            except BaseException:
                self._unflushed = True
                raise
