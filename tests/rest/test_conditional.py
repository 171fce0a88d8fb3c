"""Conditional create, update, patch and delete; conditional create is race-free."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.conftest import FHIR_JSON, new_patient


def _tagged(system: str, value: str = "1") -> dict:
    return new_patient(identifier=[{"system": system, "value": value}])


def test_if_none_exist_returns_the_existing_resource(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    headers = {"If-None-Exist": f"identifier={system}|1"}
    first = client.post("/Patient", json=_tagged(system), headers=headers)
    assert first.status_code == 201
    second = client.post("/Patient", json=_tagged(system), headers=headers)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]


def test_32_concurrent_conditional_creates_make_one_resource(client: httpx.Client, base_url: str) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    headers = {**FHIR_JSON, "If-None-Exist": f"identifier={system}|1"}

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=httpx.Limits(max_connections=32)) as http:
            return await asyncio.gather(
                *(http.post("/Patient", json=_tagged(system), headers=headers) for _ in range(32))
            )

    responses = asyncio.run(race())
    assert sorted({r.status_code for r in responses}) == [200, 201]
    assert [r.status_code for r in responses].count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    assert client.get("/Patient", params={"identifier": f"{system}|1"}).json()["total"] == 1


def test_if_none_exist_with_several_matches_is_412(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    client.post("/Patient", json=_tagged(system))
    client.post("/Patient", json=_tagged(system))
    response = client.post("/Patient", json=_tagged(system), headers={"If-None-Exist": f"identifier={system}|1"})
    assert response.status_code == 412


def test_conditional_update_creates_then_updates(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    criteria = {"identifier": f"{system}|1"}
    created = client.put("/Patient", params=criteria, json=_tagged(system))
    assert created.status_code == 201
    updated = client.put("/Patient", params=criteria, json={**_tagged(system), "gender": "other"})
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"
    assert client.put("/Patient", json=_tagged(system)).status_code == 400  # no criteria


def test_conditional_patch_and_delete(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    created = client.post("/Patient", json=_tagged(system)).json()
    operations = [{"op": "replace", "path": "/gender", "value": "male"}]
    patched = client.patch(
        "/Patient", params={"identifier": f"{system}|1"}, json=operations,
        headers={"Content-Type": "application/json-patch+json"},
    )  # fmt: skip
    assert patched.status_code == 200
    assert patched.json()["gender"] == "male"
    assert client.delete("/Patient", params={"identifier": f"{system}|1"}).status_code == 204
    assert client.get(f"/Patient/{created['id']}").status_code == 410


def test_conditional_criteria_must_be_known(client: httpx.Client) -> None:
    response = client.post("/Patient", json=new_patient(), headers={"If-None-Exist": "shoe-size=42"})
    assert response.status_code == 400
