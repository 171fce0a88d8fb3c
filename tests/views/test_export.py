"""`$viewdefinition-export` over real HTTP with real tokens: kick-off, polling, result, files, access, bad input."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.auth_server import World, outcome_text
from tests.views.test_run_operation import OBSERVATIONS, RUN, _parameters

EXPORT = "/$viewdefinition-export"
ASYNC = {"Prefer": "respond-async"}


def _kick_off(client: httpx.Client, *views: dict[str, Any], **values: Any) -> httpx.Response:
    parameters: list[dict[str, Any]] = [{"name": "view", "part": list(view_parts)} for view_parts in views]
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            parameters.append({"name": name, "valueString": str(item)})
    return client.post(EXPORT, json={"resourceType": "Parameters", "parameter": parameters}, headers=ASYNC)


def _inline(view: dict[str, Any], name: str | None = None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"name": "viewResource", "resource": view}]
    return parts + ([{"name": "name", "valueString": name}] if name else [])


def _result(client: httpx.Client, kick_off: httpx.Response) -> dict[str, Any]:
    assert kick_off.status_code == 202, kick_off.text
    assert kick_off.json()["parameter"][1] == {"name": "status", "valueCode": "accepted"}
    status_url = kick_off.headers["Content-Location"]
    deadline = time.monotonic() + 60
    while (status := client.get(status_url)).status_code == 202 and time.monotonic() < deadline:
        assert "rows" in status.headers["X-Progress"]
        time.sleep(0.2)
    assert status.status_code == 303, status.text
    result = client.get(status.headers["Location"])
    assert result.status_code == 200, result.text
    body: dict[str, Any] = result.json()
    return body


def _outputs(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    outputs = {}
    for parameter in result["parameter"]:
        if parameter["name"] == "output":
            parts = {
                part["name"]: next(v for k, v in part.items() if k.startswith("value")) for part in parameter["part"]
            }
            outputs[parts["name"]] = parts
    return outputs


def test_export_writes_one_file_per_view(connect: Callable[..., httpx.Client], world: World) -> None:
    patients = {**OBSERVATIONS, "resource": "Patient", "name": "patients",
                "select": [{"column": [{"name": "id", "path": "getResourceKey()"}]}]}  # fmt: skip
    with connect("user/*.rs", role="physician", client_id="exporter") as client:
        kick_off = _kick_off(
            client, _inline(OBSERVATIONS, "obs"), _inline(patients), _format="csv",
            patient=[world.patient["a"], world.patient["b"]], clientTrackingId="mine-1",
        )  # fmt: skip
        result = _result(client, kick_off)
        assert {"name": "clientTrackingId", "valueString": "mine-1"} in result["parameter"]
        outputs = _outputs(result)
        assert set(outputs) == {"obs", "patients"}
        expected = client.post(RUN, json=_parameters(OBSERVATIONS, patient=[world.patient["a"], world.patient["b"]]))
        downloaded = client.get(outputs["obs"]["location"])
        assert downloaded.status_code == 200 and downloaded.headers["content-type"].startswith("text/csv")
        assert list(csv.DictReader(io.StringIO(downloaded.text))) == expected.json()
        assert outputs["obs"]["rows"] == 4
        people = list(csv.DictReader(io.StringIO(client.get(outputs["patients"]["location"]).text)))
        assert {row["id"] for row in people} == {f"Patient/{world.patient['a']}", f"Patient/{world.patient['b']}"}
        with connect("user/*.rs", role="physician", client_id="someone-else") as other:
            assert other.get(kick_off.headers["Content-Location"]).status_code == 403
            assert other.get(outputs["obs"]["location"]).status_code == 403


def test_a_patient_tokens_export_has_only_its_rows(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("patient/*.rs", role="patient", patient=world.patient["a"]) as client:
        outputs = _outputs(_result(client, _kick_off(client, _inline(OBSERVATIONS, "mine"))))
        lines = client.get(outputs["mine"]["location"]).text.splitlines()
        assert {json.loads(line)["patient"] for line in lines} == {f"Patient/{world.patient['a']}"}


def test_cancel(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("user/*.rs", role="physician") as client:
        kick_off = _kick_off(client, _inline(OBSERVATIONS))
        status_url = kick_off.headers["Content-Location"]
        assert client.delete(status_url).status_code == 202
        assert client.get(status_url).status_code == 404


def test_refusals(connect: Callable[..., httpx.Client], world: World) -> None:
    conditions = {**OBSERVATIONS, "resource": "Condition", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    broken = {**OBSERVATIONS, "select": [{"column": [{"name": "a", "path": "id"}, {"name": "a", "path": "status"}]}]}
    with connect("user/Patient.rs user/Observation.rs", role="auditor") as client:
        refused = _kick_off(client, _inline(OBSERVATIONS), _inline(conditions))
        assert refused.status_code == 403 and "Condition" in outcome_text(refused)
        bad = _kick_off(client, _inline(broken))
        assert bad.status_code == 400
        assert bad.json()["issue"][0]["expression"] == ["ViewDefinition.select[0].column[1].name"]
        unknown = _kick_off(client, _inline(OBSERVATIONS), source="s3://bucket")
        assert unknown.status_code == 400 and unknown.json()["issue"][0]["expression"] == ["source"]
        assert _kick_off(client, _inline(OBSERVATIONS), _format="xlsx").status_code == 400
        assert _kick_off(client).status_code == 400
        synchronous = client.post(EXPORT, json={"resourceType": "Parameters", "parameter": [
            {"name": "view", "part": _inline(OBSERVATIONS)}]})  # fmt: skip
        assert synchronous.status_code == 400 and outcome_text(synchronous)
        assert client.get("/$viewdefinition-export-status/no-such-job").status_code == 404
