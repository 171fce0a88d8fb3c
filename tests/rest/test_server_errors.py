"""An unexpected fault: 500, an OperationOutcome with the request id, and no stack trace for the client;
the connection stays usable, and the log has the fault once, without its message."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import Request

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.logs import MAX_LINE_CHARS, JsonFormatter
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.embedded import free_loopback_port
from tests.rest.raw_http import exchange, open_connection, request


@pytest.fixture(scope="module")
def faulty_server(database: EmbeddedDatabase) -> Iterator[str]:
    """The real application plus one route that fails, served by uvicorn in a thread."""
    app = create_app(Settings(mongodb_uri=database.uri, database="fhir_faults"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    @app.post("/leak")
    async def leak(request: Request) -> None:
        body = (await request.body()).decode()
        raise ValueError(f"document refused: {body} (was {body})")  # as driver errors embed the document

    port = free_loopback_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_unexpected_error_is_500_with_outcome_and_request_id(faulty_server: str) -> None:
    response = httpx.get(f"{faulty_server}/boom", headers={"X-Request-Id": "trace-me-42"})
    assert response.status_code == 500
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "exception"
    assert "trace-me-42" in body["issue"][0]["diagnostics"]
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["X-Request-Id"] == "trace-me-42"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture()
def log_lines() -> Iterator[list[str]]:
    """What the server logs meanwhile, through the server's own formatter."""
    handler, root = _Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_after_a_500_the_connection_still_serves(faulty_server: str) -> None:
    with open_connection(faulty_server) as sock:
        failed = exchange(sock, request("GET", "/boom"))
        assert failed.status == 500
        assert failed.json()["resourceType"] == "OperationOutcome"
        assert not failed.says_close
        again = exchange(sock, request("GET", "/healthz"))
        assert again.status == 200


def test_a_fault_carrying_patient_data_is_logged_once_without_it(faulty_server: str, log_lines: list[str]) -> None:
    name = "Marmaduke Quillfeather"
    patient = {"resourceType": "Patient", "name": [{"text": name}], "note": "x" * 3_500_000}
    body = json.dumps(patient).encode()
    response = httpx.post(f"{faulty_server}/leak", content=body, headers={"X-Request-Id": "leak-1"}, timeout=60)
    assert response.status_code == 500
    assert name not in response.text
    deadline = time.monotonic() + 30
    while not any('"msg":"request"' in line and "leak-1" in line for line in log_lines):
        assert time.monotonic() < deadline, log_lines
        time.sleep(0.05)
    mine = [line for line in log_lines if "leak-1" in line]
    assert not [line for line in log_lines if "Quillfeather" in line]
    assert max(len(line) for line in log_lines) <= MAX_LINE_CHARS
    faults = [line for line in mine if "ValueError" in line]
    assert len(faults) == 1, mine  # logged by the server once, not again by uvicorn
    assert "message not logged" in faults[0] and "test_server_errors.py" in faults[0]
