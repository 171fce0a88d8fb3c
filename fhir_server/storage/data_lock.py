"""One server per data directory: an OS lock on `fhir-server.lock`, which holds the owner's pid
(and, on a second line, its database's).

The lock is an `flock`, so the kernel releases it when its holders die, even by `kill -9`: a
leftover file never blocks a new start. The embedded database child inherits the lock, so the
directory stays locked until the database has let go of its files too, not only the server.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from ..errors import StorageUnavailable
from ..i18n import _

LOCK_FILE = "fhir-server.lock"

GRACE = 30.0
"""How long a start waits by default for the lock when its recorded owner has already died (its
database child is still finishing its shutdown)."""


def prepare_data_dir(data_dir: Path) -> None:
    """Create `data_dir` if needed; an unusable one raises StorageUnavailable with one clear sentence."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(data_dir, exc) from exc


class DataDirectoryLock:
    """Held from `acquire` until `release`; `fileno` is passed to the children that must hold it too."""

    def __init__(self, data_dir: Path, grace: float = GRACE) -> None:
        self.data_dir = data_dir
        self.grace = grace
        self._fd: int | None = None

    @property
    def fileno(self) -> int:
        assert self._fd is not None, "acquire() first"
        return self._fd

    def acquire(self) -> None:
        """Lock the directory, or raise StorageUnavailable naming the pid that uses it; touches nothing else."""
        path = self.data_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise unusable(self.data_dir, exc) from exc
        try:
            self._lock(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._write(os.getpid())

    def note_database(self, pid: int) -> None:
        """Record the database child's pid on the second line: the one to stop if it outlives the server."""
        self._write(os.getpid(), pid)

    def _write(self, *pids: int) -> None:
        os.ftruncate(self.fileno, 0)
        os.pwrite(self.fileno, "".join(f"{pid}\n" for pid in pids).encode(), 0)

    def _lock(self, fd: int) -> None:
        deadline = time.monotonic() + self.grace
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                owner, database = (_pids(fd) + [None, None])[:2]
                if owner is not None and _alive(owner):
                    raise StorageUnavailable(
                        _("The data directory {path} is in use by another fhir-server (pid {pid}).").format(
                            path=self.data_dir, pid=owner
                        )
                    ) from None
                if time.monotonic() >= deadline:  # the dead server's database did not exit
                    raise StorageUnavailable(
                        _("The data directory {path} is still used by the database (pid {pid}) of a fhir-server "
                          "that no longer runs; stop that process, then start again.").format(
                            path=self.data_dir, pid=database if database is not None else "?"
                        )
                    ) from None  # fmt: skip
                time.sleep(0.2)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock


def _pids(fd: int) -> list[int | None]:
    """The pids the lock file names: the server's, then its database's."""
    try:
        text = os.pread(fd, 64, 0).decode()
    except OSError:
        return []
    return [int(word) if word.isdigit() else None for word in text.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        pass
    return True


def unusable(data_dir: Path, exc: OSError) -> StorageUnavailable:
    """The one-sentence error for a data directory the OS will not let us create or write."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
    return StorageUnavailable(
        _("The data directory {path} cannot be used: {reason}.").format(path=data_dir, reason=reason)
    )
