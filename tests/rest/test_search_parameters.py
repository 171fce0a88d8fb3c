"""Search by real parameters over HTTP: each type, chains, _has, includes, sorting and result shaping.

Every test tags its own resources with a unique identifier system, so results never depend
on what other tests wrote.
"""

from __future__ import annotations

import uuid

import httpx
import pytest


def _ids(bundle: dict, mode: str = "match") -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode}


@pytest.fixture()
def world(client: httpx.Client) -> dict[str, dict]:
    """Two patients of one organization, observations about them, and a unique tag system."""
    tag = f"urn:test:{uuid.uuid4().hex}"

    def post(resource: dict) -> dict:
        response = client.post(f"/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text
        created: dict = response.json()
        return created

    org = post({"resourceType": "Organization", "name": f"Clinic {tag}", "identifier": [{"system": tag, "value": "o"}]})
    alice = post({
        "resourceType": "Patient", "identifier": [{"system": tag, "value": "alice"}], "gender": "female",
        "name": [{"family": "Ångström", "given": ["Alice"]}], "birthDate": "1980-05-17",
        "managingOrganization": {"reference": f"Organization/{org['id']}"},
        "address": [{"city": "Boston", "postalCode": "02118"}],
    })  # fmt: skip
    bob = post({
        "resourceType": "Patient", "identifier": [{"system": tag, "value": "bob"}], "gender": "male",
        "name": [{"family": "Builder", "given": ["Bob"]}], "birthDate": "1990",
        "managingOrganization": {"reference": f"Organization/{org['id']}"},
    })  # fmt: skip

    def observation(patient: dict, code: str, value: float, unit: str, when: str) -> dict:
        return post({
            "resourceType": "Observation", "status": "final", "identifier": [{"system": tag, "value": code + when}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": "Glucose"},
            "subject": {"reference": f"Patient/{patient['id']}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        })  # fmt: skip

    return {
        "tag": {"system": tag},
        "org": org,
        "alice": alice,
        "bob": bob,
        "obs_alice": observation(alice, "2339-0", 100, "mg/dL", "2026-01-10T08:00:00Z"),
        "obs_bob": observation(bob, "2339-0", 0.5, "g/L", "2026-02-10T08:00:00Z"),
        "obs_bob_other": observation(bob, "8867-4", 70, "/min", "2026-02-11"),
    }


def _search(client: httpx.Client, path: str, world: dict, **params: str) -> dict:
    system = world["tag"]["system"]
    response = client.get(path, params={"identifier": f"{system}|", **params})
    assert response.status_code == 200, response.text
    bundle: dict = response.json()
    return bundle


def test_token_string_and_date(client: httpx.Client, world: dict) -> None:
    alice, bob = world["alice"]["id"], world["bob"]["id"]
    assert _ids(_search(client, "/Patient", world, gender="female")) == {alice}
    assert _ids(_search(client, "/Patient", world, family="angstr")) == {alice}  # accents and case folded
    assert _ids(_search(client, "/Patient", world, **{"family:exact": "Ångström"})) == {alice}
    assert _ids(_search(client, "/Patient", world, **{"family:exact": "ångström"})) == set()
    assert _ids(_search(client, "/Patient", world, birthdate="1980-05")) == {alice}
    assert _ids(_search(client, "/Patient", world, birthdate="ge1985")) == {bob}
    assert _ids(_search(client, "/Patient", world, **{"address-city": "bos"})) == {alice}
    assert _ids(_search(client, "/Patient", world, gender="male,female")) == {alice, bob}


def test_quantities_compare_across_units(client: httpx.Client, world: dict) -> None:
    found = _search(client, "/Observation", world, **{"value-quantity": "ge0.9|http://unitsofmeasure.org|g/L"})
    assert _ids(found) == {world["obs_alice"]["id"]}  # 100 mg/dL is 1 g/L


def test_reference_chain_and_has(client: httpx.Client, world: dict) -> None:
    alice, bob = world["alice"]["id"], world["bob"]["id"]
    by_subject = _search(client, "/Observation", world, subject=f"Patient/{alice}")
    assert _ids(by_subject) == {world["obs_alice"]["id"]}
    chained = _search(client, "/Observation", world, **{"subject:Patient.gender": "male"})
    assert _ids(chained) == {world["obs_bob"]["id"], world["obs_bob_other"]["id"]}
    deeper = _search(client, "/Observation", world, **{"subject:Patient.organization.name": "Clinic"})
    assert len(_ids(deeper)) == 3
    has = _search(client, "/Patient", world, **{"_has:Observation:subject:code": "8867-4"})
    assert _ids(has) == {bob}


def test_include_and_revinclude(client: httpx.Client, world: dict) -> None:
    bundle = _search(client, "/Observation", world, code="8867-4", _include="Observation:subject")
    assert _ids(bundle) == {world["obs_bob_other"]["id"]}
    assert _ids(bundle, "include") == {world["bob"]["id"]}
    reverse = _search(client, "/Patient", world, gender="female", _revinclude="Observation:subject")
    assert _ids(reverse, "include") == {world["obs_alice"]["id"]}
    iterate = _search(
        client, "/Observation", world, code="2339-0",
        _include="Observation:subject", **{"_include:iterate": "Patient:organization"},
    )  # fmt: skip
    assert world["org"]["id"] in _ids(iterate, "include")


def test_sort_and_offset_paging(client: httpx.Client, world: dict) -> None:
    ascending = _search(client, "/Patient", world, _sort="birthdate")
    assert [e["resource"]["id"] for e in ascending["entry"]] == [world["alice"]["id"], world["bob"]["id"]]
    descending = _search(client, "/Patient", world, _sort="-birthdate", _count="1")
    assert [e["resource"]["id"] for e in descending["entry"]] == [world["bob"]["id"]]
    links = {link["relation"]: link["url"] for link in descending["link"]}
    assert "previous" not in links
    second = client.get(links["next"]).json()
    assert [e["resource"]["id"] for e in second["entry"]] == [world["alice"]["id"]]
    assert links["last"] == {link["relation"]: link["url"] for link in second["link"]}["self"]
    back = {link["relation"]: link["url"] for link in second["link"]}["previous"]
    assert [e["resource"]["id"] for e in client.get(back).json()["entry"]] == [world["bob"]["id"]]


def test_compartment_search(client: httpx.Client, world: dict) -> None:
    response = client.get(f"/Patient/{world['bob']['id']}/Observation")
    assert response.status_code == 200
    assert _ids(response.json()) == {world["obs_bob"]["id"], world["obs_bob_other"]["id"]}
    assert client.get(f"/Patient/{world['bob']['id']}/Organization").status_code == 404


def test_elements_and_summary(client: httpx.Client, world: dict) -> None:
    bundle = _search(client, "/Patient", world, gender="female", _elements="gender")
    resource = bundle["entry"][0]["resource"]
    assert resource["gender"] == "female"
    assert "name" not in resource
    assert resource["meta"]["tag"][-1]["code"] == "SUBSETTED"
    summary = _search(client, "/Patient", world, gender="female", _summary="true")["entry"][0]["resource"]
    assert "name" in summary and "birthDate" in summary


def test_missing_modifier_and_bad_values(client: httpx.Client, world: dict) -> None:
    no_address = _search(client, "/Patient", world, **{"address-city:missing": "true"})
    assert _ids(no_address) == {world["bob"]["id"]}
    bad = client.get("/Observation", params={"date": "xx2020"})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["date"]
    ambiguous = client.get("/Observation", params={"subject.name": "x"})
    assert ambiguous.status_code == 400


def test_in_and_not_in_with_a_stored_value_set(client: httpx.Client, world: dict) -> None:
    url = f"http://example.org/ValueSet/glucose-{uuid.uuid4().hex}"
    value_set = {
        "resourceType": "ValueSet",
        "url": url,
        "status": "active",
        "compose": {"include": [{"system": "http://loinc.org", "concept": [{"code": "2339-0"}]}]},
    }
    assert client.post("/ValueSet", json=value_set).status_code == 201
    inside = _search(client, "/Observation", world, **{"code:in": url})
    assert _ids(inside) == {world["obs_alice"]["id"], world["obs_bob"]["id"]}
    outside = _search(client, "/Observation", world, **{"code:not-in": url})
    assert _ids(outside) == {world["obs_bob_other"]["id"]}
    unknown = client.get("/Observation", params={"code:in": "http://example.org/ValueSet/none"})
    assert unknown.status_code == 400
    assert unknown.json()["issue"][0]["expression"] == ["code:in"]


def test_below_and_above_in_a_stored_code_system(client: httpx.Client) -> None:
    system = f"http://example.org/CodeSystem/{uuid.uuid4().hex}"
    code_system = {
        "resourceType": "CodeSystem", "url": system, "status": "active", "content": "complete",
        "concept": [{"code": "lab", "concept": [{"code": "chem", "concept": [{"code": "glucose"}]}, {"code": "hem"}]}],
    }  # fmt: skip
    assert client.post("/CodeSystem", json=code_system).status_code == 201
    made = {}
    for code in ("lab", "chem", "glucose", "hem"):
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": system, "code": code}]},
        }
        made[code] = client.post("/Observation", json=observation).json()["id"]

    def found(modifier: str, code: str) -> set[str]:
        bundle = client.get("/Observation", params={f"code:{modifier}": f"{system}|{code}"}).json()
        return {e["resource"]["id"] for e in bundle.get("entry", [])}

    assert found("below", "chem") == {made["chem"], made["glucose"]}
    assert found("below", "lab") == set(made.values())
    assert found("above", "glucose") == {made["lab"], made["chem"], made["glucose"]}
    assert client.get("/Observation", params={"code:below": "http://nowhere.example|x"}).status_code == 400
