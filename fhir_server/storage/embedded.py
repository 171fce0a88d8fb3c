"""The embedded database: SecantusDB started as a child process when no MongoDB URI is set.

SecantusDB is GPL-2.0, so it is only ever run as a separate program (`python -m secantus`),
never imported. The child gets a parent-death signal so that even a `kill -9` of the server
leaves no orphan database behind, and a session of its own, so that a Ctrl-C at the terminal
reaches only the server, which finishes its writes before it stops the database.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import StorageUnavailable
from ..i18n import _

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to the child when the parent dies, whatever the cause."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedDatabase:
    """A SecantusDB server on a free loopback port with its files under `data_dir`."""

    def __init__(self, data_dir: Path, *, startup_timeout: float = 60.0, sync_on_commit: bool = True) -> None:
        self.data_dir = data_dir
        self.startup_timeout = startup_timeout
        self.sync_on_commit = sync_on_commit
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> str:
        """Start the database, wait until it answers a ping and return its URI."""
        storage = self.data_dir / "db"
        storage.mkdir(parents=True, exist_ok=True)
        self.port = free_loopback_port()
        command = [
            sys.executable, "-m", "secantus",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--storage-path", str(storage), "--log-level", "WARNING",
            # fsync the journal before each commit returns: an acknowledged write survives kill -9 and power loss
            *(["--sync-on-commit"] if self.sync_on_commit else []),
        ]  # fmt: skip
        log_file = (self.data_dir / "secantus.log").open("ab")
        try:
            self._process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent, start_new_session=True,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise StorageUnavailable(
                _("The embedded database could not be started: {error}").format(error=exc)
            ) from exc
        finally:
            log_file.close()
        self._wait_until_ready()
        log.info("embedded database listening", extra={"port": self.port, "path": str(storage)})
        return self.uri

    def _wait_until_ready(self) -> None:
        from pymongo import MongoClient  # the sync driver, only for this readiness probe

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise StorageUnavailable(
                    _("The embedded database exited at startup (code {code}); see {log}.").format(
                        code=self._process.returncode, log=self.data_dir / "secantus.log"
                    )
                )
            try:
                client: MongoClient[dict[str, Any]]
                with MongoClient(self.uri, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except Exception:  # not listening yet
                time.sleep(0.1)
        self.stop()
        raise StorageUnavailable(
            _("The embedded database did not answer within {seconds} s.").format(seconds=int(self.startup_timeout))
        )

    def stop(self) -> None:
        """Stop the database cleanly (SIGTERM), killing it if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedDatabase:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
