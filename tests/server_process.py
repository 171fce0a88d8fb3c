"""`fhir-server serve` as a child process for the tests, and the FHIR JSON content type they send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fhir_server.storage.embedded import free_loopback_port

FHIR_JSON = {"Content-Type": "application/fhir+json"}


class ServerProcess:
    """`fhir-server serve` as a child process, stopped with SIGTERM like an operator would.

    Without authorization (`auth` "open") unless told otherwise: most tests are about FHIR, not
    tokens; tests/auth_server.py runs one with `auth="smart"`. Schedules get two weeks of Slots
    (`FHIR_SLOT_HORIZON_DAYS`), not 90 days: the tests book within days, and each generated Slot is a write.
    """

    ENV = {"FHIR_SLOT_HORIZON_DAYS": "14"}

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None, auth: str = "open") -> None:
        self.port = free_loopback_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "fhir_server", "serve", "--port", str(self.port), "--auth", auth, *args]
        self.log_path = log_path
        self.log = log_path.open("ab")
        environment = {**os.environ, **self.ENV, **(env or {})}
        self.process = subprocess.Popen(command, env=environment, stdout=self.log, stderr=self.log)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become ready")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.log.close()
        return self.process.returncode
