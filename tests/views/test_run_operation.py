"""`$viewdefinition-run` over real HTTP with real tokens: formats, parameters, access, stored views, bad input."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from fhir_server.views.carrier import view_library
from tests.auth_server import World, outcome_text

RUN = "/$viewdefinition-run"
OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
OBSERVATIONS = {
    "resourceType": "ViewDefinition",
    "resource": "Observation",
    "status": "active",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()", "type": "string"},
                {"name": "patient", "path": "subject.getReferenceKey(Patient)", "type": "string"},
                {"name": "category", "path": "category.coding.code.first()", "type": "code"},
            ]
        }
    ],
}


def _parameters(view: dict[str, Any] | None = None, **values: Any) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    if view is not None:
        parameters.append({"name": "viewResource", "resource": view})
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            parameters.append(
                {"name": name, "resource": item} if isinstance(item, dict) else {"name": name, "valueString": str(item)}
            )
    return {"resourceType": "Parameters", "parameter": parameters}


def _json_rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_formats_give_the_same_rows(connect: Callable[..., httpx.Client], world: World) -> None:
    patient = world.patient["a"]
    with connect("user/*.rs", role="physician") as client:
        body = _parameters(OBSERVATIONS, patient=f"Patient/{patient}")
        rows = _json_rows(client.post(RUN, json=body, params={"_format": "json"}))
        expected = {(f"Observation/{world.lab['a']}", f"Patient/{patient}", "laboratory"),
                    (f"Observation/{world.vitals['a']}", f"Patient/{patient}", "vital-signs")}  # fmt: skip
        assert {(r["id"], r["patient"], r["category"]) for r in rows} == expected
        assert all(list(row) == ["id", "patient", "category"] for row in rows)

        ndjson = client.post(RUN, json=body, params={"_format": "ndjson"})
        assert ndjson.status_code == 200 and ndjson.headers["content-type"].startswith("application/x-ndjson")
        assert [json.loads(line) for line in ndjson.text.splitlines()] == rows

        as_csv = client.post(RUN, json=body, headers={"Accept": "text/csv"})
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert list(csv.DictReader(io.StringIO(as_csv.text))) == rows
        bare = client.post(
            RUN, json=_parameters(OBSERVATIONS, patient=patient, header="false"), params={"_format": "csv"}
        )
        assert len(bare.text.splitlines()) == len(rows)

        parquet = client.post(RUN, json=body, params={"_format": "parquet"})
        assert parquet.status_code == 200
        table = pq.read_table(io.BytesIO(parquet.content))
        assert table.column_names == ["id", "patient", "category"] and table.to_pylist() == rows


def test_limit_since_and_inline_resources(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("user/*.rs", role="physician") as client:
        assert len(_json_rows(client.post(RUN, json=_parameters(OBSERVATIONS, _limit=1)))) == 1
        assert _json_rows(client.post(RUN, json=_parameters(OBSERVATIONS, _since="2999-01-01T00:00:00Z"))) == []
        sent = [{"resourceType": "Observation", "id": "x1", "status": "final", "code": {"text": "t"},
                 "subject": {"reference": "Patient/p9"}},
                {"resourceType": "Patient", "id": "p9"}]  # fmt: skip
        rows = _json_rows(client.post(RUN, json=_parameters(OBSERVATIONS, resource=sent)))
        assert rows == [{"id": "Observation/x1", "patient": "Patient/p9", "category": None}]


def test_a_patient_token_gets_only_its_own_rows(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("patient/*.rs", role="patient", patient=world.patient["a"]) as client:
        rows = _json_rows(client.post(RUN, json=_parameters(OBSERVATIONS)))
        assert {row["id"] for row in rows} == {f"Observation/{world.lab['a']}", f"Observation/{world.vitals['a']}"}
        asking_for_b = _json_rows(client.post(RUN, json=_parameters(OBSERVATIONS, patient=world.patient["b"])))
        assert asking_for_b == []


def test_a_role_reads_only_its_types(connect: Callable[..., httpx.Client], world: World) -> None:
    conditions = {**OBSERVATIONS, "resource": "Condition", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    with connect("user/Patient.rs user/Observation.rs", role="auditor") as client:
        rows = _json_rows(client.post(RUN, json=_parameters(OBSERVATIONS)))
        assert {f"Observation/{world.lab['b']}", f"Observation/{world.vitals['a']}"} <= {r["id"] for r in rows}
        refused = client.post(RUN, json=_parameters(conditions))
        assert refused.status_code == 403 and "Condition" in outcome_text(refused)
    with connect() as anonymous:
        assert anonymous.post(RUN, json=_parameters(OBSERVATIONS)).status_code == 401


def test_a_stored_view_is_a_library(connect: Callable[..., httpx.Client], world: World) -> None:
    name = f"obs_{uuid.uuid4().hex[:8]}"
    library = view_library({**OBSERVATIONS, "name": name, "url": f"http://example.org/views/{name}"})
    with connect("user/*.cruds", role="physician") as client:
        created = client.post("/Library", json=library)
        assert created.status_code == 201, created.text
        library_id = created.json()["id"]
        found = client.get("/Library", params={"name": name, "status": "active"}).json()
        assert [entry["resource"]["id"] for entry in found["entry"]] == [library_id]
        at_instance = client.get(f"/Library/{library_id}{RUN}", params={"patient": world.patient["b"]})
        assert {row["id"] for row in _json_rows(at_instance)} == {
            f"Observation/{world.lab['b']}",
            f"Observation/{world.vitals['b']}",
        }
        by_reference = client.get(RUN, params={"viewReference": f"ViewDefinition/{library_id}", "_format": "ndjson"})
        assert by_reference.status_code == 200 and by_reference.text
        canonical = {"viewReference": library["url"], "patient": world.patient["b"]}
        assert _json_rows(client.get(RUN, params=canonical)) == _json_rows(at_instance)
        unknown = client.get(RUN, params={"viewReference": f"{library['url']}-nothing"})
        assert unknown.status_code == 404 and unknown.json()["issue"][0]["expression"] == ["viewReference"]
        plain = client.post("/Library", json={"resourceType": "Library", "status": "active", "type": library["type"]})
        refused = client.get(f"/Library/{plain.json()['id']}{RUN}")
        assert refused.status_code == 400 and "ViewDefinition" in outcome_text(refused)


def _column(name: str, path: str) -> dict[str, str]:
    return {"name": name, "path": path}


BAD_VIEWS = [
    ({**OBSERVATIONS, "select": [{"column": [_column("a", "id"), _column("a", "status")]}]},
     "ViewDefinition.select[0].column[1].name", "more than once"),
    ({**OBSERVATIONS, "select": [{"column": [_column("a", "id.where(")]}]}, "ViewDefinition.select[0].column[0].path",
     "not a valid FHIRPath"),
    ({**OBSERVATIONS, "resource": "Spaceship"}, "ViewDefinition.resource", "Spaceship"),
    ({**OBSERVATIONS, "select": [{"forEach": "category", "column": [_column("c", "%nowhere")]}]},
     "ViewDefinition.select[0].column[0].path", "%nowhere"),
    ({**OBSERVATIONS, "select": [{"column": [_column("1st", "id")]}]}, "ViewDefinition.select[0].column[0].name",
     "letter"),
]  # fmt: skip


@pytest.mark.parametrize(("view", "location", "words"), BAD_VIEWS)
def test_broken_views_are_400_naming_the_element(
    connect: Callable[..., httpx.Client], world: World, view: dict[str, Any], location: str, words: str
) -> None:
    with connect("user/*.rs", role="physician") as client:
        response = client.post(RUN, json=_parameters(view))
        assert response.status_code == 400, response.text
        issue = response.json()["issue"][0]
        assert issue["expression"] == [location] and words in issue["diagnostics"]


def test_bad_parameters_are_400(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("user/*.rs", role="physician") as client:
        for params, body, where in [
            ({"_format": "xlsx"}, _parameters(OBSERVATIONS), "_format"),
            ({"_limit": "0"}, _parameters(OBSERVATIONS), "_limit"),
            ({"viewReference": "Library/x"}, _parameters(OBSERVATIONS), "viewResource"),
            ({}, _parameters(), "viewResource"),
            ({"patient": "Group/g"}, _parameters(OBSERVATIONS), "patient"),
        ]:
            response = client.post(RUN, json=body, params=params)
            assert response.status_code == 400, (params, response.text)
            assert response.json()["issue"][0]["expression"] == [where]
        several = {**OBSERVATIONS, "select": [{"column": [_column("both", "id | status")]}]}
        failed = client.post(RUN, json=_parameters(several, patient=world.patient["a"]))
        assert failed.status_code == 422 and "collection" in outcome_text(failed)
        missing = client.get(f"/Library/{uuid.uuid4().hex}{RUN}")
        assert missing.status_code == 404


def test_a_library_with_a_broken_view_is_refused_on_every_write_path(
    connect: Callable[..., httpx.Client], world: World
) -> None:
    broken = view_library({**OBSERVATIONS, "select": [{"column": [_column("a", "id"), _column("a", "status")]}]})
    with connect("user/*.cruds", role="physician") as client:
        refused = client.post("/Library", json=broken)
        assert refused.status_code == 400
        assert refused.json()["issue"][0]["expression"] == ["ViewDefinition.select[0].column[1].name"]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": broken, "request": {"method": "POST", "url": "Library"}}]}  # fmt: skip
        assert client.post("/", json=bundle).status_code == 400
        stored = client.post("/Library", json=view_library(OBSERVATIONS))
        assert stored.status_code == 201
        assert (
            client.put(f"/Library/{stored.json()['id']}", json={**broken, "id": stored.json()["id"]}).status_code == 400
        )


def test_group_and_since_select_the_resources(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("user/*.cruds", role="physician") as client:
        patient = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
        subject = {"reference": f"Patient/{patient}"}
        first = client.post("/Observation", json={**OBSERVATION, "subject": subject}).json()
        group = {"resourceType": "Group", "type": "person", "actual": True, "member": [{"entity": subject}]}
        group_id = client.post("/Group", json=group).json()["id"]
        rows = _json_rows(client.post(RUN, json=_parameters(OBSERVATIONS, group=f"Group/{group_id}")))
        assert [row["id"] for row in rows] == [f"Observation/{first['id']}"]
        assert client.post(RUN, json=_parameters(OBSERVATIONS, group="Group/nope")).status_code == 404
        late = client.post("/Observation", json={**OBSERVATION, "subject": subject}).json()
        since = _parameters(OBSERVATIONS, _since=late["meta"]["lastUpdated"], patient=patient)
        assert [row["id"] for row in _json_rows(client.post(RUN, json=since))] == [f"Observation/{late['id']}"]
