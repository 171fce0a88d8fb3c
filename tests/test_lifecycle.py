"""`fhir-server serve` fails clearly instead of hanging, owns its data directory, and keeps its database alive.

Real server processes, real sockets, the real embedded database; the deadlines below only stop a
hung test, they measure nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fhir_server.storage.data_lock import LOCK_FILE
from fhir_server.storage.embedded import free_loopback_port
from tests.conftest import FHIR_JSON, ServerProcess, new_patient


def _serve(*args: str | int | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`fhir-server serve` run to its end (a hang fails the test through the timeout)."""
    command = [sys.executable, "-m", "fhir_server", "serve", "--auth", "open", *map(str, args)]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=environment)


def _databases(data_dir: Path) -> list[int]:
    """Pids of the SecantusDB processes whose storage is under `data_dir` (from /proc, Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"secantus" in argv and str(data_dir / "db").encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


def _database_port(pid: int) -> int:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return int(argv[argv.index("--port") + 1])


def _lock_pids(data_dir: Path) -> list[int]:
    return [int(word) for word in (data_dir / LOCK_FILE).read_text().split()]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if '"level":"error"' in line]


def _listener(port: int = 0) -> socket.socket:
    """Something else listening on a loopback port (a free one unless given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.listen()
    return sock


def _port_taken_from_database(data_dir: Path, port: int) -> socket.socket:
    """Kill the database of `data_dir` and listen on its port before its supervisor restarts it there."""
    deadline = time.monotonic() + 120
    while True:
        for pid in _databases(data_dir):
            os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not _databases(data_dir), "the database gone")
        try:
            return _listener(port)
        except OSError:  # the restart won the race: again
            assert time.monotonic() < deadline, f"port {port} never free between two restarts"
            time.sleep(0.1)


def _answers(base: str, path: str) -> int:
    try:
        return httpx.get(f"{base}{path}", timeout=15).status_code
    except httpx.HTTPError:
        return 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_http_port_in_use_exits_with_one_line_and_starts_nothing(tmp_path: Path, workers: str) -> None:
    data_dir = tmp_path / "data"
    with _listener() as taken:
        port = taken.getsockname()[1]
        result = _serve("--port", port, "--workers", workers, "--data-dir", data_dir)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and f"Cannot listen on 127.0.0.1:{port}: the port is already in use." in errors[0]
    assert not _databases(data_dir)
    assert not data_dir.exists()  # refused before the data directory was touched


def test_mllp_port_in_use_exits_with_one_line_and_starts_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with _listener() as taken:
        mllp_port = taken.getsockname()[1]
        result = _serve("--port", free_loopback_port(), "--mllp-port", mllp_port, "--data-dir", data_dir)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and f"Cannot listen on 127.0.0.1:{mllp_port}: the port is already in use." in errors[0]
    assert not _databases(data_dir)


def test_data_directory_of_a_running_server_is_refused_untouched(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    running = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "running.log")
    try:
        log = data_dir / "secantus.log"
        before = (log.read_bytes(), log.stat().st_mtime_ns, sorted(p.name for p in data_dir.iterdir()))
        databases = _databases(data_dir)

        result = _serve("--port", free_loopback_port(), "--data-dir", data_dir)

        assert result.returncode == 1, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        errors = _error_lines(result.stderr)
        assert len(errors) == 1
        pid = running.process.pid
        assert f"The data directory {data_dir} is in use by another fhir-server (pid {pid})." in errors[0]
        importing = subprocess.run(
            [sys.executable, "-m", "fhir_server", "import", "--data-dir", str(data_dir), "examples/demo"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert importing.returncode == 1
        assert f"import failed: The data directory {data_dir} is in use" in importing.stderr
        assert (log.read_bytes(), log.stat().st_mtime_ns, sorted(p.name for p in data_dir.iterdir())) == before
        assert _databases(data_dir) == databases
        assert _lock_pids(data_dir) == [running.process.pid, *databases]
        with httpx.Client(base_url=f"{running.base}/fhir", headers=FHIR_JSON) as http:
            created = http.post("/Patient", json=new_patient(family="StillServed"))
            assert created.status_code == 201
            assert http.get(f"/Patient/{created.json()['id']}").status_code == 200
    finally:
        assert running.stop() == 0


def test_lock_left_by_a_killed_server_does_not_block_a_new_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    killed = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "killed.log")
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait()
    killed.log.close()
    assert _lock_pids(data_dir)[0] == killed.process.pid  # the file stays behind

    second = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "second.log")
    try:
        assert httpx.post(f"{second.base}/fhir/Patient", json=new_patient(), headers=FHIR_JSON).status_code == 201
        assert _lock_pids(data_dir) == [second.process.pid, *_databases(data_dir)]
    finally:
        assert second.stop() == 0
    assert not _databases(data_dir)


def test_database_outliving_a_killed_server_is_named_then_the_directory_is_free(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    killed = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "killed.log")
    database = _databases(data_dir)[0]
    try:
        os.kill(database, signal.SIGSTOP)  # a database that does not act on the SIGTERM its server's death sends
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait()
        killed.log.close()

        grace = {"FHIR_DATA_LOCK_GRACE_SECONDS": "3"}  # 30 s by default
        refused = _serve("--port", free_loopback_port(), "--data-dir", data_dir, env=grace)

        assert refused.returncode == 1, refused.stderr[-3000:]
        [error] = _error_lines(refused.stderr)
        assert f"The data directory {data_dir} is still used by the database (pid {database}) of a fhir-server" in error
    finally:
        os.kill(database, signal.SIGKILL)  # what the message asks the operator to do
    _wait_for(lambda: not _databases(data_dir), "the orphaned database gone")
    second = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "second.log")
    assert second.stop() == 0


def _unusable_data_dir(tmp_path: Path, how: str) -> Path:
    if how == "under a regular file":
        (tmp_path / "file").write_text("not a directory")
        return tmp_path / "file" / "data"
    if os.geteuid() == 0:
        pytest.skip("root is not stopped by directory permissions (the regular-file case covers root)")
    parent = tmp_path / "read-only"
    parent.mkdir(mode=0o500)
    return parent / "data"


@pytest.mark.parametrize("how", ["under a regular file", "in a read-only directory"])
def test_unusable_data_directory_is_one_line(tmp_path: Path, how: str) -> None:
    data_dir = _unusable_data_dir(tmp_path, how)
    result = _serve("--port", free_loopback_port(), "--data-dir", data_dir)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and f"The data directory {data_dir} cannot be used: " in errors[0]
    assert not _databases(data_dir)


def test_killed_database_is_restarted_on_its_port_and_requests_recover(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "server.log")
    try:
        [first] = _databases(data_dir)
        port = _database_port(first)

        os.kill(first, signal.SIGKILL)

        _wait_for(lambda: _databases(data_dir) not in ([], [first]), "a new database process")
        [second] = _databases(data_dir)
        assert _database_port(second) == port  # the driver finds it where it was
        _wait_for(lambda: _answers(server.base, "/fhir/Patient?_count=1") == 200, "searches work again")
        with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
            created = http.post("/Patient", json=new_patient(family="AfterRestart"))
            assert created.status_code == 201
            assert http.get(f"/Patient/{created.json()['id']}").status_code == 200
        assert httpx.get(f"{server.base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{server.base}/readyz").status_code == 200
        assert '"msg":"embedded database exited; restarting it","code":-9,"attempt":1' in server.log_path.read_text()
        _wait_for(lambda: '"msg":"embedded database restarted"' in server.log_path.read_text(), "the restart logged")
    finally:
        assert server.stop() == 0
    assert not _databases(data_dir)


def test_database_that_cannot_restart_makes_healthz_unhealthy_until_it_can(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    down_limit = {"FHIR_DATABASE_DOWN_SECONDS": "4"}  # 30 s by default
    server = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "server.log", env=down_limit)
    try:
        [database] = _databases(data_dir)
        port = _database_port(database)
        with _port_taken_from_database(data_dir, port):  # every restart fails
            _wait_for(lambda: _answers(server.base, "/healthz") == 503, "/healthz says 503")
            body = httpx.get(f"{server.base}/healthz", timeout=15).json()
            assert body["status"] == "unhealthy" and "The database has not answered for" in body["reason"]
            assert _answers(server.base, "/readyz") == 503
            assert server.process.poll() is None
            assert server.log_path.read_text().count('"msg":"embedded database exited; restarting it"') >= 2
        _wait_for(lambda: _answers(server.base, "/healthz") == 200, "/healthz healthy again once the port is free")
        _wait_for(lambda: _answers(server.base, "/readyz") == 200, "ready again")
        with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
            assert http.post("/Patient", json=new_patient(family="Recovered")).status_code == 201
    finally:
        assert server.stop() == 0
    assert not _databases(data_dir)


def test_startup_failing_half_way_exits_and_leaves_no_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    missing = tmp_path / "missing-cert.pem"  # the MLLP listener fails after the database connection is open
    result = _serve(
        "--port", free_loopback_port(), "--mllp-port", free_loopback_port(), "--mllp-tls-cert", missing,
        "--data-dir", data_dir,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Application startup failed" in result.stderr
    assert not _databases(data_dir)
