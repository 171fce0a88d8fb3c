"""create, read, vread: status codes, headers, Prefer and conditional reads."""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime

import httpx

from tests.conftest import new_patient, outcome_codes


def test_create_returns_201_with_location_etag_and_last_modified(client: httpx.Client, base_url: str) -> None:
    response = client.post("/Patient", json=new_patient(id="client-chosen"))
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"  # create ignores the id sent (http.html#create)
    assert body["meta"]["versionId"] == "1"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"] == f"{base_url}/Patient/{body['id']}/_history/1"
    assert parsedate_to_datetime(response.headers["Last-Modified"])
    assert body["name"] == [{"family": "Doe", "given": ["Jane"]}]


def test_create_ignores_client_meta_version_and_keeps_tags(client: httpx.Client) -> None:
    meta = {"versionId": "99", "lastUpdated": "2001-01-01T00:00:00Z", "tag": [{"system": "urn:t", "code": "x"}]}
    body = client.post("/Patient", json=new_patient(meta=meta)).json()
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"] != "2001-01-01T00:00:00Z"
    assert body["meta"]["tag"] == meta["tag"]


def test_prefer_return_minimal_and_operation_outcome(client: httpx.Client) -> None:
    minimal = client.post("/Patient", json=new_patient(), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal.headers["Location"]
    outcome = client.post("/Patient", json=new_patient(), headers={"Prefer": "return=OperationOutcome"})
    assert outcome.status_code == 201
    assert outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.json()["issue"][0]["severity"] == "information"


def test_read_returns_the_current_version(client: httpx.Client, patient: dict) -> None:
    response = client.get(f"/Patient/{patient['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json() == patient
    assert response.headers["ETag"] == 'W/"1"'


def test_read_unknown_id_is_404_with_outcome(client: httpx.Client) -> None:
    response = client.get("/Patient/does-not-exist")
    assert response.status_code == 404
    assert outcome_codes(response) == ["not-found"]


def test_vread_returns_each_version(client: httpx.Client, patient: dict) -> None:
    updated = {**patient, "gender": "male"}
    assert client.put(f"/Patient/{patient['id']}", json=updated).status_code == 200
    first = client.get(f"/Patient/{patient['id']}/_history/1")
    second = client.get(f"/Patient/{patient['id']}/_history/2")
    assert first.json()["gender"] == "female"
    assert second.json()["gender"] == "male"
    assert second.headers["ETag"] == 'W/"2"'
    assert client.get(f"/Patient/{patient['id']}/_history/3").status_code == 404
    assert client.get(f"/Patient/{patient['id']}/_history/x").status_code == 400


def test_if_none_match_gives_304(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    assert client.get(path, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": 'W/"0"'}).status_code == 200


def test_if_modified_since_gives_304(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    last_modified = client.get(path).headers["Last-Modified"]
    assert client.get(path, headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified).replace(year=2000), usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200


def test_request_id_is_echoed_or_made_up(client: httpx.Client) -> None:
    echoed = client.get("/metadata", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["X-Request-Id"] == "abc-123"
    made_up = client.get("/metadata")
    assert len(made_up.headers["X-Request-Id"]) >= 16
    for insane in (b"x" * 129, b"two words", b"semi;colon", "é".encode()):  # too long, or not [A-Za-z0-9._:-]
        replaced = client.get("/metadata", headers={"X-Request-Id": insane})
        assert len(replaced.headers.get_list("X-Request-Id")) == 1 and len(replaced.headers["X-Request-Id"]) == 32


def test_a_read_answered_before_routing_keeps_every_layer(client: httpx.Client, patient: dict) -> None:
    """Well-formed reads skip the framework's routing (rest/direct_read.py), not the layers around it:
    request id, CORS, format negotiation and its Vary, the error's language; the rest still reach the routes."""
    origin = {"Origin": "https://app.example", "X-Request-Id": "direct-read-1"}
    read = client.get(f"/Patient/{patient['id']}", headers=origin)
    assert read.status_code == 200 and read.json() == patient
    assert read.headers["X-Request-Id"] == "direct-read-1"
    assert read.headers["access-control-allow-origin"] == "*"
    assert "ETag" in read.headers["access-control-expose-headers"]
    assert "Accept" in read.headers["Vary"]
    xml = client.get(f"/Patient/{patient['id']}/_history/1", params={"_format": "xml"})
    assert xml.headers["content-type"].startswith("application/fhir+xml") and b"<Patient" in xml.content
    refused = client.get(f"/Patient/{patient['id']}", headers={"Accept": "text/csv"})
    assert refused.status_code == 406
    missing = client.get("/Patient/not-there", headers={"Accept-Language": "de"})
    assert missing.status_code == 404 and missing.headers["Content-Language"] == "de"
    assert "Patient/not-there" in missing.json()["issue"][0]["diagnostics"]
    assert client.get("/NoSuchType/1").status_code == 404  # answered directly: the engine knows no such type
    assert client.get("/patient/1").status_code == 404  # not a type name: the read route says the same
    assert client.get("/Patient/bad$id").status_code == 400  # not a FHIR id: the read route refuses it
    assert client.get("/OperationDefinition/Patient-everything").json()["resourceType"] == "OperationDefinition"
