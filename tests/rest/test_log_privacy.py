"""No patient data in the server's log: failed writes and searches leave ids, codes and sizes only,
and no line is longer than the formatter's cap."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx

from fhir_server.logs import MAX_LINE_CHARS
from tests.conftest import ServerProcess


def _log_lines_once_written(log_path: Path, request_ids: list[str]) -> list[str]:
    """The server log's lines, read once the access lines of `request_ids` are in it."""
    deadline = time.monotonic() + 30
    while True:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if all(f'"request_id":"{rid}"' in text for rid in request_ids) or time.monotonic() > deadline:
            return text.splitlines()
        time.sleep(0.1)


def test_failed_writes_and_searches_leave_no_patient_data_in_the_log(
    client: httpx.Client, server: ServerProcess
) -> None:
    name = "Quillfeather" + uuid.uuid4().hex[:8]
    sent: list[str] = []

    def send(method: str, url: str, **kwargs: object) -> httpx.Response:
        request_id = uuid.uuid4().hex
        sent.append(request_id)
        return client.request(method, url, headers={"X-Request-Id": request_id}, **kwargs)  # type: ignore[arg-type]

    names = [{"family": name, "given": [f"{name}{i}"]} for i in range(40_000)]
    too_big = send("POST", "/Patient", json={"resourceType": "Patient", "name": names})
    assert too_big.status_code == 413
    invalid = {
        "resourceType": "Patient",
        "name": [{"family": f"{name}\x00", "given": [name * 100] * 1000}],  # 3.5 MB; the NUL makes it invalid
    }
    refused = send("POST", "/Patient", content=json.dumps(invalid).encode())
    assert refused.status_code == 400
    update = send(
        "PUT", f"/Patient/{uuid.uuid4()}", json={"resourceType": "Patient", "id": "other", "name": names[:10]}
    )
    assert update.status_code == 400
    search = send("GET", "/Patient", params={"name": name, "birthdate": f"not-a-date-{name}"})
    assert search.status_code == 400
    found = send("GET", "/Patient", params={"family": name})
    assert found.status_code == 200 and found.json().get("total", 0) == 0

    lines = _log_lines_once_written(server.log_path, sent)
    assert all(f'"request_id":"{rid}"' in "\n".join(lines) for rid in sent)
    assert not [line[:300] for line in lines if name in line]
    assert max(len(line) for line in lines) <= MAX_LINE_CHARS
    access = [json.loads(line) for line in lines if f'"request_id":"{sent[3]}"' in line and '"msg":"request"' in line]
    assert access and access[0]["params"] == ["name", "birthdate"] and access[0]["status"] == 400
