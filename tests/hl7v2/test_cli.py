"""`fhir-server mllp`: the receiver on its own, on the embedded database, with the real mapper and peer."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.embedded import free_loopback_port

from . import FIXTURES, mllp_send_command, segment


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "fhir-server mllp exited early"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("fhir-server mllp did not listen")


def test_mllp_command_acknowledges_a_lab_result(tmp_path: Path) -> None:
    port = free_loopback_port()
    log = (tmp_path / "mllp.log").open("wb")
    command = [sys.executable, "-m", "fhir_server", "mllp", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        _wait_for_port(port, process)
        mllp_send = mllp_send_command()
        sent = subprocess.run(
            [mllp_send, "--loose", "-p", str(port), "-f", str(FIXTURES / "fhirconv_ORU-R01-RMGEAD.hl7"), "127.0.0.1"],
            capture_output=True, timeout=60, check=True,
        )  # fmt: skip
        acks = [line for line in sent.stdout.decode().split("\n") if line.strip()]
        assert segment(acks[0], "MSA")[1:3] == ["AA", "CNTRL-3456"], acks
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        log.close()


def test_mllp_command_on_a_port_in_use_says_so_without_a_traceback(tmp_path: Path, database: EmbeddedDatabase) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [
            sys.executable, "-m", "fhir_server", "mllp", "--host", "127.0.0.1", "--port", str(port),
            "--mongodb-uri", database.uri, "--database", "mllp_port_in_use",
        ]  # fmt: skip
        ran = subprocess.run(command, capture_output=True, timeout=120)
    assert ran.returncode == 1, ran.stderr
    assert b"already in use" in ran.stderr and b"Traceback" not in ran.stderr, ran.stderr
