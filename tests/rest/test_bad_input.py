"""Every class of bad input gets the right status, an OperationOutcome saying where, and writes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import new_patient, outcome_codes


def _count_patients_named(client: httpx.Client, family: str) -> int:
    history = client.get("/Patient/_history", params={"_count": 1000}).json()
    return sum(
        1 for e in history.get("entry", []) if e.get("resource", {}).get("name", [{}])[0].get("family") == family
    )


@pytest.mark.parametrize(
    ("body", "status", "code", "expression"),
    [
        ({"resourceType": "Patient", "gender": "robot"}, 400, "code-invalid", "Patient.gender"),
        ({"resourceType": "Patient", "shoeSize": 42}, 400, "structure", "Patient.shoeSize"),
        ({"resourceType": "Patient", "active": "yes"}, 400, "structure", "Patient.active"),
        ({"resourceType": "Patient", "birthDate": "1980-02-30"}, 400, "value", "Patient.birthDate"),
        ({"resourceType": "Patient", "name": {"family": "x"}}, 400, "structure", "Patient.name"),
        ({"resourceType": "Observation", "code": {"text": "x"}}, 400, "required", "Observation.status"),
        ({"resourceType": "Patient", "multipleBirthInteger": 1.5}, 400, "value", "Patient.multipleBirthInteger"),
        ({"resourceType": "Patient", "name": [{"family": ""}]}, 400, "structure", "Patient.name[0].family"),
    ],
)
def test_invalid_resources_are_refused_with_the_location(
    client: httpx.Client, body: dict, status: int, code: str, expression: str
) -> None:
    response = client.post(f"/{body['resourceType']}", json=body)
    assert response.status_code == status, response.text
    issues = response.json()["issue"]
    assert any(i["code"] == code and i.get("expression") == [expression] for i in issues), issues
    assert all(i["severity"] == "error" and i["diagnostics"] for i in issues)


def test_bad_decimal_and_id_formats(client: httpx.Client) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "valueQuantity": {"value": "72.5"},
    }
    response = client.post("/Observation", json=observation)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Observation.valueQuantity.value"]
    bad_id = client.put("/Patient/has space", json=new_patient(id="has space"))
    assert bad_id.status_code == 400


def test_malformed_json_is_400_and_writes_nothing(client: httpx.Client) -> None:
    response = client.post("/Patient", content=b'{"resourceType": "Patient", "name": [{"family": "Broken"')
    assert response.status_code == 400
    assert outcome_codes(response) == ["invalid"]
    assert _count_patients_named(client, "Broken") == 0


def test_wrong_or_missing_resource_type(client: httpx.Client) -> None:
    wrong = client.post("/Patient", json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    assert wrong.status_code == 400
    assert wrong.json()["issue"][0]["expression"] == ["resourceType"]
    missing = client.post("/Patient", json={"name": [{"family": "x"}]})
    assert missing.status_code == 400
    not_an_object = client.post("/Patient", json=[1, 2])
    assert not_an_object.status_code == 400


def test_unsupported_media_type_is_415(client: httpx.Client) -> None:
    response = client.post("/Patient", content=b"Patient: {}", headers={"Content-Type": "application/yaml"})
    assert response.status_code == 415
    assert outcome_codes(response) == ["not-supported"]


def test_unknown_type_is_404(client: httpx.Client) -> None:
    for response in (
        client.post("/Unicorn", json={"resourceType": "Unicorn"}),
        client.get("/Unicorn/1"),
        client.put("/Unicorn/1", json={"resourceType": "Unicorn", "id": "1"}),
    ):
        assert response.status_code == 404
        assert outcome_codes(response) == ["not-found"]


def test_method_not_allowed_is_405(client: httpx.Client) -> None:
    response = client.post("/Patient/some-id", json=new_patient())
    assert response.status_code == 405
    assert outcome_codes(response) == ["not-supported"]


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    huge = new_patient(
        family="Huge", text={"status": "generated", "div": "<div>" + "x" * (17 * 1024 * 1024) + "</div>"}
    )
    response = client.post("/Patient", json=huge)
    assert response.status_code == 413
    assert outcome_codes(response) == ["too-costly"]
    assert _count_patients_named(client, "Huge") == 0


def test_stale_version_is_412(client: httpx.Client, patient: dict) -> None:
    response = client.put(f"/Patient/{patient['id']}", json=patient, headers={"If-Match": 'W/"7"'})
    assert response.status_code == 412
    assert "version 7" in response.json()["issue"][0]["diagnostics"]


def test_diagnostics_follow_accept_language_fallback(client: httpx.Client) -> None:
    response = client.get("/Patient/nope", headers={"Accept-Language": "xx-YY, en;q=0.5"})
    assert response.status_code == 404
    assert response.json()["issue"][0]["diagnostics"] == "Patient/nope was not found."
