"""history at instance, type and system level: order, _since, _at, _count and paging."""

from __future__ import annotations

import time

import httpx

from tests.conftest import new_patient


def _versions(bundle: dict) -> list[str]:
    return [e["response"]["etag"] for e in bundle.get("entry", [])]


def test_instance_history_newest_first(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    for gender in ("male", "other"):
        client.put(path, json={**patient, "gender": gender})
    bundle = client.get(f"{path}/_history").json()
    assert bundle["type"] == "history"
    assert bundle["total"] == 3
    assert _versions(bundle) == ['W/"3"', 'W/"2"', 'W/"1"']
    assert bundle["entry"][0]["resource"]["gender"] == "other"
    assert bundle["entry"][2]["request"] == {"method": "POST", "url": "Patient"}
    assert bundle["entry"][0]["request"] == {"method": "PUT", "url": f"Patient/{patient['id']}"}


def test_history_paging_follows_next_links_without_repeats(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    for i in range(6):
        client.put(path, json={**patient, "birthDate": f"200{i}-01-01"})
    seen: list[str] = []
    url: str | None = f"{path}/_history?_count=3"
    pages = 0
    while url:
        bundle = client.get(url).json()
        seen += _versions(bundle)
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        pages += 1
    assert pages == 3
    assert seen == [f'W/"{v}"' for v in range(7, 0, -1)]


def test_since_and_at(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    first_updated = patient["meta"]["lastUpdated"]
    time.sleep(0.02)
    second = client.put(path, json={**patient, "gender": "male"}).json()
    since = client.get(f"{path}/_history", params={"_since": second["meta"]["lastUpdated"]}).json()
    assert _versions(since) == ['W/"2"']
    at_first = client.get(f"{path}/_history", params={"_at": first_updated}).json()
    assert _versions(at_first) == ['W/"1"']
    at_now = client.get(f"{path}/_history", params={"_at": second["meta"]["lastUpdated"]}).json()
    assert _versions(at_now) == ['W/"2"']


def test_type_and_system_history(client: httpx.Client) -> None:
    created = client.post("/Organization", json={"resourceType": "Organization", "name": "Type history clinic"}).json()
    org_history = client.get("/Organization/_history", params={"_since": created["meta"]["lastUpdated"]}).json()
    assert created["id"] in {e["resource"]["id"] for e in org_history["entry"]}
    assert {e["resource"]["resourceType"] for e in org_history["entry"]} == {"Organization"}
    patient = client.post("/Patient", json=new_patient()).json()
    system = client.get("/_history", params={"_since": created["meta"]["lastUpdated"], "_count": 50}).json()
    types = {e["resource"]["resourceType"] for e in system["entry"] if "resource" in e}
    assert {"Organization", "Patient"} <= types
    assert system["entry"][0]["resource"]["id"] == patient["id"]


def test_bad_history_parameters_are_400(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}/_history"
    assert client.get(path, params={"_since": "yesterday"}).status_code == 400
    assert client.get(path, params={"_count": "-1"}).status_code == 400
    assert client.get(path, params={"_cursor": "!!!"}).status_code == 400
    assert client.get("/Nonsense/_history").status_code == 404


def test_unknown_history_parameters_are_refused_unless_lenient(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}/_history"
    refused = client.get(path, params={"_snice": "2020"})
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["_snice"]
    lenient = client.get(path, params={"_snice": "2020"}, headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
    assert lenient.json()["type"] == "history"
