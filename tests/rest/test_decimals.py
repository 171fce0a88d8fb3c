"""Decimals come back exactly as sent and are searched by exact value; repeated JSON keys are refused.

R4 datatypes.html#decimal: precision is part of a decimal (`1.10` is not `1.1`) and no binary float
may stand in for it. Bodies go out as raw text here (httpx would write floats) and come back parsed
with every decimal as its text (`_Text`), so each check compares characters, not floats.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import FHIR_JSON, outcome_codes

JSON_PATCH = {"Content-Type": "application/json-patch+json"}
ASYNC = {"Prefer": "respond-async"}
UCUM = "http://unitsofmeasure.org"

EXACT = [
    "1.10",
    "0.1000000000000000055",
    "100",
    "1.0e2",
    "1.0E+2",
    "-12.50",
    "-0.0",
    "1E-22",
    "0.0000001",
    "1.000000000000000000E-245",
    "-1.000000000000000000E+245",
    "1234567890.123456789012345678901234",  # 34 significant digits: the most decimal128 holds
    "12345678901234567890123",  # an integer beyond 64 bits
    "0.1000000000000000000000000000000000000000000",  # 43 digits, but the value needs one
]


class _Text(str):
    """A JSON decimal as the characters the server wrote."""


def exact(response: httpx.Response) -> Any:
    """The body with every number as its text."""
    return json.loads(response.text, parse_float=_Text, parse_int=_Text)


def with_numbers(resource: dict[str, Any], numbers: dict[str, str]) -> str:
    """`resource` as JSON text with each string placeholder "@name" replaced by the raw number text."""
    text = json.dumps(resource)
    for name, number in numbers.items():
        text = text.replace(f'"@{name}"', number)
    return text


def _system() -> str:
    return f"urn:test:decimals:{uuid.uuid4().hex}"


def _observation(system: str, value: str = "@v", unit: str = "g", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": "weight"}]},
        "identifier": [{"system": system, "value": uuid.uuid4().hex}],
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        **extra,
    }


def _create(client: httpx.Client, text: str, resource_type: str = "Observation") -> dict[str, Any]:
    response = client.post(f"/{resource_type}", content=text)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = exact(response)
    return created


def _component_values(resource: dict[str, Any]) -> list[str]:
    return [component["valueQuantity"]["value"] for component in resource["component"]]


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", []) if entry.get("search", {}).get("mode") != "outcome"]


@pytest.fixture(scope="module")
def many(base_url: str) -> dict[str, Any]:
    """One Observation whose components carry every EXACT value, created once for the round-trip tests."""
    system = _system()
    observation = _observation(system, "@v")
    observation["component"] = [
        {"code": {"text": f"c{i}"}, "valueQuantity": {"value": f"@n{i}", "unit": "g"}} for i in range(len(EXACT))
    ]
    numbers = {"v": "1.10", **{f"n{i}": number for i, number in enumerate(EXACT)}}
    with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=30) as http:
        created = _create(http, with_numbers(observation, numbers))
    return {"system": system, "created": created}


def test_create_answers_with_every_digit(many: dict[str, Any]) -> None:
    assert _component_values(many["created"]) == EXACT
    assert many["created"]["valueQuantity"]["value"] == "1.10"


def test_read_vread_search_and_history_return_every_digit(client: httpx.Client, many: dict[str, Any]) -> None:
    reference = f"Observation/{many['created']['id']}"
    assert _component_values(exact(client.get(f"/{reference}"))) == EXACT
    assert _component_values(exact(client.get(f"/{reference}/_history/1"))) == EXACT
    (found,) = _entries(exact(client.get(f"/Observation?identifier={quote(many['system'])}|")))
    assert _component_values(found) == EXACT
    (history,) = _entries(exact(client.get(f"/{reference}/_history")))
    assert _component_values(history) == EXACT


def test_elements_and_summary_rewrites_keep_every_digit(client: httpx.Client, many: dict[str, Any]) -> None:
    """`_elements` and `_summary` parse and re-write each resource: the decimals must survive that too."""
    query = f"/Observation?identifier={quote(many['system'])}|"
    (elements,) = _entries(exact(client.get(f"{query}&_elements=component,valueQuantity")))
    assert _component_values(elements) == EXACT and elements["valueQuantity"]["value"] == "1.10"
    (summary,) = _entries(exact(client.get(f"{query}&_summary=data")))
    assert _component_values(summary) == EXACT


def test_everything_returns_every_digit(client: httpx.Client) -> None:
    patient = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Decimal"}]}).json()
    subject = {"reference": f"Patient/{patient['id']}"}
    created = _create(client, with_numbers(_observation(_system(), subject=subject), {"v": "0.1000000000000000055"}))
    bundle = exact(client.get(f"/Patient/{patient['id']}/$everything"))
    (observation,) = [r for r in _entries(bundle) if r["resourceType"] == "Observation"]
    assert observation["id"] == created["id"]
    assert observation["valueQuantity"]["value"] == "0.1000000000000000055"


@pytest.mark.parametrize(
    "number",
    [
        "1.2345678901234567890123456789012345",  # 35 significant digits
        "12345678901234567890123456789012345",  # the same as an integer
        "1E+7000",  # beyond decimal128's exponent
        "1E-7000",
    ],
)
def test_decimals_beyond_decimal128_are_refused_and_nothing_is_written(client: httpx.Client, number: str) -> None:
    system = _system()
    response = client.post("/Observation", content=with_numbers(_observation(system), {"v": number}))
    assert response.status_code == 400, response.text
    issues = response.json()["issue"]
    assert [(i["code"], i["expression"]) for i in issues] == [("value", ["Observation.valueQuantity.value"])]
    assert "34 significant digits" in issues[0]["diagnostics"]
    assert _entries(client.get(f"/Observation?identifier={quote(system)}|").json()) == []


def test_an_update_keeps_both_versions_exact(client: httpx.Client) -> None:
    system = _system()
    created = _create(client, with_numbers(_observation(system), {"v": "2.50"}))
    changed = with_numbers({**_observation(system), "id": created["id"]}, {"v": "2.500"})
    response = client.put(f"/Observation/{created['id']}", content=changed)
    assert response.status_code == 200, response.text
    versions = _entries(exact(client.get(f"/Observation/{created['id']}/_history")))
    assert [v["valueQuantity"]["value"] for v in versions] == ["2.500", "2.50"]


# Search by exact value. The values below are one binary float apart from none: 0.1, 0.1000000000000000055
# and 0.09999999999999999999 are all the double 0.1, so any float in the path makes them equal.

SEARCHED = {
    "a": "0.1000000000000000055",
    "b": "0.1",
    "c": "0.09999999999999999999",
    "d": "1.095",
    "e": "1.10",
    "f": "1.105",
}


@pytest.fixture(scope="module")
def searched(base_url: str) -> dict[str, Any]:
    """Observations with SEARCHED values (in grams), under ids whose order is not the values' order."""
    system = _system()
    ids = {}
    with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=30) as http:
        for name, number in SEARCHED.items():
            resource_id = f"dec-{system[-8:]}-{name}"
            text = with_numbers({**_observation(system), "id": resource_id}, {"v": number})
            response = http.put(f"/Observation/{resource_id}", content=text)
            assert response.status_code == 201, response.text
            ids[resource_id] = name
        milligrams = with_numbers(_observation(system, unit="mg"), {"v": "100.0000000000000055"})
        ids[_create(http, milligrams)["id"]] = "mg"
    return {"system": system, "ids": ids}


def _found(client: httpx.Client, searched: dict[str, Any], query: str) -> list[str]:
    code = quote(f"{searched['system']}|weight")
    response = client.get(f"/Observation?code={code}&{query}&_count=50")
    assert response.status_code == 200, response.text
    return [searched["ids"][r["id"]] for r in _entries(response.json())]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("value-quantity=gt0.1", {"a", "d", "e", "f", "mg"}),  # a number alone compares as written: 100 (mg)
        ("value-quantity=ge0.1", {"a", "b", "d", "e", "f", "mg"}),
        ("value-quantity=lt0.1", {"c"}),
        ("value-quantity=lt0.1000000000000000055", {"b", "c"}),
        ("value-quantity=0.1000000000000000055", {"a"}),  # [0.10000000000000000545, 0.10000000000000000555)
        ("value-quantity=0.1", {"a", "b", "c"}),  # [0.05, 0.15)
        ("value-quantity=1.10", {"d", "e"}),  # [1.095, 1.105)
        ("value-quantity=le1.10", {"a", "b", "c", "d", "e"}),
        ("value-quantity=ne1.10", {"a", "b", "c", "f", "mg"}),
        ("value-quantity=sa0.09999999999999999999", {"a", "b", "d", "e", "f", "mg"}),
        (f"value-quantity=gt0.1|{UCUM}|g", {"a", "d", "e", "f", "mg"}),  # 100.0000000000000055 mg > 0.1 g
        (f"value-quantity=100.00|{UCUM}|mg", {"a", "b", "c", "mg"}),  # [99.995, 100.005) mg
        (f"value-quantity=0.1000000000000000055|{UCUM}|g", {"a", "mg"}),
        (f"value-quantity=le100.0000000000000055|{UCUM}|mg", {"a", "b", "c", "mg"}),
        (f"value-quantity=lt100.0000000000000055|{UCUM}|mg", {"b", "c"}),
    ],
)
def test_number_and_quantity_search_compare_exact_values(
    client: httpx.Client, searched: dict[str, Any], query: str, expected: set[str]
) -> None:
    assert set(_found(client, searched, query)) == expected


def test_sort_orders_by_exact_value(client: httpx.Client, searched: dict[str, Any]) -> None:
    assert _found(client, searched, "value-quantity=lt1&_sort=value-quantity") == ["c", "b", "a"]
    assert _found(client, searched, "value-quantity=lt1&_sort=-value-quantity") == ["a", "b", "c"]


def test_risk_assessment_probability_compares_exact_values(client: httpx.Client) -> None:
    system = _system()
    ids = {}
    for number in ("0.1", "0.1000000000000000055", "0.25"):
        risk = {
            "resourceType": "RiskAssessment",
            "status": "final",
            "identifier": [{"system": system, "value": number}],
            "subject": {"reference": "Patient/example"},
            "prediction": [{"probabilityDecimal": "@p"}],
        }
        ids[_create(client, with_numbers(risk, {"p": number}), "RiskAssessment")["id"]] = number

    def found(query: str) -> set[str]:
        bundle = client.get(f"/RiskAssessment?identifier={quote(system)}|&{query}").json()
        return {ids[r["id"]] for r in _entries(bundle)}

    assert found("probability=gt0.1") == {"0.1000000000000000055", "0.25"}
    assert found("probability=0.1000000000000000055") == {"0.1000000000000000055"}
    assert found("probability=le0.1") == {"0.1"}


@pytest.mark.parametrize("value", ["1.2.3", "1.2345678901234567890123456789012345", "1e7000"])
def test_search_values_beyond_decimal128_are_refused(client: httpx.Client, value: str) -> None:
    response = client.get(f"/Observation?value-quantity={value}")
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == ["value-quantity"]


# Writes that parse and re-write resources: transaction, batch, patch.


def test_transaction_and_batch_keep_every_digit(client: httpx.Client) -> None:
    system = _system()
    for kind in ("transaction", "batch"):
        bundle = {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [{"resource": _observation(system), "request": {"method": "POST", "url": "Observation"}}],
        }
        text = with_numbers(bundle, {"v": "0.1000000000000000055"})
        response = client.post("", content=text, headers={"Prefer": "return=representation"})
        assert response.status_code == 200, response.text
        (entry,) = exact(response)["entry"]
        assert entry["response"]["status"].startswith("201")
        assert entry["resource"]["valueQuantity"]["value"] == "0.1000000000000000055"
        read = exact(client.get(f"/Observation/{entry['resource']['id']}"))
        assert read["valueQuantity"]["value"] == "0.1000000000000000055"


def test_json_patch_values_and_tests_are_exact(client: httpx.Client) -> None:
    created = _create(client, with_numbers(_observation(_system()), {"v": "1.10"}))
    path = f"/Observation/{created['id']}"
    equal_by_value = '[{"op": "test", "path": "/valueQuantity/value", "value": 1.1}]'
    assert client.patch(path, content=equal_by_value, headers=JSON_PATCH).status_code == 200
    off_by_a_little = '[{"op": "test", "path": "/valueQuantity/value", "value": 1.100000000000000000001}]'
    response = client.patch(path, content=off_by_a_little, headers=JSON_PATCH)
    assert response.status_code == 422, response.text
    operations = '[{"op": "replace", "path": "/valueQuantity/value", "value": 3.14159265358979323846}]'
    response = client.patch(path, content=operations, headers=JSON_PATCH)
    assert response.status_code == 200, response.text
    assert exact(response)["valueQuantity"]["value"] == "3.14159265358979323846"
    assert exact(client.get(path))["valueQuantity"]["value"] == "3.14159265358979323846"


def test_fhirpath_patch_value_is_exact(client: httpx.Client) -> None:
    created = _create(client, with_numbers(_observation(_system()), {"v": "1.10"}))
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Observation.valueQuantity.value"},
                    {"name": "value", "valueDecimal": "@v"},
                ],
            }
        ],
    }
    text = with_numbers(parameters, {"v": "2.7182818284590452354"})
    response = client.patch(f"/Observation/{created['id']}", content=text)
    assert response.status_code == 200, response.text
    assert exact(client.get(f"/Observation/{created['id']}"))["valueQuantity"]["value"] == "2.7182818284590452354"


def test_bulk_export_ndjson_keeps_every_digit(client: httpx.Client) -> None:
    system = _system()
    _create(client, with_numbers(_observation(system), {"v": "0.1000000000000000055"}))
    params = {"_type": "Observation", "_typeFilter": f"Observation?identifier={system}|"}
    kick_off = client.get("/$export", params=params, headers=ASYNC)
    assert kick_off.status_code == 202, kick_off.text
    deadline = time.monotonic() + 60
    while (status := client.get(kick_off.headers["Content-Location"])).status_code == 202:
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.1)
    assert status.status_code == 200, status.text
    (output,) = status.json()["output"]
    lines = client.get(output["url"]).text.splitlines()
    assert [json.loads(line, parse_float=_Text)["valueQuantity"]["value"] for line in lines] == [
        "0.1000000000000000055"
    ]


# Repeated keys: a body whose meaning depends on which copy a parser keeps is refused.


@pytest.mark.parametrize(
    ("template", "expression"),
    [
        ('{"resourceType": "Patient", "identifier": [@id], "gender": "male", "gender": "female"}', "Patient.gender"),
        (
            '{"resourceType": "Patient", "identifier": [@id], "name": [{"family": "A", "given": [], "family": "C"}]}',
            "Patient.name[0].family",
        ),
        ('{"resourceType": "Patient", "identifier": [@id], "resourceType": "Patient"}', "Patient.resourceType"),
    ],
)
def test_repeated_keys_are_refused_and_nothing_is_written(client: httpx.Client, template: str, expression: str) -> None:
    system = _system()
    body = template.replace("@id", json.dumps({"system": system, "value": "1"}))
    response = client.post("/Patient", content=body)
    assert response.status_code == 400, response.text
    assert [(i["code"], i["expression"]) for i in response.json()["issue"]] == [("structure", [expression])]
    assert f"'{expression.rsplit('.', 1)[1]}'" in response.json()["issue"][0]["diagnostics"]
    assert _entries(client.get(f"/Patient?identifier={quote(system)}|").json()) == []


def test_every_repeated_key_is_named(client: httpx.Client) -> None:
    body = '{"resourceType": "Patient", "active": true, "active": false, "name": [{}, {"text": "a", "text": "b"}]}'
    response = client.post("/Patient", content=body)
    assert response.status_code == 400
    assert [i["expression"] for i in response.json()["issue"]] == [["Patient.active"], ["Patient.name[1].text"]]


def test_repeated_keys_refused_in_updates_transactions_and_patches(client: httpx.Client, patient: dict) -> None:
    path = f"/Patient/{patient['id']}"
    update = f'{{"resourceType": "Patient", "id": "{patient["id"]}", "gender": "male", "gender": "female"}}'
    assert client.put(path, content=update).status_code == 400
    entry = (
        '{"resource": {"resourceType": "Patient", "gender": "male", "gender": "female"},'
        ' "request": {"method": "POST", "url": "Patient"}}'
    )
    response = client.post("", content=f'{{"resourceType": "Bundle", "type": "transaction", "entry": [{entry}]}}')
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.gender"]
    patch = '[{"op": "replace", "path": "/gender", "value": "male", "value": "other"}]'
    response = client.patch(path, content=patch, headers=JSON_PATCH)
    assert response.status_code == 400 and outcome_codes(response) == ["structure"]
    assert client.get(path).json()["meta"]["versionId"] == "1"


def test_invalid_json_still_gets_a_clear_400(client: httpx.Client) -> None:
    for body in (
        '{"resourceType": "Patient",}',
        '{"resourceType": "Patient", "active": NaN}',
        '["\\ud800"]',
        "[" * 5000,
    ):
        response = client.post("/Patient", content=body)
        assert response.status_code == 400, (body[:40], response.text)
        assert "not valid JSON" in response.json()["issue"][0]["diagnostics"]


def test_bulk_import_keeps_every_digit_and_refuses_repeated_keys(client: httpx.Client) -> None:
    system = _system()
    observation = with_numbers(
        {**_observation(system), "id": f"dec-import-{system[-12:]}"}, {"v": "0.1000000000000000055"}
    )
    repeated = '{"resourceType": "Patient", "gender": "male", "gender": "female"}'
    headers = {"Content-Type": "application/fhir+ndjson", **ASYNC}
    response = client.post("/$import", content=f"{observation}\n{repeated}\n", headers=headers)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 60
    while (status := client.get(response.headers["Content-Location"])).status_code == 202:
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.1)
    manifest = status.json()
    assert {o["type"]: o["count"] for o in manifest["output"]} == {"Observation": 1}
    (error,) = manifest["error"]
    outcome = client.get(error["url"]).json()
    assert "line 2" in outcome["issue"][0]["diagnostics"] and "Patient.gender" in outcome["issue"][0]["diagnostics"]
    read = exact(client.get(f"/Observation/dec-import-{system[-12:]}"))
    assert read["valueQuantity"]["value"] == "0.1000000000000000055"
