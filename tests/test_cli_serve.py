"""`fhir-server serve` on its embedded database: starts it, stops it with no orphan, keeps the data."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import FHIR_JSON, ServerProcess, new_patient


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("workers", [1, 2])
def test_embedded_database_lifecycle_and_persistence(tmp_path: Path, workers: int) -> None:
    data_dir = tmp_path / "data"
    args = ["--data-dir", str(data_dir), "--workers", str(workers), "--load", "examples/demo"]
    first = ServerProcess(args, tmp_path / "first.log")
    try:
        database_pids = [
            p for p in _children(first.process.pid) if "secantus" in Path(f"/proc/{p}/cmdline").read_text()
        ]
        assert len(database_pids) == 1
        with httpx.Client(base_url=f"{first.base}/fhir", headers=FHIR_JSON) as http:
            assert http.get("/Patient/example").status_code == 200  # demo data loaded
            created = http.post("/Patient", json=new_patient(family="Survivor")).json()
        assert httpx.get(f"{first.base}/healthz").json() == {"status": "ok"}
    finally:
        assert first.stop() == 0
    assert not _alive(database_pids[0]), "the embedded database outlived the server"
    assert (data_dir / "db").is_dir()

    second = ServerProcess(args, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=f"{second.base}/fhir") as http:
            again = http.get(f"/Patient/{created['id']}")
            assert again.status_code == 200
            assert again.json()["name"][0]["family"] == "Survivor"
            assert http.get("/Patient/example/_history").json()["total"] == 1  # loading twice adds nothing
    finally:
        second.stop()
