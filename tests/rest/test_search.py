"""Type-level search with _id, _lastUpdated and paging: the searchset Bundle shape."""

from __future__ import annotations

import httpx

from tests.conftest import new_patient


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _make_practitioners(client: httpx.Client, count: int) -> list[dict]:
    return [
        client.post("/Practitioner", json={"resourceType": "Practitioner", "name": [{"family": f"P{i}"}]}).json()
        for i in range(count)
    ]


def test_search_by_id_returns_searchset(client: httpx.Client, base_url: str) -> None:
    first, second = (client.post("/Patient", json=new_patient()).json() for _ in range(2))
    bundle = client.get("/Patient", params={"_id": f"{first['id']},{second['id']}"}).json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 2
    assert sorted(_ids(bundle)) == sorted([first["id"], second["id"]])
    entry = bundle["entry"][0]
    assert entry["search"] == {"mode": "match"}
    assert entry["fullUrl"] == f"{base_url}/Patient/{entry['resource']['id']}"
    assert bundle["link"][0]["relation"] == "self"


def test_deleted_resources_are_not_found_by_search(client: httpx.Client, patient: dict) -> None:
    client.delete(f"/Patient/{patient['id']}")
    assert client.get("/Patient", params={"_id": patient["id"]}).json()["total"] == 0


def test_last_updated_prefixes(client: httpx.Client) -> None:
    made = _make_practitioners(client, 3)
    ids = ",".join(p["id"] for p in made)
    middle = made[1]["meta"]["lastUpdated"]
    found = {
        prefix: _ids(client.get("/Practitioner", params={"_id": ids, "_lastUpdated": f"{prefix}{middle}"}).json())
        for prefix in ("eq", "ge", "gt", "le", "lt", "ne")
    }
    p0, p1, p2 = (p["id"] for p in made)
    assert found["eq"] == [p1]
    assert sorted(found["ge"]) == sorted([p1, p2])
    assert found["gt"] == [p2]
    assert sorted(found["le"]) == sorted([p0, p1])
    assert found["lt"] == [p0]
    assert sorted(found["ne"]) == sorted([p0, p2])
    day = middle[:10]
    assert len(_ids(client.get("/Practitioner", params={"_id": ids, "_lastUpdated": day}).json())) == 3


def test_paging_with_next_links_visits_every_match_once(client: httpx.Client) -> None:
    made = _make_practitioners(client, 7)
    ids = ",".join(p["id"] for p in made)
    seen: list[str] = []
    url: str | None = f"/Practitioner?_id={ids}&_count=3"
    while url:
        bundle = client.get(url).json()
        assert bundle["total"] == 7
        seen += _ids(bundle)
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert sorted(seen) == sorted(p["id"] for p in made)
    assert len(seen) == 7


def test_summary_count_and_total_none(client: httpx.Client, patient: dict) -> None:
    counted = client.get("/Patient", params={"_id": patient["id"], "_summary": "count"}).json()
    assert counted["total"] == 1
    assert "entry" not in counted
    no_total = client.get("/Patient", params={"_id": patient["id"], "_total": "none"}).json()
    assert "total" not in no_total
    assert _ids(no_total) == [patient["id"]]


def test_post_search_equals_get(client: httpx.Client, patient: dict) -> None:
    posted = client.post(
        "/Patient/_search",
        content=f"_id={patient['id']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()
    assert _ids(posted) == [patient["id"]]


def test_unknown_parameters_refused_unless_lenient(client: httpx.Client, patient: dict) -> None:
    params = {"_id": patient["id"], "shoe-size": "42"}
    for headers in ({}, {"Prefer": "handling=strict"}):
        refused = client.get("/Patient", params=params, headers=headers)
        assert refused.status_code == 400
        assert [issue["expression"] for issue in refused.json()["issue"]] == [["shoe-size"]]
    lenient = client.get("/Patient", params=params, headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
    assert "shoe-size" not in lenient.json()["link"][0]["url"]
    assert _ids(lenient.json()) == [patient["id"]]


def test_malformed_values_are_400_naming_the_parameter(client: httpx.Client) -> None:
    bad_date = client.get("/Patient", params={"_lastUpdated": "ge2020-13-45"})
    assert bad_date.status_code == 400
    assert bad_date.json()["issue"][0]["expression"] == ["_lastUpdated"]
    assert client.get("/Patient", params={"_count": "lots"}).status_code == 400
    assert client.get("/Unicorn").status_code == 404
