"""Search across types at the base URL: GET [base]?_type=...&... (R4 search.html#all)."""

from __future__ import annotations

import uuid

import httpx
import pytest


def _refs(bundle: dict) -> list[str]:
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
            if e["search"]["mode"] == "match"]  # fmt: skip


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


@pytest.fixture()
def tagged(client: httpx.Client) -> dict[str, object]:
    """A patient, two observations and a practitioner carrying one unique tag."""
    system = f"urn:test:{uuid.uuid4().hex}"
    meta = {"tag": [{"system": system, "code": "x"}]}

    def post(resource: dict) -> str:
        response = client.post(f"/{resource['resourceType']}", json={**resource, "meta": meta})
        assert response.status_code == 201, response.text
        return f"{resource['resourceType']}/{response.json()['id']}"

    patient = post({"resourceType": "Patient", "gender": "female"})
    observations = [
        post(
            {"resourceType": "Observation", "status": "final", "code": {"text": t}, "subject": {"reference": patient}}
        )  # fmt: skip
        for t in ("a", "b")
    ]
    practitioner = post({"resourceType": "Practitioner", "name": [{"family": "Who"}]})
    return {"tag": f"{system}|x", "patient": patient, "observations": observations, "practitioner": practitioner}


def test_search_several_types_with_a_common_parameter(client: httpx.Client, tagged: dict) -> None:
    for path in ("", "/"):
        response = client.get(path, params={"_type": "Patient,Observation", "_tag": tagged["tag"]})
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["type"] == "searchset"
        assert bundle["total"] == 3
        assert sorted(_refs(bundle)) == sorted([tagged["patient"], *tagged["observations"]])
        assert _refs(bundle)[0] == tagged["patient"]  # types come in the order listed
        assert "_type=Patient%2CObservation" in bundle["link"][0]["url"]
    repeated = client.get("", params=[("_type", "Practitioner"), ("_type", "Patient"), ("_tag", tagged["tag"])])
    assert _refs(repeated.json()) == [tagged["practitioner"], tagged["patient"]]
    by_id = client.get("", params={"_type": "Patient,Practitioner", "_id": tagged["practitioner"].split("/")[1]})
    assert _refs(by_id.json()) == [tagged["practitioner"]]


def test_paging_across_types_visits_every_match_once(client: httpx.Client, tagged: dict) -> None:
    expected = sorted([tagged["patient"], *tagged["observations"], tagged["practitioner"]])
    for sort in (None, "-_lastUpdated"):
        params = {"_type": "Observation,Patient,Practitioner", "_tag": tagged["tag"], "_count": "1"}
        if sort:
            params["_sort"] = sort
        seen: list[str] = []
        bundle = client.get("", params=params).json()
        while True:
            assert bundle["total"] == 4
            assert len(bundle["entry"]) == 1
            seen += _refs(bundle)
            url = _next(bundle)
            if url is None:
                break
            bundle = client.get(url).json()
        assert sorted(seen) == expected


def test_include_and_summary_count(client: httpx.Client, tagged: dict) -> None:
    included = client.get("", params={"_type": "Observation,Practitioner", "_tag": tagged["tag"],
                                      "_include": "Observation:subject"}).json()  # fmt: skip
    modes = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["search"]["mode"] for e in included["entry"]}
    assert modes[tagged["patient"]] == "include"
    assert included["total"] == 3
    counted = client.get("", params={"_type": "Patient,Observation", "_tag": tagged["tag"], "_summary": "count"})
    assert counted.json()["total"] == 3
    assert "entry" not in counted.json()


def test_type_is_required_and_checked(client: httpx.Client, tagged: dict) -> None:
    missing = client.get("", params={"_tag": tagged["tag"]})
    assert missing.status_code == 400
    assert missing.json()["issue"][0]["expression"] == ["_type"]
    assert client.get("/").status_code == 400
    assert client.get("", params={"_type": "Patient,Unicorn"}).status_code == 400
    assert client.get("/metadata").json()["resourceType"] == "CapabilityStatement"


def test_parameters_not_common_to_all_types(client: httpx.Client, tagged: dict) -> None:
    params = {"_type": "Patient,Observation", "_tag": tagged["tag"], "gender": "male"}
    for headers in ({}, {"Prefer": "handling=strict"}):
        refused = client.get("", params=params, headers=headers)
        assert refused.status_code == 400
        assert "gender" in refused.json()["issue"][0]["diagnostics"]
    lenient = client.get("", params=params, headers={"Prefer": "handling=lenient"}).json()  # ignored for all types
    assert len(_refs(lenient)) == 3
    outcome = [e["resource"] for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert [issue["expression"] for issue in outcome[0]["issue"]] == [["gender"]]
    assert "gender" not in lenient["link"][0]["url"]
    sorted_by_birthdate = {"_type": "Patient,Observation", "_tag": tagged["tag"], "_sort": "birthdate"}
    assert client.get("", params=sorted_by_birthdate).status_code == 400  # Observation has no birthdate
    common = client.get("", params={"_type": "Patient,Observation", "_tag": tagged["tag"],
                                    "patient": tagged["patient"]}, headers={"Prefer": "handling=strict"})  # fmt: skip
    assert common.status_code == 400  # Patient has no `patient` parameter


def test_capability_statement_lists_system_search_and_operations(client: httpx.Client, base_url: str) -> None:
    rest = client.get("/metadata").json()["rest"][0]
    assert "search-system" in [i["code"] for i in rest["interaction"]]
    by_type = {r["type"]: r for r in rest["resource"]}
    reindex = {"name": "reindex", "definition": f"{base_url}/OperationDefinition/reindex"}
    assert by_type["Patient"]["operation"] == [
        {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
        {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"},
        reindex,
        {"name": "statement", "definition": f"{base_url}/OperationDefinition/Patient-statement"},  # billing's
    ]
    assert by_type["DocumentReference"]["operation"] == [
        {"name": "docref", "definition": "http://hl7.org/fhir/us/core/OperationDefinition/docref"},
        reindex,
    ]
