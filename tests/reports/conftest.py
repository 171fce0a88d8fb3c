"""A server of its own for the reports (its own data directory, so the materialized views start empty)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, MongoClient

from fhir_server.auth import Grant
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.grants import MongoGrantStore
from tests.conftest import FHIR_JSON, ServerProcess

REPORTS_DATABASE = "fhir_reports_tests"


@pytest.fixture(scope="module")
def reports_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("reports_server")
    name = f"{REPORTS_DATABASE}_{folder.name}"
    args = ["--mongodb-uri", database.uri, "--database", name, "--data-dir", str(folder / "data")]
    process = ServerProcess(args, folder / "server.log")
    yield process
    process.stop()
    MongoClient(database.uri).drop_database(name)


@pytest.fixture()
def http(reports_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{reports_server.base}/fhir", headers=FHIR_JSON, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def guarded_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with authorization on, for the role gate."""
    folder = tmp_path_factory.mktemp("reports_auth_server")
    name = f"{REPORTS_DATABASE}_auth_{folder.name}"
    args = ["--mongodb-uri", database.uri, "--database", name, "--data-dir", str(folder / "data")]
    process = ServerProcess(args, folder / "server.log", auth="smart")
    process.database = name  # type: ignore[attr-defined]
    yield process
    process.stop()
    MongoClient(database.uri).drop_database(name)


async def _issue(uri: str, database: str, grant: Grant) -> str:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        return await MongoGrantStore(client, database).issue(grant)
    finally:
        await client.close()


@pytest.fixture()
def connect(database: EmbeddedDatabase, guarded_server: ServerProcess) -> Callable[..., httpx.Client]:
    """`connect("user/*.rs", role="nurse", patient=None)`: a client with a token minted straight into the database."""

    def make(scope: str, *, role: str | None = None, patient: str | None = None) -> httpx.Client:
        issued = datetime.now(UTC)
        grant = Grant(kind="access", client_id="reports-tests", scopes=tuple(scope.split()), issued_at=issued,
                      expires_at=issued + timedelta(hours=1), family=uuid.uuid4().hex, subject="someone",
                      role=role, patient=patient)  # fmt: skip
        token = asyncio.run(_issue(database.uri, guarded_server.database, grant))  # type: ignore[attr-defined]
        headers = {**FHIR_JSON, "Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=f"{guarded_server.base}/fhir", headers=headers, timeout=60)

    return make
