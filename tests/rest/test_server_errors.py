"""An unexpected fault: 500, an OperationOutcome with the request id, and no stack trace for the client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.embedded import free_loopback_port


@pytest.fixture(scope="module")
def faulty_server(database: EmbeddedDatabase) -> Iterator[str]:
    """The real application plus one route that fails, served by uvicorn in a thread."""
    app = create_app(Settings(mongodb_uri=database.uri, database="fhir_faults"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

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
