"""The embedded database: SecantusDB started as a child process when no MongoDB URI is set.

SecantusDB is GPL-2.0, so it is only ever run as a separate program (`python -m secantus`),
never imported. The child gets a parent-death signal so that even a `kill -9` of the server
leaves no orphan database behind, and a session of its own, so that a Ctrl-C at the terminal
reaches only the server, which finishes its writes before it stops the database. The data
directory is locked first (data_lock.py), so a second server on the same directory is refused
before it touches a file there.

The server supervises its child: when the database exits unexpectedly, it is started again on
the same port (the driver reconnects by itself), after a delay that doubles with each failure
in a row (0.5 s up to 30 s), for as long as the server runs; a run of a minute resets the delay.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import StorageUnavailable
from ..i18n import _
from .data_lock import GRACE, DataDirectoryLock, prepare_data_dir, unusable

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_FIRST_DELAY = 0.5
_MAX_DELAY = 30.0
_STABLE = 60.0
"""A database that ran this long before it exited restarts after the first delay again."""


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None
"""Looked up here, not in the child: a forked child of a threaded parent should only call, not load."""


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to the child when the parent dies, whatever the cause."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedDatabase:
    """A SecantusDB server on a free loopback port with its files under `data_dir`, restarted when it dies."""

    def __init__(
        self, data_dir: Path, *, startup_timeout: float = 60.0, sync_on_commit: bool = True, lock_grace: float = GRACE
    ) -> None:
        self.data_dir = data_dir
        self.startup_timeout = startup_timeout
        self.sync_on_commit = sync_on_commit
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = DataDirectoryLock(data_dir, lock_grace)
        self._guard = threading.Lock()  # the supervisor starts processes while stop() may end them
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> str:
        """Lock the data directory, start the database, wait until it answers a ping and return its URI.

        Raises StorageUnavailable, having stopped what it started, when any step fails.
        """
        self._stopping.clear()
        prepare_data_dir(self.data_dir)
        self._lock.acquire()
        try:
            self.port = free_loopback_port()
            self._wait_until_ready(self._launch())
        except BaseException:
            self.stop()
            raise
        log.info("embedded database listening", extra={"port": self.port, "path": str(self.data_dir / "db")})
        # PR_SET_PDEATHSIG follows the thread that started the child: the supervisor thread lives
        # until stop(), so a restarted database still dies with the server.
        self._supervisor = threading.Thread(target=self._supervise, name="embedded-database", daemon=True)
        self._supervisor.start()
        return self.uri

    def _launch(self) -> subprocess.Popen[bytes]:
        storage = self.data_dir / "db"
        try:
            storage.mkdir(exist_ok=True)
            log_file = (self.data_dir / "secantus.log").open("ab")
        except OSError as exc:
            raise unusable(self.data_dir, exc) from exc
        command = [
            sys.executable, "-m", "secantus",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--storage-path", str(storage), "--log-level", "WARNING",
            # fsync the journal before each commit returns: an acknowledged write survives kill -9 and power loss
            *(["--sync-on-commit"] if self.sync_on_commit else []),
        ]  # fmt: skip
        try:
            self._process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent, start_new_session=True, pass_fds=(self._lock.fileno,),
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise StorageUnavailable(
                _("The embedded database could not be started: {error}").format(error=exc)
            ) from exc
        finally:
            log_file.close()
        self._lock.note_database(self._process.pid)
        return self._process

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        from pymongo import MongoClient  # the sync driver, only for this readiness probe

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StorageUnavailable(
                    _("The embedded database exited at startup (code {code}); see {log}.").format(
                        code=process.returncode, log=self.data_dir / "secantus.log"
                    )
                )
            try:
                client: MongoClient[dict[str, Any]]
                with MongoClient(self.uri, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except Exception:  # not listening yet
                time.sleep(0.1)
        _end(process, self.port)
        raise StorageUnavailable(
            _("The embedded database did not answer within {seconds} s.").format(seconds=int(self.startup_timeout))
        )

    def _supervise(self) -> None:
        """Until stop(): wait for the database to exit, then start it again on the same port."""
        failures = 0
        while True:
            with self._guard:
                process = self._process
            if process is None:
                return
            running_since = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - running_since >= _STABLE:
                failures = 0
            restarted = self._restart(code, failures)
            if restarted is None:
                return
            failures = restarted

    def _restart(self, code: int, failures: int) -> int | None:
        """Start the database again, retrying with backoff; the failures so far, or None when stopped."""
        while not self._stopping.is_set():
            failures += 1
            delay = min(_FIRST_DELAY * 2 ** (failures - 1), _MAX_DELAY)
            log.error(
                "embedded database exited; restarting it",
                extra={"code": code, "attempt": failures, "delay_seconds": delay, "port": self.port},
            )
            if self._stopping.wait(delay):
                return None
            with self._guard:
                if self._stopping.is_set():
                    return None
                try:
                    process = self._launch()
                except StorageUnavailable as exc:
                    log.error("embedded database could not be started", extra={"reason": str(exc)})
                    continue
            try:
                self._wait_until_ready(process)
            except StorageUnavailable:
                code = process.wait()
                continue
            log.warning("embedded database restarted", extra={"port": self.port, "attempt": failures})
            return failures
        return None

    def stop(self) -> None:
        """Stop supervising, stop the database cleanly (SIGTERM, then SIGKILL) and unlock the data directory."""
        self._stopping.set()
        with self._guard:
            process, self._process = self._process, None
        if process is not None:
            _end(process, self.port)
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()
        self._lock.release()

    def __enter__(self) -> EmbeddedDatabase:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _end(process: subprocess.Popen[bytes], port: int) -> None:
    """Terminate `process` (SIGTERM), killing it if it does not exit in time.

    SecantusDB closes its listening socket at SIGTERM, but that does not wake the thread blocked in
    accept(), which it then waits 2 s for. A connection made once it stops does wake it: so knock on
    the port until the process exits (a knock before the signal is handled is an ordinary
    connection, closed at once). Every stop of the embedded database, a CLI command's included,
    takes a few milliseconds instead of 2 s."""
    if process.poll() is not None:
        return
    process.terminate()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            process.wait(timeout=0.05)
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
    process.kill()
    process.wait()
