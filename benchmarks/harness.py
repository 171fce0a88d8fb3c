"""What the benchmark scripts share: a `fhir-server serve` process on a given database."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import httpx

from fhir_server.storage.embedded import free_loopback_port


class RunningServer(NamedTuple):
    """A started server: the URL it answers on (without `/fhir`) and its process id."""

    base: str
    pid: int


@contextmanager
def fhir_server(uri: str, database: str = "bench", workers: int = 1) -> Iterator[RunningServer]:
    """Run `fhir-server serve` on `uri`/`database` until the block ends; yield it once /readyz answers."""
    port = free_loopback_port()
    command = [
        sys.executable, "-m", "fhir_server", "serve", "--port", str(port), "--auth", "open", "--mongodb-uri", uri,
        "--database", database, "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
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
