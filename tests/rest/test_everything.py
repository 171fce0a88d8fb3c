"""Patient $everything over HTTP: the compartment, referenced resources, _since, _type, paging, errors.

Every test builds its own patients, so results never depend on what other tests wrote.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest


def _ids(bundle: dict, mode: str = "match") -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
            if e["search"]["mode"] == mode}  # fmt: skip


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    body: dict = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    return body


@pytest.fixture()
def record(client: httpx.Client) -> dict[str, str]:
    """A patient with a small record, the things it refers to, and a second patient's observation."""
    tag = f"urn:test:{uuid.uuid4().hex}"

    def post(resource: dict) -> str:
        response = client.post(f"/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text
        return f"{resource['resourceType']}/{response.json()['id']}"

    org = post({"resourceType": "Organization", "name": f"Clinic {tag}"})
    doctor = post({"resourceType": "Practitioner", "name": [{"family": "House"}]})
    drug = post({"resourceType": "Medication", "code": {"text": "aspirin"}})
    patient = post({"resourceType": "Patient", "identifier": [{"system": tag, "value": "p"}],
                    "managingOrganization": {"reference": org}})  # fmt: skip
    other = post({"resourceType": "Patient", "identifier": [{"system": tag, "value": "q"}]})
    encounter = post({"resourceType": "Encounter", "status": "in-progress",  # not finished: no charge captured
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                      "subject": {"reference": patient}, "serviceProvider": {"reference": org}})  # fmt: skip
    observation = post({"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
                        "subject": {"reference": patient}, "performer": [{"reference": doctor}]})  # fmt: skip
    condition = post({"resourceType": "Condition", "subject": {"reference": patient},
                      "encounter": {"reference": encounter}, "code": {"text": "flu"}})  # fmt: skip
    prescription = post({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                         "subject": {"reference": patient}, "medicationReference": {"reference": drug},
                         "requester": {"reference": doctor}})  # fmt: skip
    other_obs = post({"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
                      "subject": {"reference": other}, "performer": [{"reference": doctor}]})  # fmt: skip
    return {
        "org": org, "doctor": doctor, "drug": drug, "patient": patient, "other": other, "encounter": encounter,
        "observation": observation, "condition": condition, "prescription": prescription, "other_obs": other_obs,
    }  # fmt: skip


def _mine(record: dict[str, str]) -> set[str]:
    return {record[k] for k in ("patient", "encounter", "observation", "condition", "prescription")}


def test_everything_returns_compartment_and_referenced_resources(client: httpx.Client, record: dict) -> None:
    bundle = _ok(client.get(f"/{record['patient']}/$everything"))
    assert _ids(bundle) == _mine(record)
    assert bundle["total"] == 5
    assert _ids(bundle, "include") == {record["org"], record["doctor"], record["drug"]}
    assert bundle["link"][0]["url"].endswith(f"/{record['patient']}/$everything")
    # the compartment search route still works beside it
    assert _ok(client.get(f"/{record['patient']}/Observation"))["total"] == 1


def test_type_filter_applies_to_matches_and_references(client: httpx.Client, record: dict) -> None:
    bundle = _ok(client.get(f"/{record['patient']}/$everything", params={"_type": "Observation,Practitioner"}))
    assert _ids(bundle) == {record["observation"]}
    assert _ids(bundle, "include") == {record["doctor"]}
    repeated = _ok(client.get(f"/{record['patient']}/$everything?_type=Condition&_type=Encounter"))
    assert _ids(repeated) == {record["condition"], record["encounter"]}
    assert _ids(repeated, "include") == set()  # the Organization is not among the types asked for
    with_org = _ok(client.get(f"/{record['patient']}/$everything?_type=Condition,Encounter,Organization"))
    assert _ids(with_org) == {record["condition"], record["encounter"]}
    assert _ids(with_org, "include") == {record["org"]}


def test_since_keeps_only_resources_updated_since(client: httpx.Client, record: dict) -> None:
    time.sleep(0.01)
    condition = client.get(f"/{record['condition']}").json()
    condition["note"] = [{"text": "better"}]
    updated = client.put(f"/{record['condition']}", json=condition)
    assert updated.status_code == 200, updated.text
    since = updated.json()["meta"]["lastUpdated"]
    bundle = _ok(client.get(f"/{record['patient']}/$everything", params={"_since": since}))
    assert _ids(bundle) == {record["condition"]}
    assert _ids(bundle, "include") == set()
    assert bundle["total"] == 1


def test_paging_visits_everything_exactly_once(client: httpx.Client, record: dict) -> None:
    seen: list[str] = []
    url: str | None = f"/{record['patient']}/$everything?_count=2"
    pages = 0
    while url:
        bundle = _ok(client.get(url))
        assert bundle["total"] == 5
        assert len(bundle.get("entry", [])) > 0
        seen += [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
                 if e["search"]["mode"] == "match"]  # fmt: skip
        url = _next(bundle)
        if url:
            assert parse_qs(urlsplit(url).query)["_count"] == ["2"]
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(_mine(record))


def test_post_with_parameters(client: httpx.Client, record: dict) -> None:
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Observation"}]}
    bundle = _ok(client.post(f"/{record['patient']}/$everything", json=parameters))
    assert _ids(bundle) == {record["observation"]}
    assert _ids(_ok(client.post(f"/{record['patient']}/$everything"))) == _mine(record)


def test_type_level_for_named_patients(client: httpx.Client, record: dict) -> None:
    patient_id, other_id = record["patient"].split("/")[1], record["other"].split("/")[1]
    both = _ok(client.get("/Patient/$everything", params=[("patient", patient_id), ("patient", other_id)]))
    assert _ids(both) == _mine(record) | {record["other"], record["other_obs"]}
    by_id = _ok(client.get("/Patient/$everything", params={"_id": other_id}))
    assert _ids(by_id) == {record["other"], record["other_obs"]}
    assert _ids(by_id, "include") == {record["doctor"]}
    everyone = _ok(client.get("/Patient/$everything", params={"_count": "3"}))
    assert everyone["total"] >= 7
    assert len(everyone["entry"]) >= 3
    assert _next(everyone) is not None


def test_errors(client: httpx.Client, record: dict) -> None:
    assert client.get("/Patient/no-such-patient/$everything").status_code == 404
    assert client.get("/Patient/$everything", params={"patient": "no-such-patient"}).status_code == 404
    assert client.delete(f"/{record['other']}").status_code in (200, 204)
    assert client.get(f"/{record['other']}/$everything").status_code == 410
    bad_since = client.get(f"/{record['patient']}/$everything", params={"_since": "yesterday"})
    assert bad_since.status_code == 400
    assert bad_since.json()["issue"][0]["expression"] == ["_since"]
    bad_type = client.get(f"/{record['patient']}/$everything", params={"_type": "Observation,Unicorn"})
    assert bad_type.status_code == 400
    assert bad_type.json()["issue"][0]["expression"] == ["_type"]
    assert client.get(f"/{record['patient']}/$everything", params={"_count": "many"}).status_code == 400
    assert client.get(f"/{record['observation']}/$everything").status_code == 404
    assert client.get(f"/{record['patient']}/$everything", params={"start": "2020"}).status_code == 400
    lenient = _ok(client.get(f"/{record['patient']}/$everything", params={"start": "2020"},
                             headers={"Prefer": "handling=lenient"}))  # fmt: skip
    assert "start" not in lenient["link"][0]["url"]
    not_parameters = client.post(f"/{record['patient']}/$everything", json={"resourceType": "Patient"})
    assert not_parameters.status_code == 400
