"""Granular (v2 query) scopes filter history, vread, $everything and $export to what matches their query.

The records here belong to a patient of their own, so the shared `world` stays as other tests expect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.auth_server import CATEGORY, World, finished_export

LAB = f"patient/Observation.rs?category={CATEGORY}|laboratory"


@dataclass
class Records:
    patient: str
    moved: str
    """An Observation stored as vital-signs (v1), laboratory (v2), vital-signs again (v3)."""
    lab: str
    vitals: str
    deleted: str
    """A laboratory Observation, deleted (v2)."""


def _coded(category: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CATEGORY, "code": category}]}]


@pytest.fixture(scope="module")
def records(world: World) -> Records:
    admin = world.admin

    def create(resource: dict[str, Any]) -> dict[str, Any]:
        response = admin.post(f"/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text
        return dict(response.json())

    patient = create({"resourceType": "Patient", "name": [{"family": "GranularReads"}]})["id"]

    def observation(category: str) -> dict[str, Any]:
        return create({"resourceType": "Observation", "status": "final", "category": _coded(category),
                       "code": {"text": category}, "subject": {"reference": f"Patient/{patient}"}})  # fmt: skip

    moved = observation("vital-signs")
    for category in ("laboratory", "vital-signs"):
        moved = {**moved, "category": _coded(category)}
        response = admin.put(f"/Observation/{moved['id']}", json=moved)
        assert response.status_code == 200, response.text
    deleted = observation("laboratory")["id"]
    assert admin.delete(f"/Observation/{deleted}").status_code == 204
    return Records(patient, moved["id"], observation("laboratory")["id"], observation("vital-signs")["id"], deleted)


def _versions(bundle: httpx.Response) -> list[tuple[str, str]]:
    """(id, versionId or the request method of a deletion) of each history entry."""
    assert bundle.status_code == 200, bundle.text
    out = []
    for entry in bundle.json().get("entry", []):
        if "resource" in entry:
            out.append((entry["resource"]["id"], entry["resource"]["meta"]["versionId"]))
        else:
            out.append((entry["request"]["url"].split("/")[1], entry["request"]["method"]))
    return out


def test_history_lists_only_versions_matching_the_query(connect: Callable[..., httpx.Client], records: Records) -> None:
    with connect(LAB, role="patient", patient=records.patient) as client:
        assert _versions(client.get(f"/Observation/{records.moved}/_history")) == [(records.moved, "2")]
        assert _versions(client.get(f"/Observation/{records.vitals}/_history")) == []
        assert _versions(client.get(f"/Observation/{records.deleted}/_history")) == [
            (records.deleted, "DELETE"),  # the version it deleted matched
            (records.deleted, "1"),
        ]
        type_level = client.get("/Observation/_history", params={"_count": "100"})
        assert set(_versions(type_level)) == {(records.moved, "2"), (records.lab, "1"), (records.deleted, "DELETE"),
                                              (records.deleted, "1")}  # fmt: skip
        assert type_level.json()["total"] == 4
        for entry in type_level.json()["entry"]:
            if "resource" in entry:
                assert entry["resource"]["category"][0]["coding"][0]["code"] == "laboratory"


def test_vread_needs_the_version_itself_to_match(connect: Callable[..., httpx.Client], records: Records) -> None:
    with connect(LAB, role="patient", patient=records.patient) as client:
        assert client.get(f"/Observation/{records.moved}/_history/2").status_code == 200
        assert client.get(f"/Observation/{records.moved}/_history/1").status_code == 404
        assert client.get(f"/Observation/{records.moved}/_history/3").status_code == 404
        assert client.get(f"/Observation/{records.moved}").status_code == 404  # vital-signs now
        assert client.get(f"/Observation/{records.lab}/_history/1").status_code == 200


def test_history_without_a_query_is_unchanged(connect: Callable[..., httpx.Client], records: Records) -> None:
    with connect("patient/Observation.rs", role="patient", patient=records.patient) as client:
        assert [v for _id, v in _versions(client.get(f"/Observation/{records.moved}/_history"))] == ["3", "2", "1"]
        assert client.get(f"/Observation/{records.moved}/_history/1").status_code == 200


def test_everything_keeps_only_matching_resources(connect: Callable[..., httpx.Client], records: Records) -> None:
    with connect(f"{LAB} patient/Patient.rs", role="patient", patient=records.patient) as client:
        response = client.get(f"/Patient/{records.patient}/$everything")
        assert response.status_code == 200, response.text
        found = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in response.json()["entry"]}
        assert found == {("Patient", records.patient), ("Observation", records.lab)}
        assert response.json()["total"] == 2
    with connect("patient/Observation.rs patient/Patient.rs", role="patient", patient=records.patient) as client:
        response = client.get(f"/Patient/{records.patient}/$everything")
        found = {e["resource"]["id"] for e in response.json()["entry"]}
        assert {records.lab, records.vitals, records.moved} <= found


def test_export_keeps_only_matching_resources(connect: Callable[..., httpx.Client], records: Records) -> None:
    scopes = f"{LAB} patient/Patient.rs"
    with connect(scopes, role="patient", patient=records.patient, client_id="granular-exporter") as client:
        _poll, status = finished_export(client, "/Patient/$export")
        assert status.status_code == 200, status.text
        exported: dict[str, set[str]] = {}
        for output in status.json()["output"]:
            for line in client.get(output["url"]).text.splitlines():
                resource = json.loads(line)
                exported.setdefault(resource["resourceType"], set()).add(resource["id"])
        assert exported == {"Patient": {records.patient}, "Observation": {records.lab}}
