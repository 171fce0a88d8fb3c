"""A server of its own for the reports (its own data directory, so the materialized views start empty)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pymongo import MongoClient

from fhir_server.storage import EmbeddedDatabase
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
