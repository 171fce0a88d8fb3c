"""The CapabilityStatement says what the server really does."""

from __future__ import annotations

import httpx

import profiles


def test_capability_statement_lists_every_type_and_real_interactions(client: httpx.Client) -> None:
    response = client.get("/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    assert "application/fhir+json" in statement["format"]
    rest = statement["rest"][0]
    assert len(rest["resource"]) == len(profiles.RESOURCE_TYPES) == 146
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert codes == {
        "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type",
    }  # fmt: skip
    assert {"_id", "_lastUpdated", "name", "birthdate", "identifier", "race"} <= {
        p["name"] for p in patient["searchParam"]
    }
    assert patient["conditionalCreate"] is True
    assert patient["conditionalDelete"] == "multiple"
    assert "Patient:organization" in patient["searchInclude"]
    assert [i["code"] for i in rest["interaction"]] == ["transaction", "batch", "search-system", "history-system"]


def test_capability_statement_is_itself_valid_r4(client: httpx.Client) -> None:
    statement = client.get("/metadata").json()
    assert profiles.validate_resource(statement) == []
