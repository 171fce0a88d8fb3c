"""Concurrent transactions with the same conditions create one resource, on one server or several.

Each transaction's conditional creates and updates take the ConditionLock of their criteria
(engine/conditional.py), the lock the single conditional create takes: of two transactions that
both found no match, one commits and the other plans again and finds the first one's resource.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bson import json_util
from pymongo import MongoClient

from fhir_server.engine.conditional import condition_key
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import FHIR_JSON, ServerProcess, new_patient

RACERS = 12


@pytest.fixture(scope="module")
def second_server(
    database: EmbeddedDatabase, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Another server process on the database of `server`: the FHIR base URL of each, in turn."""
    log = tmp_path_factory.mktemp("second") / "server.log"
    other = ServerProcess(["--mongodb-uri", database.uri, "--database", "fhir_tests"], log)
    yield f"{other.base}/fhir"
    other.stop()


def _identified(resource_type: str, system: str, value: str = "1", **extra: object) -> dict:
    if resource_type == "Patient":
        return new_patient(identifier=[{"system": system, "value": value}], **extra)
    return {"resourceType": resource_type, "identifier": [{"system": system, "value": value}], **extra}


def _create(resource: dict, full_url: str, criteria: str) -> dict:
    request = {"method": "POST", "url": resource["resourceType"], "ifNoneExist": criteria}
    return {"fullUrl": full_url, "resource": resource, "request": request}


def _observation(subject: str) -> dict:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": subject},
    }
    return {"resource": resource, "request": {"method": "POST", "url": "Observation"}}


def _transaction(*entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _race(posts: list[tuple[str, dict]]) -> list[httpx.Response]:
    """POST each (base URL, Bundle) at once."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(posts))
        async with httpx.AsyncClient(
            headers={**FHIR_JSON, "Prefer": "return=representation"}, timeout=120, limits=limits
        ) as http:
            return await asyncio.gather(*(http.post(base, json=bundle) for base, bundle in posts))

    return asyncio.run(run())


def _matches(client: httpx.Client, resource_type: str, system: str) -> list[dict]:
    bundle = client.get(f"/{resource_type}", params={"identifier": f"{system}|", "_count": 100}).json()
    return [e["resource"] for e in bundle.get("entry", [])]


def _ok(responses: list[httpx.Response]) -> list[dict]:
    assert [r.status_code for r in responses] == [200] * len(responses), [r.text[:300] for r in responses]
    return [r.json() for r in responses]


def test_concurrent_if_none_exist_creates_one_patient(client: httpx.Client, base_url: str) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"

    def bundle() -> dict:
        full_url = f"urn:uuid:{uuid.uuid4()}"
        patient = _create(_identified("Patient", system), full_url, f"identifier={system}|1")
        return _transaction(patient, _observation(full_url))

    results = _ok(_race([(base_url, bundle()) for _ in range(RACERS)]))
    statuses = [r["entry"][0]["response"]["status"] for r in results]
    assert statuses.count("201 Created") == 1 and statuses.count("200 OK") == RACERS - 1, statuses
    (patient,) = _matches(client, "Patient", system)
    subjects = {r["entry"][1]["resource"]["subject"]["reference"] for r in results}
    assert subjects == {f"Patient/{patient['id']}"}


def test_concurrent_conditional_updates_create_one_patient(client: httpx.Client, base_url: str) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    url = f"Patient?identifier={system}|1"
    bundles = [
        _transaction(
            {
                "resource": _identified("Patient", system, birthDate=f"19{i:02d}-01-01"),
                "request": {"method": "PUT", "url": url},
            }
        )
        for i in range(RACERS)
    ]
    results = _ok(_race([(base_url, b) for b in bundles]))
    statuses = [r["entry"][0]["response"]["status"] for r in results]
    assert statuses.count("201 Created") == 1 and statuses.count("200 OK") == RACERS - 1, statuses
    (patient,) = _matches(client, "Patient", system)
    assert patient["meta"]["versionId"] == str(RACERS)  # every update applied, one after the other


def test_two_server_processes_create_one_resource(client: httpx.Client, base_url: str, second_server: str) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    org_system = f"urn:test:{uuid.uuid4().hex}"

    def bundle(i: int) -> dict:
        org_url = f"urn:uuid:{uuid.uuid4()}"
        organization = _create(
            _identified("Organization", org_system, name="Lab"), org_url, f"identifier={org_system}|1"
        )
        patient = _identified("Patient", system, str(i), managingOrganization={"reference": org_url})
        return _transaction(organization, {"resource": patient, "request": {"method": "POST", "url": "Patient"}})

    results = _ok(_race([(base_url if i % 2 else second_server, bundle(i)) for i in range(RACERS)]))
    (organization,) = _matches(client, "Organization", org_system)
    managers = {r["entry"][1]["resource"]["managingOrganization"]["reference"] for r in results}
    assert managers == {f"Organization/{organization['id']}"}
    assert len(_matches(client, "Patient", system)) == RACERS


def test_conditional_references_name_the_resource_one_of_the_transactions_created(
    client: httpx.Client, base_url: str, second_server: str
) -> None:
    """A conditional reference with the criteria of the Bundle's own conditional create names its resource."""
    system = f"urn:test:{uuid.uuid4().hex}"
    criteria = f"identifier={system}|1"

    def bundle() -> dict:
        patient = _create(_identified("Patient", system), f"urn:uuid:{uuid.uuid4()}", criteria)
        return _transaction(_observation(f"Patient?{criteria}"), patient)

    results = _ok(_race([(base_url if i % 2 else second_server, bundle()) for i in range(RACERS)]))
    (patient,) = _matches(client, "Patient", system)
    assert {r["entry"][0]["resource"]["subject"]["reference"] for r in results} == {f"Patient/{patient['id']}"}
    assert sorted(r["entry"][1]["response"]["status"] for r in results) == ["200 OK"] * (RACERS - 1) + ["201 Created"]


def test_two_entries_creating_with_the_same_criteria_are_refused(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    criteria = f"identifier={system}|1"
    bundle = _transaction(
        _create(_identified("Patient", system), f"urn:uuid:{uuid.uuid4()}", criteria),
        {"resource": _identified("Patient", system), "request": {"method": "PUT", "url": f"Patient?{criteria}"}},
    )
    response = client.post("", json=bundle)
    assert response.status_code == 400, response.text
    assert "entry 1" in response.json()["issue"][0]["diagnostics"]
    assert _matches(client, "Patient", system) == []


def test_overlapping_conditions_in_opposite_orders_do_not_deadlock(
    client: httpx.Client, base_url: str, second_server: str
) -> None:
    """Transactions holding the same two new conditions, listed in either order, all commit."""
    for _round in range(3):
        first, second = f"urn:test:{uuid.uuid4().hex}", f"urn:test:{uuid.uuid4().hex}"
        started = time.monotonic()
        bundles = [_two_conditions(first, second, flip=i % 4 < 2) for i in range(RACERS)]
        _ok(_race([(base_url if i % 2 else second_server, b) for i, b in enumerate(bundles)]))
        assert time.monotonic() - started < 60
        assert len(_matches(client, "Organization", first)) == 1
        assert len(_matches(client, "Practitioner", second)) == 1


def _two_conditions(first: str, second: str, *, flip: bool) -> dict:
    entries = [
        _create(_identified("Organization", first), f"urn:uuid:{uuid.uuid4()}", f"identifier={first}|1"),
        _create(_identified("Practitioner", second), f"urn:uuid:{uuid.uuid4()}", f"identifier={second}|1"),
    ]
    return _transaction(*(entries[::-1] if flip else entries))


_HOLDER = """
import sys, time
from bson import json_util
from pymongo import MongoClient
client = MongoClient(sys.argv[1])
session = client.start_session()
session.start_transaction()
client[sys.argv[2]]["conditions"].insert_one({"_id": sys.argv[3], "n": 1}, session=session)
print(json_util.dumps(session.session_id), flush=True)
time.sleep(600)
"""


def test_a_crashed_holders_lock_expires(client: httpx.Client, database: EmbeddedDatabase, tmp_path: Path) -> None:
    """A process killed inside its commit leaves an open database transaction on the lock; the database
    aborts it when its lifetime ends (60 s on MongoDB and SecantusDB) or when its session is killed
    (`killSessions`, what an operator would do, and what this test does rather than wait a minute).
    Until then the transaction fails cleanly with 503 (try again); then it commits, once."""
    system = f"urn:test:{uuid.uuid4().hex}"
    criteria = f"identifier={system}|1"
    key = condition_key("Patient", [("identifier", f"{system}|1")])
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, database.uri, "fhir_tests", key], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        session = json_util.loads(holder.stdout.readline())
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()

    def attempt() -> httpx.Response:
        bundle = _transaction(_create(_identified("Patient", system), f"urn:uuid:{uuid.uuid4()}", criteria))
        return client.post("", json=bundle, timeout=120)  # each of its retries may wait on the lock, under load

    blocked = attempt()
    assert blocked.status_code == 503, blocked.text
    assert blocked.json()["issue"][0]["code"] == "transient"
    with MongoClient(database.uri) as mongo:
        mongo.admin.command("killSessions", [session])
    deadline = time.monotonic() + 120
    while (response := attempt()).status_code == 503 and time.monotonic() < deadline:
        time.sleep(2)
    assert response.status_code == 200, response.text
    assert len(_matches(client, "Patient", system)) == 1
