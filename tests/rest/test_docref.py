"""US Core DocumentReference $docref over HTTP: period/date ranges, type, the most recent, paging, errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

LOINC = "http://loinc.org"
CCD, NOTE = "34133-9", "11506-3"


def _ids(bundle: dict, mode: str = "match") -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode}


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def _docref(client: httpx.Client, **params: str | list[str]) -> dict:
    response = client.get("/DocumentReference/$docref", params=params)
    assert response.status_code == 200, response.text
    bundle: dict = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


@pytest.fixture()
def docs(client: httpx.Client) -> dict[str, str]:
    """A patient with three documents (two with a care period, one with only a date) and another patient's."""

    def post(resource: dict) -> str:
        response = client.post(f"/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text
        created: str = response.json()["id"]
        return created

    tag = uuid.uuid4().hex
    patient = post({"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": tag}]})
    other = post({"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": tag + "-q"}]})

    def document(subject: str, code: str, date: str, period: tuple[str, str] | None = None) -> str:
        resource: dict = {
            "resourceType": "DocumentReference", "status": "current", "subject": {"reference": f"Patient/{subject}"},
            "type": {"coding": [{"system": LOINC, "code": code}]}, "date": date,
            "content": [{"attachment": {"contentType": "text/plain", "data": "aGVsbG8="}}],
        }  # fmt: skip
        if period:
            resource["context"] = {"period": {"start": period[0], "end": period[1]}}
        return post(resource)

    return {
        "patient": patient,
        "other": other,
        "ccd_jan": document(patient, CCD, "2026-01-05T10:00:00Z", ("2026-01-01", "2026-01-03")),
        "ccd_feb": document(patient, CCD, "2026-02-03T10:00:00Z", ("2026-02-01", "2026-02-02")),
        "note_mar": document(patient, NOTE, "2026-03-10T10:00:00Z"),
        "other_doc": document(other, CCD, "2026-03-20T10:00:00Z", ("2026-03-01", "2026-03-02")),
    }


def test_without_dates_returns_the_most_recent(client: httpx.Client, docs: dict) -> None:
    assert _ids(_docref(client, patient=docs["patient"])) == {docs["note_mar"]}
    latest_ccd = _docref(client, patient=docs["patient"], type=f"{LOINC}|{CCD}")
    assert _ids(latest_ccd) == {docs["ccd_feb"]}
    assert latest_ccd["total"] == 1
    assert _ids(_docref(client, patient=f"Patient/{docs['other']}")) == {docs["other_doc"]}


def test_period_overlap_and_date_fallback(client: httpx.Client, docs: dict) -> None:
    patient = docs["patient"]
    everything = {docs["ccd_jan"], docs["ccd_feb"], docs["note_mar"]}
    assert _ids(_docref(client, patient=patient, start="2026-01-02T00:00:00Z", end="2026-01-31")) == {docs["ccd_jan"]}
    assert _ids(_docref(client, patient=patient, start="2025-12-01")) == everything
    assert _ids(_docref(client, patient=patient, end="2026-01-31")) == {docs["ccd_jan"]}
    assert _ids(_docref(client, patient=patient, start="2026-01-03", end="2026-01-03")) == {docs["ccd_jan"]}
    assert _ids(_docref(client, patient=patient, start="2026-03-01", end="2026-03-31")) == {docs["note_mar"]}
    assert _ids(_docref(client, patient=patient, start="2026-04-01")) == set()
    by_type = _docref(client, patient=patient, start="2026-01-01", type=f"{LOINC}|{CCD}")
    assert _ids(by_type) == {docs["ccd_jan"], docs["ccd_feb"]}
    two_types = _docref(client, patient=patient, start="2026-01-01", type=[f"{LOINC}|{CCD}", f"{LOINC}|{NOTE}"])
    assert _ids(two_types) == everything
    assert two_types["total"] == 3


def test_paging_visits_every_document_once(client: httpx.Client, docs: dict) -> None:
    seen: list[str] = []
    url: str | None = f"/DocumentReference/$docref?patient={docs['patient']}&start=2000&_count=1"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["total"] == 3
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = _next(bundle)
    assert sorted(seen) == sorted([docs["ccd_jan"], docs["ccd_feb"], docs["note_mar"]])


def test_on_demand_and_post(client: httpx.Client, docs: dict) -> None:
    assert _ids(_docref(client, patient=docs["patient"], **{"on-demand": "false"})) == {docs["note_mar"]}
    on_demand = _docref(client, patient=docs["patient"], **{"on-demand": "true"})
    assert _ids(on_demand) == {docs["note_mar"]}
    outcome = [e["resource"] for e in on_demand["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and outcome[0]["issue"][0]["code"] == "not-supported"
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueId": docs["patient"]},
        {"name": "start", "valueDateTime": "2026-01-01T00:00:00Z"},
        {"name": "type", "valueCoding": {"system": LOINC, "code": NOTE}},
    ]}  # fmt: skip
    posted = client.post("/DocumentReference/$docref", json=parameters)
    assert posted.status_code == 200, posted.text
    assert _ids(posted.json()) == {docs["note_mar"]}


def test_unknown_patient_gives_an_empty_bundle(client: httpx.Client) -> None:
    bundle = _docref(client, patient="no-such-patient", start="2000")
    assert bundle["total"] == 0
    assert "entry" not in bundle
    assert _docref(client, patient="no-such-patient").get("entry") is None


def test_bad_requests(client: httpx.Client, docs: dict) -> None:
    def status(**params: str) -> int:
        return client.get("/DocumentReference/$docref", params=params).status_code

    missing = client.get("/DocumentReference/$docref")
    assert missing.status_code == 400
    assert missing.json()["issue"][0]["expression"] == ["patient"]
    assert status(patient=docs["patient"], start="last week") == 400
    assert status(patient=docs["patient"], end="2026-13-01") == 400
    assert status(patient=docs["patient"], start="2026-02-01", end="2026-01-01") == 400
    assert status(patient=docs["patient"], **{"on-demand": "maybe"}) == 400
    assert status(patient="bad id!") == 400
    assert client.get("/DocumentReference/$docref", params=[("patient", "a"), ("patient", "b")]).status_code == 400
    unknown = {"patient": docs["patient"], "shoe": "42"}
    assert client.get("/DocumentReference/$docref", params=unknown).status_code == 400
    lenient = client.get("/DocumentReference/$docref", params=unknown, headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
