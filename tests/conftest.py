"""Shared fixtures: one embedded database, one real server process (and one with authorization on,
tests/auth_server.py) for the whole session.

Tests talk to the server over real HTTP and to the database over the wire; nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fhir_server.auth.policy import AccessPolicy
from fhir_server.storage import EmbeddedDatabase
from tests.auth_server import auth_base, auth_server, connect, mint, world  # noqa: F401  (one authorization server)
from tests.browser import chromium  # noqa: F401  (the browser tests' fixture, shared through this conftest)
from tests.server_process import FHIR_JSON, ServerProcess

TEST_POLICY = AccessPolicy.system("tests")
"""Full access, for tests that call the engine directly to set up or read back data."""
IMPORT_MAX_BYTES = 2 * 1024 * 1024
"""The session server's cap on `$import` uploads (small, so the refusal can be tested)."""


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDatabase]:
    with EmbeddedDatabase(tmp_path_factory.mktemp("db")) as db:
        yield db


@pytest.fixture(scope="session")
def server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    demo_app = Path(__file__).parent.parent / "examples" / "smart-app"
    args = ["--mongodb-uri", database.uri, "--database", "fhir_tests", "--demo-app", str(demo_app)]
    limits = {"FHIR_IMPORT_URL_PREFIXES": "http://127.0.0.1", "FHIR_IMPORT_MAX_BYTES": str(IMPORT_MAX_BYTES)}
    process = ServerProcess(args, log_path, env=limits)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def base_url(server: ServerProcess) -> str:
    return f"{server.base}/fhir"


@pytest.fixture()
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=30) as http:
        yield http


def new_patient(family: str = "Doe", **extra: object) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Jane"]}], "gender": "female", **extra}


@pytest.fixture()
def patient(client: httpx.Client) -> dict[str, object]:
    """A freshly created Patient, as the server returned it."""
    response = client.post("/Patient", json=new_patient())
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def outcome_codes(response: httpx.Response) -> list[str]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return [issue["code"] for issue in body["issue"]]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
