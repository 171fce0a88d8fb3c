"""Builders for the billing tests: fee entries, payers, coverages, providers, encounters."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from fhir_server.billing.codes import CPT, FEE_SCHEDULE, ICD10CM, NPI, PAYER_ID, PRICE_LEVEL, TAX_ID, TAXONOMY


class Num(str):
    """A JSON number written exactly as this text (httpx's json= would go through float)."""


def exact_json(value: Any) -> bytes:
    """`value` as JSON, Num values written as numbers with their text (`1.10` stays `1.10`)."""
    return _exact(value).encode()


def _exact(value: Any) -> str:
    if isinstance(value, Num):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_exact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_exact(v) for v in value) + "]"
    return json.dumps(value)


def post(client: httpx.Client, resource: dict[str, Any]) -> httpx.Response:
    return client.post(f"/{resource['resourceType']}", content=exact_json(resource))


def created(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = post(client, resource)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def local_code() -> str:
    """A billing code no other test uses (the fee schedule is shared by the session's server)."""
    return "X" + uuid.uuid4().hex[:7].upper()


def fee_entry(code: str, levels: dict[str, str], start: str = "2026-01-01", end: str | None = None) -> dict[str, Any]:
    """A fee schedule entry pricing `code` at `levels` ({level: "12.30"})."""
    groups = [
        {
            "priceComponent": [
                {
                    "type": "base",
                    "code": {"coding": [{"system": PRICE_LEVEL, "code": level}]},
                    "amount": {"value": Num(amount), "currency": "USD"},
                }
            ]
        }
        for level, amount in levels.items()
    ]
    return {
        "resourceType": "ChargeItemDefinition",
        "url": FEE_SCHEDULE + code,
        "status": "active",
        "code": {"coding": [{"system": CPT, "code": code}]},
        "effectivePeriod": {"start": start, **({"end": end} if end else {})},
        "propertyGroup": groups,
    }


def payer(client: httpx.Client, name: str = "Acme Health") -> dict[str, Any]:
    return created(
        client,
        {
            "resourceType": "Organization",
            "name": name,
            "type": [
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "pay"}]}
            ],
            "identifier": [{"system": PAYER_ID, "value": "ACME1"}],
        },
    )


def clinic(client: httpx.Client, npi: str | None = "1234567893") -> dict[str, Any]:
    identifiers = [{"system": TAX_ID, "value": "12-3456789"}]
    if npi:
        identifiers.append({"system": NPI, "value": npi})
    return created(
        client,
        {
            "resourceType": "Organization",
            "name": "Good Clinic",
            "identifier": identifiers,
            "telecom": [{"system": "phone", "value": "555-555-1234"}],
            "address": [{"line": ["1 Main St"], "city": "Springfield", "state": "IL", "postalCode": "62701-1234"}],
        },
    )


def practitioner(client: httpx.Client, npi: str | None = "1245319599") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "name": [{"family": "Smith", "given": ["Ann"]}],
        "qualification": [{"code": {"coding": [{"system": TAXONOMY, "code": "207Q00000X"}]}}],
    }
    if npi:
        resource["identifier"] = [{"system": NPI, "value": npi}]
    return created(client, resource)


def patient(client: httpx.Client) -> dict[str, Any]:
    return created(
        client,
        {
            "resourceType": "Patient",
            "name": [{"family": "Doe", "given": ["Jane"]}],
            "gender": "female",
            "birthDate": "1980-01-02",
            "address": [{"line": ["2 Oak St"], "city": "Springfield", "state": "IL", "postalCode": "62702"}],
        },
    )


def coverage(client: httpx.Client, patient_id: str, payer_id: str, order: int = 1, **extra: Any) -> dict[str, Any]:
    return created(
        client,
        {
            "resourceType": "Coverage",
            "status": "active",
            "beneficiary": {"reference": f"Patient/{patient_id}"},
            "subscriber": {"reference": f"Patient/{patient_id}"},
            "subscriberId": "M123",
            "relationship": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}]
            },
            "payor": [{"reference": f"Organization/{payer_id}"}],
            "order": order,
            "class": [
                {
                    "type": {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}]
                    },
                    "value": "G1",
                }
            ],
            **extra,
        },
    )


def condition(client: httpx.Client, patient_id: str, code: str) -> dict[str, Any]:
    return created(
        client,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{patient_id}"},
            "code": {"coding": [{"system": ICD10CM, "code": code}]},
        },
    )


def encounter(client: httpx.Client, patient_id: str, em_code: str, **extra: Any) -> dict[str, Any]:
    return created(
        client,
        {
            "resourceType": "Encounter",
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": CPT, "code": em_code}]}],
            "subject": {"reference": f"Patient/{patient_id}"},
            "period": {"start": "2026-06-01T09:00:00Z"},
            **extra,
        },
    )


def finish(client: httpx.Client, resource: dict[str, Any], status: str = "finished") -> dict[str, Any]:
    response = client.put(
        f"/{resource['resourceType']}/{resource['id']}", content=exact_json({**resource, "status": status})
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def charges_of(client: httpx.Client, source: str) -> list[dict[str, Any]]:
    bundle = client.get("/ChargeItem", params={"identifier": f"urn:fhir-server:charge-source|{source}"}).json()
    return [entry["resource"] for entry in bundle.get("entry", [])]
