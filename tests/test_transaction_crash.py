"""kill -9 of the server in the middle of a transaction leaves nothing of it behind."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import FHIR_JSON, ServerProcess, new_patient
from tests.test_cli_serve import _alive, _children

ENTRIES = 3000


def _big_transaction(system: str) -> dict:
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": new_patient(identifier=[{"system": system, "value": str(i)}]),
            "request": {"method": "POST", "url": "Patient"},
        }
        for i in range(ENTRIES)
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _send(base: str, bundle: dict, answered: list[int]) -> None:
    """POST the Bundle; a connection cut by the kill leaves `answered` empty."""
    with contextlib.suppress(httpx.HTTPError):
        answered.append(httpx.post(f"{base}/fhir", json=bundle, headers=FHIR_JSON, timeout=120).status_code)


def _stored(base: str, system: str) -> int:
    params = {"identifier": f"{system}|", "_summary": "count"}
    total: int = httpx.get(f"{base}/fhir/Patient", params=params, timeout=60).json()["total"]
    return total


def test_kill_9_during_transactions_is_all_or_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    outcomes = []
    for attempt, delay in enumerate((0.8, 1.6, 2.4)):
        server = ServerProcess(["--data-dir", str(data_dir)], tmp_path / f"server{attempt}.log")
        database = _children(server.process.pid)
        system = f"urn:test:{uuid.uuid4().hex}"
        answered: list[int] = []
        sender = threading.Thread(target=_send, args=(server.base, _big_transaction(system), answered))
        sender.start()
        time.sleep(delay)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        sender.join()
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in database) and time.monotonic() < deadline:
            time.sleep(0.1)
        server.log.close()

        again = ServerProcess(["--data-dir", str(data_dir)], tmp_path / f"again{attempt}.log")
        try:
            stored = _stored(again.base, system)
        finally:
            again.stop()
        assert stored in (0, ENTRIES), f"a killed transaction left {stored} of {ENTRIES} resources"
        outcomes.append((answered, stored))
    assert any(not answered and stored == 0 for answered, stored in outcomes), outcomes
