"""update (including create-on-update and If-Match) and logical delete."""

from __future__ import annotations

import httpx

from tests.conftest import new_patient, outcome_codes


def test_update_makes_version_2(client: httpx.Client, patient: dict) -> None:
    response = client.put(f"/Patient/{patient['id']}", json={**patient, "gender": "other"})
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    assert response.headers["ETag"] == 'W/"2"'
    assert "Location" not in response.headers


def test_update_with_client_id_creates(client: httpx.Client) -> None:
    response = client.put("/Patient/my-own-id-1", json=new_patient(id="my-own-id-1"))
    assert response.status_code == 201
    assert response.json()["id"] == "my-own-id-1"
    assert response.headers["Location"].endswith("/Patient/my-own-id-1/_history/1")


def test_update_body_id_must_match_url(client: httpx.Client, patient: dict) -> None:
    response = client.put(f"/Patient/{patient['id']}", json={**patient, "id": "other"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.id"]
    missing = {k: v for k, v in patient.items() if k != "id"}
    assert client.put(f"/Patient/{patient['id']}", json=missing).status_code == 400
    assert client.get(f"/Patient/{patient['id']}").json()["meta"]["versionId"] == "1"


def test_if_match_stale_version_is_412_and_nothing_written(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    assert client.put(path, json=patient, headers={"If-Match": 'W/"1"'}).status_code == 200
    stale = client.put(path, json={**patient, "gender": "male"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert outcome_codes(stale) == ["conflict"]
    assert client.get(path).json()["gender"] == "female"
    assert client.delete(path, headers={"If-Match": 'W/"1"'}).status_code == 412
    assert client.get(path).status_code == 200


def test_delete_is_logical_and_history_keeps_versions(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    deleted = client.delete(path)
    assert deleted.status_code == 204
    assert deleted.headers["ETag"] == 'W/"2"'
    gone = client.get(path)
    assert gone.status_code == 410
    assert outcome_codes(gone) == ["deleted"]
    assert client.get(f"{path}/_history/1").status_code == 200
    assert client.get(f"{path}/_history/2").status_code == 410
    history = client.get(f"{path}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert client.delete(path).status_code == 204  # deleting again is still a success
    assert client.get(f"{path}/_history").json()["total"] == 2


def test_delete_of_unknown_resource_is_204(client: httpx.Client) -> None:
    assert client.delete("/Patient/never-existed").status_code == 204


def test_update_after_delete_resurrects_with_next_version(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    client.delete(path)
    response = client.put(path, json=patient)
    assert response.status_code == 201
    assert response.json()["meta"]["versionId"] == "3"
    assert client.get(path).status_code == 200
