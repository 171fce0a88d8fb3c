"""A database written under the old search layout (`idx` under compound multikey indexes, no `keys`)
is upgraded when a server starts on it: old indexes dropped, every resource re-indexed, once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import ASCENDING, MongoClient

from fhir_server.engine import update_resource
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.mongo import SEARCH_LAYOUT
from tests.conftest import FHIR_JSON, TEST_POLICY, ServerProcess

OLD_INDEXES = ("idx_c", "idx_v", "compartments", "type_updated")


async def _write(uri: str, name: str) -> None:
    store = MongoResourceStore.connect(uri, name)
    try:
        await store.ensure_indexes()
        await update_resource(
            store,
            TEST_POLICY,
            "Patient",
            "old",
            {"resourceType": "Patient", "id": "old", "name": [{"family": "Oldlayout"}]},
        )
        observation = {
            "resourceType": "Observation",
            "id": "old-obs",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/old"},
        }
        await update_resource(store, TEST_POLICY, "Observation", "old-obs", observation)
    finally:
        await store.close()


def _make_old(client: MongoClient[dict[str, Any]], name: str) -> None:
    """What a database of the old layout holds: no `keys`, no layout record, its nine-ish indexes."""
    db = client[name]
    db["resources"].update_many({}, {"$unset": {"keys": ""}})
    db["meta"].delete_many({})
    db["resources"].drop_index("search_keys")
    db["resources"].create_index([("type", ASCENDING), ("idx.p", ASCENDING), ("idx.c", ASCENDING)], name="idx_c")
    db["resources"].create_index([("type", ASCENDING), ("idx.p", ASCENDING), ("idx.v", ASCENDING)], name="idx_v")
    db["resources"].create_index([("compartments", ASCENDING), ("type", ASCENDING)], name="compartments")
    db["resources"].create_index([("type", ASCENDING), ("lastUpdated", ASCENDING)], name="type_updated")


@pytest.fixture()
def old_database(database: EmbeddedDatabase) -> Iterator[tuple[str, MongoClient[dict[str, Any]]]]:
    name = f"layout_{uuid.uuid4().hex[:8]}"
    asyncio.run(_write(database.uri, name))
    client: MongoClient[dict[str, Any]] = MongoClient(database.uri)
    _make_old(client, name)
    try:
        yield name, client
    finally:
        client.drop_database(name)
        client.close()


def _search(base: str, query: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/fhir/{query}", headers=FHIR_JSON, timeout=30)
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    return bundle


def _ids_and_warnings(bundle: dict[str, Any]) -> tuple[list[str], list[str]]:
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    ids = [r["id"] for r in resources if r["resourceType"] != "OperationOutcome"]
    codes = [i["code"] for r in resources if r["resourceType"] == "OperationOutcome" for i in r["issue"]]
    return ids, codes


def test_server_upgrades_an_old_layout_once(
    database: EmbeddedDatabase, old_database: tuple[str, MongoClient[dict[str, Any]]], tmp_path: Path
) -> None:
    name, client = old_database
    server = ServerProcess(["--mongodb-uri", database.uri, "--database", name], tmp_path / "server.log")
    try:
        indexes = set(client[name]["resources"].index_information())
        assert not indexes & set(OLD_INDEXES), indexes
        assert "search_keys" in indexes
        assert client[name]["meta"].find_one({"_id": "search_layout"})["version"] == SEARCH_LAYOUT
        deadline = time.monotonic() + 180  # the re-index job waits its turn behind a busy shared database
        while True:
            found = _ids_and_warnings(_search(server.base, "Observation?code=http://loinc.org|8867-4&patient=old"))
            if found == (["old-obs"], []) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert found == (["old-obs"], []), "re-indexed resources are found, without an `incomplete` warning"
        assert _ids_and_warnings(_search(server.base, "Patient?name=oldlay"))[0] == ["old"]
        assert client[name]["resources"].count_documents({"keys": {"$exists": False}}) == 0
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "older layout" in log and "re-indexed" in log
    again = ServerProcess(["--mongodb-uri", database.uri, "--database", name], tmp_path / "again.log")
    again.stop()
    assert client[name]["jobs"].count_documents({"kind": "reindex"}) == 1, "a second start re-indexes nothing"
