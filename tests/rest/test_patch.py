"""PATCH over HTTP: JSON Patch and FHIRPath Patch; the result is validated like an update."""

from __future__ import annotations

import httpx

from tests.conftest import outcome_codes

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def test_json_patch_makes_a_new_version(client: httpx.Client, patient: dict) -> None:
    operations = [
        {"op": "replace", "path": "/gender", "value": "male"},
        {"op": "add", "path": "/active", "value": True},
    ]
    response = client.patch(f"/Patient/{patient['id']}", json=operations, headers=JSON_PATCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["gender"] == "male"
    assert body["active"] is True
    assert body["meta"]["versionId"] == "2"


def test_fhirpath_patch_makes_a_new_version(client: httpx.Client, patient: dict) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Patient.name[0].family"},
                    {"name": "value", "valueString": "Smith"},
                ],
            }
        ],
    }
    response = client.patch(f"/Patient/{patient['id']}", json=parameters)
    assert response.status_code == 200, response.text
    assert response.json()["name"][0]["family"] == "Smith"


def test_patch_to_an_invalid_resource_is_422_and_writes_nothing(client: httpx.Client, patient: dict) -> None:
    operations = [{"op": "replace", "path": "/gender", "value": "robot"}]
    response = client.patch(f"/Patient/{patient['id']}", json=operations, headers=JSON_PATCH)
    assert response.status_code == 422
    assert "code-invalid" in outcome_codes(response)
    assert client.get(f"/Patient/{patient['id']}").json()["meta"]["versionId"] == "1"


def test_patch_may_not_change_the_id(client: httpx.Client, patient: dict) -> None:
    operations = [{"op": "replace", "path": "/id", "value": "other"}]
    response = client.patch(f"/Patient/{patient['id']}", json=operations, headers=JSON_PATCH)
    assert response.status_code == 422


def test_malformed_patch_is_400_and_failing_test_op_is_422(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    assert client.patch(path, json={"op": "replace"}, headers=JSON_PATCH).status_code == 400
    failing = [{"op": "test", "path": "/gender", "value": "male"}]
    assert client.patch(path, json=failing, headers=JSON_PATCH).status_code == 422


def test_patch_with_stale_if_match_is_412(client: httpx.Client, patient: dict) -> None:
    operations = [{"op": "replace", "path": "/gender", "value": "male"}]
    headers = {**JSON_PATCH, "If-Match": 'W/"5"'}
    assert client.patch(f"/Patient/{patient['id']}", json=operations, headers=headers).status_code == 412


def test_patch_of_missing_or_deleted_resource(client: httpx.Client, patient: dict) -> None:
    operations = [{"op": "replace", "path": "/gender", "value": "male"}]
    assert client.patch("/Patient/nobody-here", json=operations, headers=JSON_PATCH).status_code == 404
    client.delete(f"/Patient/{patient['id']}")
    assert client.patch(f"/Patient/{patient['id']}", json=operations, headers=JSON_PATCH).status_code == 410


def test_patch_with_an_unsupported_media_type_is_415(client: httpx.Client, patient: dict) -> None:
    response = client.patch(f"/Patient/{patient['id']}", content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
