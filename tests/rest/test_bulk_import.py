"""Bulk Data $import: an uploaded NDJSON body or NDJSON files named by URL; bad lines are reported by line
number and do not stop the others."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
import pytest
from pymongo import MongoClient

from fhir_server.engine.bulk_import import url_allowed
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import FHIR_JSON, IMPORT_MAX_BYTES, new_patient, outcome_codes

ASYNC = {"Prefer": "respond-async"}
NDJSON = {"Content-Type": "application/fhir+ndjson", **ASYNC}


def _wait(client: httpx.Client, poll_url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(poll_url)
        if response.status_code != 202:
            assert response.status_code == 200, response.text
            manifest: dict = response.json()
            return manifest
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def _errors(client: httpx.Client, manifest: dict) -> list[str]:
    texts = []
    for error in manifest["error"]:
        assert error["type"] == "OperationOutcome"
        response = client.get(error["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        outcomes = [orjson.loads(line) for line in response.content.splitlines()]
        assert len(outcomes) == error["count"]
        texts += [issue["diagnostics"] for outcome in outcomes for issue in outcome["issue"]]
    return texts


def _line(resource: dict) -> bytes:
    return orjson.dumps(resource) + b"\n"


def _tagged(system: str, value: str, **extra: object) -> dict:
    return new_patient(identifier=[{"system": system, "value": value}], **extra)


def test_kick_off_errors(client: httpx.Client) -> None:
    response = client.post("/$import", content=b"{}\n", headers={"Content-Type": "application/fhir+ndjson"})
    assert response.status_code == 400 and outcome_codes(response) == ["invalid"]
    response = client.post("/$import", content=b"x", headers={"Content-Type": "text/csv", **ASYNC})
    assert response.status_code == 415
    for parameters in (
        {"resourceType": "Parameters", "parameter": []},
        {"resourceType": "Parameters", "parameter": [{"name": "input", "part": [{"name": "url", "valueUrl": "x"}]}]},
        {"resourceType": "Patient"},
    ):
        response = client.post("/$import", json=parameters, headers={**ASYNC, **FHIR_JSON})
        assert response.status_code == 400, response.text
    assert client.get(f"/$import-poll/{uuid.uuid4()}").status_code == 404


def test_import_refuses_urls_outside_the_allowed_prefixes(client: httpx.Client) -> None:
    for url in ("http://10.0.0.1/data.ndjson", "http://127.0.0.1@internal.example/x.ndjson", "https://127.0.0.1/x"):
        part = {"name": "url", "valueUrl": url}
        parameters = {"resourceType": "Parameters", "parameter": [{"name": "input", "part": [part]}]}
        response = client.post("/$import", json=parameters, headers={**ASYNC, **FHIR_JSON})
        assert response.status_code == 403, url
        assert "FHIR_IMPORT_URL_PREFIXES" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://files.lab/x.ndjson", True),
        ("http://files.lab:8080/x.ndjson", True),
        ("https://bulk.example/exports/1.ndjson", True),
        ("https://bulk.example/other/1.ndjson", False),
        ("https://bulk.example:444/exports/1.ndjson", False),
        ("http://files.lab.evil/x", False),
        ("http://user@files.lab/x", False),
        ("ftp://files.lab/x", False),
    ],
)
def test_url_prefix_rules(url: str, allowed: bool) -> None:
    assert url_allowed(url, ("http://files.lab", "https://bulk.example:443/exports/")) is allowed


def test_an_upload_over_the_cap_is_refused_and_leaves_nothing(client: httpx.Client, database: EmbeddedDatabase) -> None:
    with MongoClient(database.uri) as mongo:
        jobs, chunks = mongo["fhir_tests"]["jobs"], mongo["fhir_tests"]["export_chunks"]
        before = (jobs.count_documents({"kind": "import"}), chunks.count_documents({}))
        body = _line(new_patient()) * (IMPORT_MAX_BYTES // len(_line(new_patient())) + 10)
        response = client.post("/$import", content=body, headers=NDJSON)
        assert response.status_code == 413 and outcome_codes(response) == ["too-costly"]
        assert (jobs.count_documents({"kind": "import"}), chunks.count_documents({})) == before


def test_upload_good_and_bad_lines(client: httpx.Client, base_url: str) -> None:
    system = f"urn:test:import:{uuid.uuid4().hex}"
    known_id = f"imp-{uuid.uuid4().hex[:12]}"
    body = b"".join(
        [
            _line(_tagged(system, "1", id=known_id)),  # line 1: create-on-update with its id
            _line(_tagged(system, "2")),  # line 2: no id, the server gives one
            b"{not json\n",  # line 3
            _line(_tagged(system, "4", gender="bogus")),  # line 4: not valid R4
            b"\n",  # line 5: blank, skipped
            _line(
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "w"},
                    "identifier": [{"system": system, "value": "6"}],
                }
            ),  # fmt: skip
            _line({"resourceType": "NoSuchType"}),  # line 7
        ]
    )
    response = client.post("/$import", content=body, headers=NDJSON)
    assert response.status_code == 202, response.text
    poll_url = response.headers["Content-Location"]
    assert poll_url.startswith(f"{base_url}/$import-poll/")
    manifest = _wait(client, poll_url)
    assert manifest["requiresAccessToken"] is False
    assert manifest["request"] == f"{base_url}/$import"
    assert {o["type"]: o["count"] for o in manifest["output"]} == {"Patient": 2, "Observation": 1}
    texts = _errors(client, manifest)
    assert len(texts) == 3
    assert any("line 3" in text for text in texts)
    assert any("line 4" in text for text in texts)
    assert any("line 7" in text for text in texts)
    assert client.get(f"/Patient/{known_id}").json()["identifier"][0]["value"] == "1"
    found = client.get("/Patient", params={"identifier": f"{system}|"}).json()
    assert sorted(e["resource"]["identifier"][0]["value"] for e in found["entry"]) == ["1", "2"]
    assert client.get("/Observation", params={"identifier": f"{system}|6"}).json()["total"] == 1


def test_upload_many_lines_in_batches(client: httpx.Client) -> None:
    system = f"urn:test:import:{uuid.uuid4().hex}"
    body = b"".join(_line(_tagged(system, str(i))) for i in range(450))
    manifest = _wait(client, client.post("/$import", content=body, headers=NDJSON).headers["Content-Location"])
    assert manifest["output"] == [{"type": "Patient", "count": 450}]
    assert manifest["error"] == []
    assert client.get("/Patient", params={"identifier": f"{system}|", "_summary": "count"}).json()["total"] == 450


@pytest.fixture()
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_address[1]}", tmp_path
    http.shutdown()
    http.server_close()


def test_import_from_urls(client: httpx.Client, file_server: tuple[str, Path]) -> None:
    root_url, directory = file_server
    system = f"urn:test:import:{uuid.uuid4().hex}"
    patient_id = f"imp-{uuid.uuid4().hex[:12]}"
    (directory / "patients.ndjson").write_bytes(
        _line(_tagged(system, "1", id=patient_id))
        + _line({"resourceType": "Observation", "status": "final", "code": {"text": "w"}})  # line 2: wrong type
    )
    (directory / "observations.ndjson").write_bytes(
        _line(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "w"},
                "subject": {"reference": f"Patient/{patient_id}"},
            }
        )  # fmt: skip
    )
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
            {"name": "input", "part": [{"name": "type", "valueCode": "Patient"},
                                       {"name": "url", "valueUrl": f"{root_url}/patients.ndjson"}]},
            {"name": "input", "part": [{"name": "type", "valueCode": "Observation"},
                                       {"name": "url", "valueUrl": f"{root_url}/observations.ndjson"}]},
            {"name": "input", "part": [{"name": "type", "valueCode": "Patient"},
                                       {"name": "url", "valueUrl": f"{root_url}/missing.ndjson"}]},
        ],
    }  # fmt: skip
    response = client.post("/$import", json=parameters, headers={**ASYNC, **FHIR_JSON})
    assert response.status_code == 202, response.text
    manifest = _wait(client, response.headers["Content-Location"])
    assert manifest["output"] == [
        {"type": "Patient", "count": 1, "inputUrl": f"{root_url}/patients.ndjson"},
        {"type": "Observation", "count": 1, "inputUrl": f"{root_url}/observations.ndjson"},
    ]
    texts = _errors(client, manifest)
    assert len(texts) == 2
    assert any("patients.ndjson, line 2" in text for text in texts)
    assert any("missing.ndjson" in text and "404" in text for text in texts)
    everything = client.get(f"/Patient/{patient_id}/$everything").json()
    assert {e["resource"]["resourceType"] for e in everything["entry"]} == {"Patient", "Observation"}


def test_cancel_import(client: httpx.Client) -> None:
    system = f"urn:test:import:{uuid.uuid4().hex}"
    response = client.post("/$import", content=_line(_tagged(system, "1")), headers=NDJSON)
    poll_url = response.headers["Content-Location"]
    assert client.delete(poll_url).status_code == 202
    assert client.get(poll_url).status_code == 404
