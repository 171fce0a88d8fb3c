"""The mapped Bundles go through the real server: preliminary then final results update, never duplicate."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from adapters.hl7v2.mapping import map_message
from fhir_server.fhir_json import dumps

from .samples import message, resources


def _search(client: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = client.get(query)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


def _by_identifier(client: httpx.Client, resource_type: str, identifier: dict[str, Any]) -> list[dict[str, Any]]:
    token = quote(f"{identifier['system']}|{identifier['value']}", safe="")
    return _search(client, f"/{resource_type}?identifier={token}")


def test_preliminary_then_final_updates_the_same_resources(client: httpx.Client) -> None:
    first = map_message(message("fhirconv_LAB-ORU-1.hl7")).bundle
    response = client.post("", content=dumps(first))
    assert response.status_code == 200, response.text
    (patient,) = _by_identifier(client, "Patient", {"system": "urn:hl7v2:assigning-authority:1", "value": "10006579"})
    observations = _search(client, f"/Observation?subject=Patient/{patient['id']}&_count=200")
    assert len(observations) == 10
    report_key = {"system": "urn:hl7v2:diagnostic-report", "value": "890775544"}
    (report,) = _by_identifier(client, "DiagnosticReport", report_key)
    assert len(report["result"]) == 5

    second = map_message(message("fhirconv_LAB-ORU-2.hl7")).bundle
    response = client.post("", content=dumps(second))
    assert response.status_code == 200, response.text
    assert len(_search(client, f"/Observation?subject=Patient/{patient['id']}&_count=200")) == 10
    (again,) = _by_identifier(client, "DiagnosticReport", report_key)
    assert again["id"] == report["id"] and len(again["result"]) == 5
    assert len(_search(client, f"/Patient?identifier={quote('urn:hl7v2:assigning-authority:1|10006579')}")) == 1
    for observation in resources(second, "Observation"):
        (stored,) = _by_identifier(client, "Observation", observation["identifier"][0])
        assert stored["status"] == "final"
    basophils = {"system": "urn:hl7v2:obx", "value": "890775544-30180-4-"}
    (stored,) = _by_identifier(client, "Observation", basophils)
    assert stored["valueQuantity"]["value"] == 0 and stored["valueQuantity"]["code"] == "%"
    for task in resources(second, "Task"):
        assert len(_by_identifier(client, "Task", task["identifier"][0])) == 1
    (specimen,) = _search(client, f"/Specimen?subject=Patient/{patient['id']}")
    assert specimen["type"]["coding"][0]["code"] == "BLD"
