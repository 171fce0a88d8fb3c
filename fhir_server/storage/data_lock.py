"""One server per data directory: an OS lock on `fhir-server.lock`, which holds the owner's pid.

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

_GRACE = 30.0
"""How long a start waits for the lock when its recorded owner has already died (its database
child is still finishing its shutdown)."""


def prepare_data_dir(data_dir: Path) -> None:
    """Create `data_dir` if needed; an unusable one raises StorageUnavailable with one clear sentence."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(data_dir, exc) from exc


class DataDirectoryLock:
    """Held from `acquire` until `release`; `fileno` is passed to the children that must hold it too."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
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
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _lock(self, fd: int) -> None:
        deadline = time.monotonic() + _GRACE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                owner = _owner(fd)
                if (owner is not None and _alive(owner)) or time.monotonic() >= deadline:
                    raise StorageUnavailable(
                        _("The data directory {path} is in use by another fhir-server (pid {pid}).").format(
                            path=self.data_dir, pid=owner if owner is not None else "?"
                        )
                    ) from None
                time.sleep(0.2)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock


def _owner(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None


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
