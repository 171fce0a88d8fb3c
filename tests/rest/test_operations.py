"""Declared operations: the CapabilityStatement points at OperationDefinitions the server serves,
each valid R4; an undeclared operation is refused as not supported."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import profiles
from fhir_server.rest.operations.catalog import OPERATIONS

OFFICIAL = {
    # name: (use, min, max, type), from the official definitions: R4 Patient-everything (4.0.1),
    # US Core docref (6.1.0 / 7.0.0), Bulk Data STU2 export, patient-export, group-export (2.0.0)
    "Patient-everything": {
        "start": ("in", 0, "1", "date"), "end": ("in", 0, "1", "date"), "_since": ("in", 0, "1", "instant"),
        "_type": ("in", 0, "*", "code"), "_count": ("in", 0, "1", "integer"), "_offset": ("in", 0, "1", "integer"),
        "return": ("out", 1, "1", "Bundle"),
    },
    "docref": {
        "patient": ("in", 1, "1", "id"), "start": ("in", 0, "1", "dateTime"), "end": ("in", 0, "1", "dateTime"),
        "type": ("in", 0, "*", "Coding"), "on-demand": ("in", 0, "1", "boolean"),
        "profile": ("in", 0, "*", "canonical"), "return": ("out", 1, "1", "Bundle"),
    },
    "export": {
        "_outputFormat": ("in", 0, "1", "string"), "_since": ("in", 0, "1", "instant"),
        "_type": ("in", 0, "*", "string"), "_elements": ("in", 0, "*", "string"),
        "includeAssociatedData": ("in", 0, "*", "code"), "_typeFilter": ("in", 0, "*", "string"),
    },
}  # fmt: skip
OFFICIAL["patient-export"] = OFFICIAL["group-export"] = {**OFFICIAL["export"], "patient": ("in", 0, "*", "Reference")}
EXTRA = {("Patient-everything", "patient")}
"""Parameters this server takes beyond the official definition."""
NOT_SUPPORTED = {
    ("Patient-everything", "start"), ("Patient-everything", "end"), ("Patient-everything", "_offset"),
    *((op, name) for op in ("export", "patient-export", "group-export")
      for name in ("_elements", "includeAssociatedData")),
}  # fmt: skip
"""Official parameters this server refuses (400), so its definitions leave them out."""


def _statement_operations(statement: dict[str, Any]) -> list[tuple[str | None, dict[str, str]]]:
    rest = statement["rest"][0]
    found: list[tuple[str | None, dict[str, str]]] = [(None, entry) for entry in rest.get("operation", [])]
    for resource in rest["resource"]:
        found += [(resource["type"], entry) for entry in resource.get("operation", [])]
    return found


def test_every_declared_operation_is_listed_with_a_definition_the_server_serves(client: httpx.Client) -> None:
    listed = _statement_operations(client.get("/metadata").json())
    definitions = {entry["definition"] for _type, entry in listed}
    served = {}
    for url in definitions:
        response = client.get(f"/OperationDefinition/{url.rsplit('/', 1)[1]}")
        assert response.status_code == 200, url
        served[url] = response.json()
        assert served[url]["url"] == url
    for resource_type, entry in listed:
        definition = served[entry["definition"]]
        assert definition["code"] == entry["name"]
        if resource_type is None:
            assert definition["system"] is True
        else:
            assert resource_type in definition["resource"] or definition["resource"] == ["Resource"]
    assert {definition["id"] for definition in served.values()} == {operation.id for operation in OPERATIONS}
    system = {entry["name"] for resource_type, entry in listed if resource_type is None}
    assert system == {"export", "import", "reindex", "report", "reports", "viewdefinition-run", "viewdefinition-export"}


@pytest.mark.parametrize("operation_id", [operation.id for operation in OPERATIONS])
def test_each_definition_is_valid_r4_and_the_server_accepts_it(client: httpx.Client, operation_id: str) -> None:
    response = client.get(f"/OperationDefinition/{operation_id}")
    assert response.status_code == 200
    definition = response.json()
    assert definition["resourceType"] == "OperationDefinition" and definition["id"] == operation_id
    assert profiles.validate_resource(definition) == []
    copy = {key: value for key, value in definition.items() if key != "id"}
    created = client.post("/OperationDefinition", json=copy)  # the server's own validation on create
    assert created.status_code == 201, created.text
    assert client.get(f"/OperationDefinition/{created.json()['id']}").json()["url"] == definition["url"]


@pytest.mark.parametrize("operation_id", sorted(OFFICIAL))
def test_standard_definitions_keep_the_official_parameters(client: httpx.Client, operation_id: str) -> None:
    definition = client.get(f"/OperationDefinition/{operation_id}").json()
    official = OFFICIAL[operation_id]
    generated = {p["name"]: (p["use"], p["min"], p["max"], p["type"]) for p in definition["parameter"]}
    for name, shape in generated.items():
        assert shape == official.get(name) or (operation_id, name) in EXTRA, name
    left_out = {(operation_id, name) for name in official if name not in generated}
    assert left_out == {item for item in NOT_SUPPORTED if item[0] == operation_id}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/$foo"),
        ("POST", "/$foo"),
        ("GET", "/Patient/$foo"),
        ("POST", "/Patient/123/$foo"),
        ("GET", "/Encounter/123/$everything"),
        ("GET", "/Observation/$everything"),
        ("GET", "/DocumentReference/123/$docref"),
        ("GET", "/Patient/123/$export"),
        ("POST", "/Group/$export"),
    ],
)
def test_an_undeclared_operation_is_not_supported(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    [issue] = response.json()["issue"]
    assert issue["code"] == "not-supported"
    assert path.rsplit("/", 1)[1] in issue["diagnostics"]


def test_bad_type_or_id_before_the_operation(client: httpx.Client) -> None:
    assert client.get("/Unknown/$everything").json()["issue"][0]["code"] == "not-found"
    bad_id = client.post("/Group/bad!id/$export", headers=STRICT_ASYNC)
    assert bad_id.status_code == 400


def test_an_operation_that_changes_data_refuses_get(client: httpx.Client) -> None:
    for path in ("/$reindex", "/Patient/$reindex", "/$import"):
        response = client.get(path)
        assert response.status_code == 405, path
        assert response.headers["Allow"] == "POST"
        assert response.json()["issue"][0]["code"] == "not-supported"


def test_generated_definitions_are_read_only_and_stored_ones_still_work(client: httpx.Client) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        refused = client.request(method, "/OperationDefinition/Patient-everything", json={})
        assert refused.status_code == 405
        assert refused.headers["Allow"] == "GET"
    assert client.get("/OperationDefinition/Patient-everything").json()["code"] == "everything"
    mine = {
        "resourceType": "OperationDefinition", "status": "draft", "kind": "operation", "name": "Mine",
        "code": "mine", "system": False, "type": True, "instance": False, "resource": ["Appointment"],
        "url": "http://example.org/OperationDefinition/mine-test",
    }  # fmt: skip
    updated = client.put("/OperationDefinition/mine-test", json={**mine, "id": "mine-test"})
    assert updated.status_code in (200, 201)
    assert client.get("/OperationDefinition/mine-test").json()["url"] == mine["url"]
    found = client.get("/OperationDefinition", params={"url": mine["url"]}).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == ["mine-test"]
    assert client.delete("/OperationDefinition/mine-test").status_code in (200, 204)


def test_bundles_cannot_write_a_generated_definition_either(client: httpx.Client) -> None:
    """The route refuses PUT; a transaction or batch entry reaches the engine without it (a write rule)."""
    hidden = {"resourceType": "OperationDefinition", "id": "Patient-everything", "status": "draft", "kind": "operation",
              "name": "Hidden", "code": "hidden", "system": True, "type": False, "instance": False}  # fmt: skip
    entry = {"resource": hidden, "request": {"method": "PUT", "url": "OperationDefinition/Patient-everything"}}
    transaction = client.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    assert transaction.status_code == 405
    assert "Patient-everything" in transaction.json()["issue"][0]["diagnostics"]
    batch = client.post("", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]}).json()
    assert batch["entry"][0]["response"]["status"].startswith("405")
    history = client.get("/OperationDefinition/Patient-everything/_history")
    assert history.status_code == 404 or history.json().get("total", 0) == 0  # nothing was stored
    assert client.get("/OperationDefinition/Patient-everything").json()["code"] == "everything"


STRICT_ASYNC = {"Prefer": "respond-async, handling=strict"}


def _invocation_paths(operation_id: str) -> list[tuple[str, str]]:
    operation = next(op for op in OPERATIONS if op.id == operation_id)
    resource_type = next(iter(operation.resource_types), "Patient").replace("Resource", "Patient")
    paths = {"system": "/", "type": f"/{resource_type}/", "instance": f"/{resource_type}/x1/"}
    return [(level, paths[level] + "$" + operation.code) for level in operation.levels]


@pytest.mark.parametrize("operation_id", [op.id for op in OPERATIONS if not op.affects_state])
def test_every_declared_input_parameter_is_understood(client: httpx.Client, operation_id: str) -> None:
    """A declared parameter may be refused for its value, never as unknown to the operation."""
    operation = next(op for op in OPERATIONS if op.id == operation_id)
    for level, path in _invocation_paths(operation_id):
        for parameter in (p for p in operation.parameters if p.use == "in" and level in (p.levels or (level,))):
            response = client.get(path, params={parameter.name: "!"}, headers=STRICT_ASYNC)
            issues = response.json().get("issue", []) if response.status_code >= 400 else []
            unknown = [i for i in issues if i["code"] == "not-supported" or "nknown" in i["diagnostics"]]
            assert not unknown, (path, parameter.name, issues)
        refused = client.get(path, params={"no-such-parameter": "1"}, headers=STRICT_ASYNC)
        assert refused.status_code == 400, path  # the check above can fail
