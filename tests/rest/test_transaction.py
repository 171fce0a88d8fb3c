"""Transaction Bundles: all or nothing, references rewritten, conditional entries; batch entries stand alone."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import new_patient


def _patient_entry(full_url: str, system: str, value: str = "1") -> dict:
    return {
        "fullUrl": full_url,
        "resource": new_patient(identifier=[{"system": system, "value": value}]),
        "request": {"method": "POST", "url": "Patient"},
    }


def _observation(subject: str, **extra: object) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": subject},
        **extra,
    }


def _post(resource: dict, full_url: str | None = None, **request: str) -> dict:
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"], **request}}
    return {"fullUrl": full_url, **entry} if full_url else entry


def _transaction(*entries: dict, kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _find(client: httpx.Client, system: str) -> list[dict]:
    bundle = client.get("/Patient", params={"identifier": f"{system}|"}).json()
    return [e["resource"] for e in bundle.get("entry", [])]


def test_transaction_creates_and_rewrites_references(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    observation = _observation(
        patient_url,
        extension=[{"url": "urn:test:about", "valueReference": {"reference": patient_url}}],
        text={
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><a href="{patient_url}">p</a></div>',
        },
    )
    bundle = _transaction(
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": observation,
            "request": {"method": "POST", "url": "Observation"},
        },
        _patient_entry(patient_url, system),
    )
    response = client.post("", json=bundle, headers={"Prefer": "return=representation"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created", "201 Created"]
    patient_id = _find(client, system)[0]["id"]
    stored = client.get(result["entry"][0]["response"]["location"].split("/_history")[0]).json()
    assert stored["subject"]["reference"] == f"Patient/{patient_id}"
    assert stored["extension"][0]["valueReference"]["reference"] == f"Patient/{patient_id}"
    assert patient_url in stored["text"]["div"]  # narrative left as it is
    assert result["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"


def test_a_failing_entry_rolls_everything_back(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    bad_url = f"urn:uuid:{uuid.uuid4()}"
    bundle = _transaction(
        _patient_entry(f"urn:uuid:{uuid.uuid4()}", system),
        {"fullUrl": bad_url, "resource": {"resourceType": "Observation", "code": {"text": "x"}},
         "request": {"method": "POST", "url": "Observation"}},
    )  # fmt: skip
    response = client.post("", json=bundle)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert "entry 1" in issue["diagnostics"] and bad_url in issue["diagnostics"]
    assert _find(client, system) == []


def test_conditional_references_and_if_none_exist(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    existing = client.post("/Patient", json=new_patient(identifier=[{"system": system, "value": "1"}])).json()
    conditional = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": f"Patient?identifier={system}|1"}}  # fmt: skip
    created_url = f"urn:uuid:{uuid.uuid4()}"
    bundle = _transaction(
        _post(conditional),
        _post(
            new_patient(identifier=[{"system": system, "value": "1"}]),
            created_url,
            ifNoneExist=f"identifier={system}|1",
        ),
        _post(_observation(created_url)),
    )
    result = client.post("", json=bundle, headers={"Prefer": "return=representation"}).json()
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created", "200 OK", "201 Created"]
    assert result["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"
    assert result["entry"][2]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"
    assert len(_find(client, system)) == 1

    missing = _transaction(_post(_observation(f"Patient?identifier={system}|nobody")))
    assert client.post("", json=missing).status_code == 412


def test_if_match_and_processing_order(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    patient = client.post("/Patient", json=new_patient(identifier=[{"system": system, "value": "1"}])).json()
    stale = _transaction(
        {
            "resource": {**patient, "gender": "male"},
            "request": {"method": "PUT", "url": f"Patient/{patient['id']}", "ifMatch": 'W/"9"'},
        },
        _patient_entry(f"urn:uuid:{uuid.uuid4()}", system, "2"),
    )  # fmt: skip
    assert client.post("", json=stale).status_code == 412
    assert len(_find(client, system)) == 1
    ordered = _transaction(
        {"request": {"method": "GET", "url": f"Patient?identifier={system}|"}},
        {"request": {"method": "DELETE", "url": f"Patient/{patient['id']}"}},
        _patient_entry(f"urn:uuid:{uuid.uuid4()}", system, "3"),
    )
    result = client.post("", json=ordered).json()
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["200 OK", "204 No Content", "201 Created"]
    searched = result["entry"][0]["resource"]  # GET runs after the writes
    assert [e["resource"]["identifier"][0]["value"] for e in searched["entry"]] == ["3"]


def test_transaction_of_400_entries(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    entries = []
    for i in range(200):
        patient_url = f"urn:uuid:{uuid.uuid4()}"
        entries.append(_patient_entry(patient_url, system, str(i)))
        entries.append({"resource": _observation(patient_url), "request": {"method": "POST", "url": "Observation"}})
    response = client.post("", json=_transaction(*entries))
    assert response.status_code == 200
    assert client.get("/Patient", params={"identifier": f"{system}|", "_summary": "count"}).json()["total"] == 200


def test_batch_entries_are_independent(client: httpx.Client) -> None:
    system = f"urn:test:{uuid.uuid4().hex}"
    bundle = _transaction(
        _patient_entry(f"urn:uuid:{uuid.uuid4()}", system),
        {"resource": {"resourceType": "Patient", "gender": "robot"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
        {"request": {"method": "GET", "url": f"Patient?identifier={system}|"}},
        {"request": {"method": "FETCH", "url": "Patient"}},
        {"request": {"method": "GET", "url": f"Patient?identifer={system}|"}},
        kind="batch",
    )
    result = client.post("", json=bundle).json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "400", "404", "200 OK", "400", "400"]
    assert result["entry"][1]["response"]["outcome"]["issue"][0]["code"] == "code-invalid"
    misspelt = result["entry"][5]["response"]["outcome"]["issue"][0]  # never a search for every patient
    assert (misspelt["code"], misspelt["expression"]) == ("not-supported", ["identifer"])
    assert len(result["entry"][3]["resource"]["entry"]) == 1


def test_not_a_batch_or_transaction(client: httpx.Client) -> None:
    assert client.post("", json={"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert client.post("", json={"resourceType": "Patient"}).status_code == 400
