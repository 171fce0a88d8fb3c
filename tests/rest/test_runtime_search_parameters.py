"""A SearchParameter posted at run time is usable at once; `$reindex` indexes the resources written before it."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.conftest import new_patient

COLOR = "urn:test:favourite-colour"


def _coloured(colour: str) -> dict:
    return new_patient(extension=[{"url": COLOR, "valueString": colour}])


def _search_parameter(code: str) -> dict:
    return {
        "resourceType": "SearchParameter",
        "url": f"http://example.org/SearchParameter/{code}",
        "name": code,
        "status": "active",
        "description": "Favourite colour",
        "code": code,
        "base": ["Patient"],
        "type": "string",
        "expression": f"Patient.extension.where(url='{COLOR}').value",
    }


def _wait_for_job(client: httpx.Client, location: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(location)
        if response.status_code == 200:
            body: dict = response.json()
            return body
        assert response.status_code == 202
        assert response.headers["X-Progress"]
        time.sleep(0.5)
    raise AssertionError("reindex did not finish")


def test_new_parameter_then_reindex(client: httpx.Client) -> None:
    colour = f"teal{uuid.uuid4().hex[:8]}"
    code = f"colour{uuid.uuid4().hex[:8]}"
    before = client.post("/Patient", json=_coloured(colour)).json()
    assert client.post("/SearchParameter", json=_search_parameter(code)).status_code == 201
    after = client.post("/Patient", json=_coloured(colour)).json()

    fresh = client.get("/Patient", params={code: colour}).json()
    matches = {e["resource"]["id"] for e in fresh["entry"] if e["search"]["mode"] == "match"}
    assert matches == {after["id"]}  # written after the parameter existed
    outcome = next(e["resource"] for e in fresh["entry"] if e["search"]["mode"] == "outcome")
    assert outcome["issue"][0]["code"] == "incomplete"

    started = client.post("/Patient/$reindex")
    assert started.status_code == 202
    result = _wait_for_job(client, started.headers["Content-Location"])
    assert {p["name"]: p.get("valueCode") for p in result["parameter"]}["status"] == "completed"

    deadline = time.monotonic() + 15
    while True:
        complete = client.get("/Patient", params={code: colour}).json()
        modes = [e["search"]["mode"] for e in complete["entry"]]
        if "outcome" not in modes or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {e["resource"]["id"] for e in complete["entry"] if e["search"]["mode"] == "match"} == {
        before["id"],
        after["id"],
    }
    assert "outcome" not in modes


def test_unusable_search_parameter_is_refused(client: httpx.Client) -> None:
    broken = {**_search_parameter("broken"), "base": ["Unicorn"]}
    response = client.post("/SearchParameter", json=broken)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["SearchParameter.base[0]"]


def test_unknown_job_is_404(client: httpx.Client) -> None:
    assert client.get("/_jobs/no-such-job").status_code == 404
