"""Granular (v2 query) scopes grant writes only on resources matching their query, before and after.

The resources written here belong to a patient of their own, so the shared `world` stays as other tests expect.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.auth_server import CATEGORY, World, outcome_text

CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
VITALS_CU = f"patient/Observation.cu?category={CATEGORY}|vital-signs"
PROBLEMS_CUD = f"user/Condition.cud?category={CONDITION_CATEGORY}|problem-list-item"


@pytest.fixture(scope="module")
def own(world: World) -> World:
    """The world with a fresh patient as both "a" and "b"."""
    response = world.admin.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Granular"}]})
    assert response.status_code == 201, response.text
    patient = response.json()["id"]
    return World(**{**world.__dict__, "patient": {"a": patient, "b": patient, "other": world.patient["b"]}})


def _observation(world: World, category: str, marker: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:test:granular", "value": marker}],
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"text": marker},
        "subject": {"reference": f"Patient/{world.patient['a']}"},
    }


def _condition(world: World, category: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": category}]}],
        "code": {"text": category},
        "subject": {"reference": f"Patient/{world.patient['b']}"},
    }


def _marker() -> str:
    return uuid.uuid4().hex


def _count(world: World, marker: str) -> int:
    """How many Observations carry `marker` (as the administrator sees them)."""
    response = world.admin.get("/Observation", params={"identifier": f"urn:test:granular|{marker}"})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def _stored(world: World, reference: str) -> dict[str, Any]:
    response = world.admin.get(f"/{reference}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _create(world: World, resource: dict[str, Any]) -> dict[str, Any]:
    response = world.admin.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _category(resource: dict[str, Any]) -> str:
    return str(resource["category"][0]["coding"][0]["code"])


def test_create_only_inside_the_query(connect: Callable[..., httpx.Client], own: World) -> None:
    world = own
    with connect(VITALS_CU, role="physician", patient=world.patient["a"]) as client:
        inside = _marker()
        assert client.post("/Observation", json=_observation(world, "vital-signs", inside)).status_code == 201
        assert _count(world, inside) == 1
        outside = _marker()
        response = client.post("/Observation", json=_observation(world, "laboratory", outside))
        assert response.status_code == 403
        assert "query" in outcome_text(response) and "vital-signs" in outcome_text(response)
        assert _count(world, outside) == 0
        other = {
            **_observation(world, "vital-signs", _marker()),
            "subject": {"reference": f"Patient/{world.patient['other']}"},
        }
        response = client.post("/Observation", json=other)
        assert response.status_code == 403 and "compartment" in outcome_text(response)


def test_update_and_patch_keep_the_resource_inside(connect: Callable[..., httpx.Client], own: World) -> None:
    world = own
    vitals = _create(world, _observation(world, "vital-signs", _marker()))
    lab = _create(world, _observation(world, "laboratory", _marker()))
    with connect(VITALS_CU, role="physician", patient=world.patient["a"]) as client:
        changed = {**vitals, "status": "amended"}
        response = client.put(f"/Observation/{vitals['id']}", json=changed)
        assert response.status_code == 200, response.text
        moved = {**changed, "category": lab["category"]}  # out of the allowed set
        response = client.put(f"/Observation/{vitals['id']}", json=moved)
        assert response.status_code == 403 and "new content" in outcome_text(response)
        stored = _stored(world, f"Observation/{vitals['id']}")
        assert _category(stored) == "vital-signs" and stored["meta"]["versionId"] == "2"
        into = {**lab, "category": vitals["category"]}  # into the allowed set, from outside it
        response = client.put(f"/Observation/{lab['id']}", json=into)
        assert response.status_code == 403 and "as stored" in outcome_text(response)
        assert _category(_stored(world, f"Observation/{lab['id']}")) == "laboratory"
        patch = [{"op": "replace", "path": "/category/0/coding/0/code", "value": "laboratory"}]
        headers = {"Content-Type": "application/json-patch+json"}
        response = client.patch(f"/Observation/{vitals['id']}", content=json.dumps(patch), headers=headers)
        assert response.status_code == 403
        patch = [{"op": "replace", "path": "/status", "value": "corrected"}]
        response = client.patch(f"/Observation/{vitals['id']}", content=json.dumps(patch), headers=headers)
        assert response.status_code == 200, response.text
        patch = [{"op": "replace", "path": "/status", "value": "corrected"}]
        assert client.patch(f"/Observation/{lab['id']}", content=json.dumps(patch), headers=headers).status_code == 403
        assert _stored(world, f"Observation/{lab['id']}")["meta"]["versionId"] == "1"


def test_delete_only_inside_the_query(connect: Callable[..., httpx.Client], own: World) -> None:
    world = own
    problem = _create(world, _condition(world, "problem-list-item"))
    diagnosis = _create(world, _condition(world, "encounter-diagnosis"))
    with connect(PROBLEMS_CUD, role="physician") as client:
        response = client.delete(f"/Condition/{diagnosis['id']}")
        assert response.status_code == 403 and "as stored" in outcome_text(response)
        assert world.admin.get(f"/Condition/{diagnosis['id']}").status_code == 200
        assert client.delete(f"/Condition/{problem['id']}").status_code in (200, 204)
        assert world.admin.get(f"/Condition/{problem['id']}").status_code == 410
        assert client.post("/Condition", json=_condition(world, "problem-list-item")).status_code == 201
        assert client.post("/Condition", json=_condition(world, "encounter-diagnosis")).status_code == 403


def test_transaction_with_one_entry_outside_writes_nothing(connect: Callable[..., httpx.Client], own: World) -> None:
    world = own
    vitals = _create(world, _observation(world, "vital-signs", _marker()))
    good, bad = _marker(), _marker()
    entries = [
        {"resource": _observation(world, "vital-signs", good), "request": {"method": "POST", "url": "Observation"}},
        {"resource": {**vitals, "status": "amended"},
         "request": {"method": "PUT", "url": f"Observation/{vitals['id']}"}},
        {"resource": _observation(world, "laboratory", bad), "request": {"method": "POST", "url": "Observation"}},
    ]  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    with connect(VITALS_CU, role="physician", patient=world.patient["a"]) as client:
        response = client.post("/", json=bundle)
        assert response.status_code == 403, response.text
        assert "entry 2" in outcome_text(response)
        assert _count(world, good) == 0 and _count(world, bad) == 0
        assert _stored(world, f"Observation/{vitals['id']}")["meta"]["versionId"] == "1"
        bundle["entry"] = entries[:2]
        response = client.post("/", json=bundle)
        assert response.status_code == 200, response.text
        assert _count(world, good) == 1
        assert _stored(world, f"Observation/{vitals['id']}")["status"] == "amended"


def test_batch_checks_each_entry_on_its_own(connect: Callable[..., httpx.Client], own: World) -> None:
    world = own
    good, bad = _marker(), _marker()
    entries = [
        {"resource": _observation(world, "vital-signs", good), "request": {"method": "POST", "url": "Observation"}},
        {"resource": _observation(world, "laboratory", bad), "request": {"method": "POST", "url": "Observation"}},
    ]
    with connect(VITALS_CU, role="physician", patient=world.patient["a"]) as client:
        response = client.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
        assert response.status_code == 200, response.text
        statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
        assert statuses[0].startswith("201") and statuses[1].startswith("403")
        assert _count(world, good) == 1 and _count(world, bad) == 0


def test_conditional_writes(connect: Callable[..., httpx.Client], own: World) -> None:
    world = own
    with connect(VITALS_CU, role="physician", patient=world.patient["a"]) as client:
        marker = _marker()
        headers = {"If-None-Exist": f"identifier=urn:test:granular|{marker}"}
        assert (
            client.post("/Observation", json=_observation(world, "vital-signs", marker), headers=headers).status_code
            == 201
        )
        assert (
            client.post("/Observation", json=_observation(world, "vital-signs", marker), headers=headers).status_code
            == 200
        )
        other = _marker()
        headers = {"If-None-Exist": f"identifier=urn:test:granular|{other}"}
        response = client.post("/Observation", json=_observation(world, "laboratory", other), headers=headers)
        assert response.status_code == 403 and _count(world, other) == 0
        params = {"identifier": f"urn:test:granular|{marker}"}
        moved = _observation(world, "laboratory", marker)
        assert client.put("/Observation", params=params, json=moved).status_code == 403
        kept = {**_observation(world, "vital-signs", marker), "status": "amended"}
        assert client.put("/Observation", params=params, json=kept).status_code == 200
        fresh = _marker()
        params = {"identifier": f"urn:test:granular|{fresh}"}
        assert (
            client.put("/Observation", params=params, json=_observation(world, "laboratory", fresh)).status_code == 403
        )
        assert _count(world, fresh) == 0


def test_scopes_without_a_query_write_as_before(connect: Callable[..., httpx.Client], own: World) -> None:
    world = own
    with connect("patient/Observation.write", role="physician", patient=world.patient["a"]) as client:
        assert client.post("/Observation", json=_observation(world, "laboratory", _marker())).status_code == 201
    with connect("user/Observation.cu", role="physician") as client:
        assert client.post("/Observation", json=_observation(world, "laboratory", _marker())).status_code == 201
