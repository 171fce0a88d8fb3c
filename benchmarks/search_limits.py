"""What a hostile search costs the embedded database, and whether that stops when its client leaves.

Loads `--patients` Patients, then starts `fhir-server serve` with the value limit raised (so the
search the limits refuse can run at all) and a long time limit. It times `name:contains` with
`--values` OR'ed values to the end, then sends it again, closes the connection after `--wait`
seconds and prints the database process's CPU use each half second: the server sends nothing
more, but SecantusDB finishes the command under way (it has no per-operation cancellation; its
`killOp` only closes the connection), so only its `maxTimeMS` ends that. Then the same search with
a short time limit (`--time-limit`): refused once the database stops it, the CPU falling to idle.
Last, under the default limits: a 400 at once.

Usage: ``python benchmarks/search_limits.py [--patients 3000] [--values 300] [--wait 2]``
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from harness import fhir_server

from fhir_server.storage import EmbeddedDatabase

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _database_pid(port: int) -> int:
    """The embedded database listening on `port` (a child of this process)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"secantus" in command and str(port).encode() in command:
                return int(proc.name)
    raise RuntimeError("embedded database process not found")


def _load(base: str, patients: int) -> None:
    with httpx.Client(base_url=f"{base}/fhir", timeout=120) as client:
        for start in range(0, patients, 100):
            entries = [
                {"resource": {"resourceType": "Patient", "name": [{"family": f"Family{i}", "given": [f"G{i}"]}]},
                 "request": {"method": "POST", "url": "Patient"}}
                for i in range(start, min(start + 100, patients))
            ]  # fmt: skip
            response = client.post("", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
            response.raise_for_status()


def _abandon(base: str, path: str, wait: float) -> None:
    """Send GET `path` and close the connection after `wait` seconds without reading the answer."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        time.sleep(wait)


def _sample(pid: int, seconds: float, *, quiet: bool = False) -> None:
    """Print the database's CPU use each half second for `seconds` (only wait, when `quiet`)."""
    previous, last = _cpu_seconds(pid), time.monotonic()
    end = last + seconds
    while time.monotonic() < end:
        time.sleep(0.5)
        now, used = time.monotonic(), _cpu_seconds(pid)
        if not quiet:
            print(f"  t+{seconds - (end - now):5.1f} s  database CPU {100 * (used - previous) / (now - last):5.0f} %")
        previous, last = used, now


def _limits(**settings: int) -> None:
    """Set (or, for 0, unset) the `FHIR_SEARCH_*` settings the next server starts with."""
    for name, value in settings.items():
        key = f"FHIR_SEARCH_{name.upper()}"
        if value:
            os.environ[key] = str(value)
        else:
            os.environ.pop(key, None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--values", type=int, default=300)
    parser.add_argument("--wait", type=float, default=2.0)
    parser.add_argument("--time-limit", type=int, default=5000, help="ms, for the time-limited run")
    args = parser.parse_args()
    values = ",".join(f"x{i}" for i in range(args.values))
    path = "/fhir/Patient?" + urlencode({"name:contains": values, "_total": "none"})
    with tempfile.TemporaryDirectory() as folder, EmbeddedDatabase(Path(folder)) as database:
        pid = _database_pid(database.port)
        _limits(max_values=args.values, time_limit_ms=600_000)
        with fhir_server(database.uri, "bench") as server:
            _load(server.base, args.patients)
            started = time.monotonic()
            status = httpx.get(server.base + path, timeout=900).status_code
            print(f"{args.values} values over {args.patients} patients, run to the end: {status} "
                  f"in {time.monotonic() - started:.1f} s")  # fmt: skip
            print(f"the same search, the client gone after {args.wait} s (t = 0):")
            _abandon(server.base, path, args.wait)
            _sample(pid, 12)
            _sample(pid, 40, quiet=True)  # let the abandoned command end before the next run
        _limits(max_values=args.values, time_limit_ms=args.time_limit)
        with fhir_server(database.uri, "bench") as server:
            started = time.monotonic()
            status = httpx.get(server.base + path, timeout=900).status_code
            print(f"with a time limit of {args.time_limit} ms: {status} in {time.monotonic() - started:.1f} s, then:")
            _sample(pid, 3)
        _limits(max_values=0, time_limit_ms=0)
        with fhir_server(database.uri, "bench") as server:
            started = time.monotonic()
            status = httpx.get(server.base + path, timeout=900).status_code
            print(f"under the default limits: {status} in {1000 * (time.monotonic() - started):.0f} ms")


if __name__ == "__main__":
    main()
