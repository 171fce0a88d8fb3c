"""Bulk Data $export: kick-off, polling, manifest, NDJSON files, _since, _typeFilter, Patient and Group level,
cancel and expiry. https://hl7.org/fhir/uv/bulkdata/STU2/export.html

The shared test database holds other tests' data, so every export here is scoped to this test's own
resources with `_typeFilter` on a unique identifier system.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import orjson
import pytest
from pymongo import MongoClient

from fhir_server.storage import EmbeddedDatabase
from tests.conftest import FHIR_JSON, ServerProcess, new_patient, outcome_codes

ASYNC = {"Prefer": "respond-async"}


def _system() -> str:
    return f"urn:test:bulk:{uuid.uuid4().hex}"


def _create(client: httpx.Client, resource: dict) -> dict:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict = response.json()
    return created


def _patient(client: httpx.Client, system: str, value: str) -> dict:
    return _create(client, new_patient(identifier=[{"system": system, "value": value}]))


def _observation(client: httpx.Client, system: str, value: str, subject: str | None = None) -> dict:
    observation: dict = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "identifier": [{"system": system, "value": value}],
    }
    if subject:
        observation["subject"] = {"reference": subject}
    return _create(client, observation)


def _kick_off(client: httpx.Client, path: str, params: dict | list | None = None) -> str:
    response = client.get(path, params=params, headers=ASYNC)
    assert response.status_code == 202, response.text
    location: str = response.headers["Content-Location"]
    return location


def _wait(client: httpx.Client, poll_url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(poll_url)
        if response.status_code != 202:
            return response
        assert response.headers["Retry-After"].isdigit()
        assert "X-Progress" in response.headers
        time.sleep(0.1)
    raise AssertionError("the export did not finish")


def _manifest(client: httpx.Client, poll_url: str) -> dict:
    response = _wait(client, poll_url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    manifest: dict = response.json()
    return manifest


def _lines(client: httpx.Client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    assert response.content.endswith(b"\n")
    return [orjson.loads(line) for line in response.content.splitlines()]


def _exported(client: httpx.Client, manifest: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for output in manifest["output"]:
        lines = _lines(client, output["url"])
        assert len(lines) == output["count"]
        assert all(line["resourceType"] == output["type"] for line in lines)
        found.setdefault(output["type"], []).extend(lines)
    return found


def _ids(resources: list[dict]) -> set[str]:
    return {resource["id"] for resource in resources}


def test_kick_off_errors(client: httpx.Client) -> None:
    response = client.get("/$export", params={"_type": "Patient"})
    assert response.status_code == 400 and outcome_codes(response) == ["invalid"]
    assert "respond-async" in response.json()["issue"][0]["diagnostics"]
    for params in (
        {"_outputFormat": "text/csv"},
        {"_type": "Patient,NoSuchType"},
        {"_since": "yesterday"},
        {"_typeFilter": "Patient"},
        {"_type": "Observation", "_typeFilter": "Patient?gender=male"},
        {"_type": "Patient", "unknownParameter": "1"},
    ):
        response = client.get("/$export", params=params, headers=ASYNC)
        assert response.status_code == 400, (params, response.text)
        assert outcome_codes(response) == ["invalid"]
    unknown = client.get("/$export", params={"_typeFilter": "Patient?no-such-parameter=1"}, headers=ASYNC)
    assert unknown.status_code == 400 and outcome_codes(unknown) == ["not-supported"]  # as in a search
    assert client.get("/Group/no-such-group/$export", headers=ASYNC).status_code == 404
    response = client.get(f"/$export-poll/{uuid.uuid4()}")
    assert response.status_code == 404 and outcome_codes(response) == ["not-found"]


def test_system_export_manifest_and_files_equal_reads(client: httpx.Client, base_url: str) -> None:
    system = _system()
    patients = [_patient(client, system, str(i)) for i in range(3)]
    observations = [_observation(client, system, str(i), f"Patient/{patients[0]['id']}") for i in range(2)]
    params = {
        "_type": "Patient,Observation",
        "_typeFilter": f"Patient?identifier={system}|,Observation?identifier={system}|",
        "_outputFormat": "application/fhir+ndjson",
    }
    poll_url = _kick_off(client, "/$export", params)
    assert poll_url.startswith(f"{base_url}/$export-poll/")
    manifest = _manifest(client, poll_url)
    assert manifest["requiresAccessToken"] is False
    assert manifest["error"] == []
    assert manifest["request"].startswith(f"{base_url}/$export?")
    assert "_typeFilter=" in manifest["request"]
    transaction_time = manifest["transactionTime"]
    assert transaction_time.endswith("Z") and transaction_time >= patients[-1]["meta"]["lastUpdated"]
    assert {o["type"] for o in manifest["output"]} == {"Patient", "Observation"}
    assert all(o["url"].startswith(f"{base_url}/$export-file/") for o in manifest["output"])
    exported = _exported(client, manifest)
    assert _ids(exported["Patient"]) == _ids(patients)
    assert _ids(exported["Observation"]) == _ids(observations)
    for resource_type, lines in exported.items():
        for line in lines:  # each line is the stored resource, as a read returns it
            assert client.get(f"/{resource_type}/{line['id']}").json() == line
    assert _wait(client, poll_url).status_code == 200  # polling again after completion is fine


def test_post_kick_off_with_parameters(client: httpx.Client) -> None:
    system = _system()
    patient = _patient(client, system, "1")
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Patient"},
            {"name": "_typeFilter", "valueString": f"Patient?identifier={system}|"},
        ],
    }
    response = client.post("/$export", json=parameters, headers={**ASYNC, **FHIR_JSON})
    assert response.status_code == 202, response.text
    exported = _exported(client, _manifest(client, response.headers["Content-Location"]))
    assert _ids(exported["Patient"]) == {patient["id"]}


def test_since_and_transaction_time(client: httpx.Client) -> None:
    system = _system()
    _patient(client, system, "old")
    time.sleep(0.01)
    newer = _patient(client, system, "new")
    params = {
        "_type": "Patient",
        "_typeFilter": f"Patient?identifier={system}|",
        "_since": newer["meta"]["lastUpdated"],
    }
    poll_url = _kick_off(client, "/$export", params)
    later = _patient(client, system, "after-kick-off")  # after transactionTime: not in this export
    exported = _exported(client, _manifest(client, poll_url))
    assert _ids(exported["Patient"]) == {newer["id"]}
    assert later["id"] not in _ids(exported["Patient"])


def test_type_filters_are_ored(client: httpx.Client) -> None:
    system = _system()
    one, two, _three = (_patient(client, system, value) for value in ("1", "2", "3"))
    params = [
        ("_type", "Patient"),
        ("_typeFilter", f"Patient?identifier={quote(system)}|1"),
        ("_typeFilter", f"Patient?identifier={quote(system)}|2"),
    ]
    exported = _exported(client, _manifest(client, _kick_off(client, "/$export", params)))
    assert _ids(exported["Patient"]) == {one["id"], two["id"]}


def test_patient_level_exports_compartments_only(client: httpx.Client) -> None:
    system = _system()
    patient = _patient(client, system, "1")
    in_compartment = _observation(client, system, "a", f"Patient/{patient['id']}")
    _observation(client, system, "b")  # in no patient's compartment
    params = {
        "_type": "Patient,Observation",  # every patient's other records belong to other tests
        "_typeFilter": f"Patient?identifier={system}|,Observation?identifier={system}|",
    }
    manifest = _manifest(client, _kick_off(client, "/Patient/$export", params))
    exported = _exported(client, manifest)
    assert set(exported) == {"Patient", "Observation"}
    assert _ids(exported["Patient"]) == {patient["id"]}
    assert _ids(exported["Observation"]) == {in_compartment["id"]}


def test_group_level_exports_members_only(client: httpx.Client) -> None:
    system = _system()
    member, other = _patient(client, system, "member"), _patient(client, system, "other")
    member_observation = _observation(client, system, "m", f"Patient/{member['id']}")
    _observation(client, system, "o", f"Patient/{other['id']}")
    group = _create(
        client,
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{member['id']}"}}],
        },
    )
    manifest = _manifest(client, _kick_off(client, f"/Group/{group['id']}/$export"))
    assert manifest["request"].endswith(f"/Group/{group['id']}/$export")
    exported = _exported(client, manifest)
    assert set(exported) == {"Patient", "Observation", "Group"}  # the Group is in its member's compartment
    assert _ids(exported["Group"]) == {group["id"]}
    assert _ids(exported["Patient"]) == {member["id"]}
    assert _ids(exported["Observation"]) == {member_observation["id"]}


def test_cancel(client: httpx.Client) -> None:
    system = _system()
    _patient(client, system, "1")
    poll_url = _kick_off(client, "/$export", {"_type": "Patient", "_typeFilter": f"Patient?identifier={system}|"})
    response = client.delete(poll_url)
    assert response.status_code == 202, response.text
    response = client.get(poll_url)
    assert response.status_code == 404 and outcome_codes(response) == ["not-found"]
    assert client.delete(poll_url).status_code == 404


def test_unknown_file_is_404(client: httpx.Client) -> None:
    system = _system()
    _patient(client, system, "1")
    poll_url = _kick_off(client, "/$export", {"_type": "Patient", "_typeFilter": f"Patient?identifier={system}|"})
    manifest = _manifest(client, poll_url)
    job = poll_url.rsplit("/", 1)[1]
    assert client.get(f"/$export-file/{job}/Observation-1.ndjson").status_code == 404
    assert client.get(f"/$export-file/{uuid.uuid4()}/Patient-1.ndjson").status_code == 404
    assert len(manifest["output"]) == 1


@pytest.fixture()
def short_lived_server(database: EmbeddedDatabase, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A server whose exports expire after one second, on a database of its own (its purge is database-wide)."""
    name = f"bulk_ttl_{uuid.uuid4().hex[:8]}"
    process = ServerProcess(
        ["--mongodb-uri", database.uri, "--database", name], tmp_path / "server.log", {"FHIR_EXPORT_TTL_SECONDS": "1"}
    )
    yield process, name
    process.stop()
    MongoClient(database.uri).drop_database(name)


def test_expired_export_is_gone(short_lived_server: tuple[ServerProcess, str], database: EmbeddedDatabase) -> None:
    server, name = short_lived_server
    with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as client:
        system = _system()
        _patient(client, system, "1")
        poll_url = _kick_off(client, "/$export", {"_type": "Patient", "_typeFilter": f"Patient?identifier={system}|"})
        response = _wait(client, poll_url)
        assert response.status_code == 200, response.text
        file_url = response.json()["output"][0]["url"]
        time.sleep(1.5)
        assert client.get(poll_url).status_code == 404
        assert client.get(file_url).status_code == 404
        job = poll_url.rsplit("/", 1)[1]
        chunks = MongoClient(database.uri)[name]["export_chunks"]
        deadline = time.monotonic() + 10
        while chunks.count_documents({"job": job}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert chunks.count_documents({"job": job}) == 0  # purged by the worker
