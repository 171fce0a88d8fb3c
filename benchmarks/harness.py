"""What the benchmark scripts share: a `fhir-server serve` process on a given database, and the choice of
commit durability for the embedded database they start."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import httpx

from fhir_server.storage.embedded import free_loopback_port

SYNC_MODES = {"on": (True,), "off": (False,), "both": (False, True)}
"""`--sync`: which embedded databases to measure on, in order (journal fsynced at each commit or not)."""


def add_sync_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sync",
        choices=tuple(SYNC_MODES),
        default="on",
        help="fsync the embedded database's journal at each commit: on (as shipped), off (as before, "
        "an acknowledged write could be lost by a crash), both (off then on, compared; default on)",
    )


def sync_label(sync: bool) -> str:
    return "synced commits" if sync else "unsynced commits"


class RunningServer(NamedTuple):
    """A started server: the URL it answers on (without `/fhir`) and its process id."""

    base: str
    pid: int


@contextmanager
def fhir_server(
    uri: str, database: str = "bench", workers: int = 1, auth: str = "open", cwd: str | None = None
) -> Iterator[RunningServer]:
    """Run `fhir-server serve --auth <auth>` on `uri`/`database` until the block ends; yield it once /readyz
    answers. `cwd`: run the server from the source in that directory (another version to compare)."""
    port = free_loopback_port()
    command = [
        sys.executable, "-m", "fhir_server", "serve", "--port", str(port), "--auth", auth, "--mongodb-uri", uri,
        "--database", database, "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited at startup with code {process.returncode}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server was not ready within 60 s")
            time.sleep(0.1)
        yield RunningServer(base, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
