"""Optimistic concurrency: concurrent updates neither lose nor duplicate a version."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import FHIR_JSON


async def _update_all(base_url: str, path: str, bodies: list[dict], headers: dict[str, str]) -> list[int]:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base_url, headers=FHIR_JSON, timeout=60, limits=limits) as http:
        responses = await asyncio.gather(*(http.put(path, json=body, headers=headers) for body in bodies))
    return [r.status_code for r in responses]


def test_50_updates_with_the_same_if_match_one_wins(client: httpx.Client, base_url: str, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    bodies = [{**patient, "birthDate": f"19{i:02d}-01-01"} for i in range(50)]
    statuses = asyncio.run(_update_all(base_url, path, bodies, {"If-Match": 'W/"1"'}))
    assert statuses.count(200) == 1
    assert statuses.count(412) == 49
    history = client.get(f"{path}/_history").json()
    assert history["total"] == 2


def test_50_updates_without_if_match_make_versions_2_to_51(client: httpx.Client, base_url: str, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    bodies = [{**patient, "birthDate": f"19{i:02d}-01-01"} for i in range(50)]
    statuses = asyncio.run(_update_all(base_url, path, bodies, {}))
    assert statuses == [200] * 50
    history = client.get(f"{path}/_history", params={"_count": 100}).json()
    versions = sorted(int(e["resource"]["meta"]["versionId"]) for e in history["entry"])
    assert versions == list(range(1, 52))
    written = {e["resource"]["birthDate"] for e in history["entry"] if e["resource"]["meta"]["versionId"] != "1"}
    assert written == {body["birthDate"] for body in bodies}  # no lost write
    assert client.get(path).json()["meta"]["versionId"] == "51"
