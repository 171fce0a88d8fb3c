"""Billing test data over HTTP: a patient with an account (self-pay or covered by a payer), charges, payments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from fhir_server.fhir_json import loads
from tests.conftest import new_patient


def created(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/{resource['resourceType']}", content=orjson.dumps(resource))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Billed:
    """A patient, their account and (when covered) the payer and coverage."""

    patient: str
    account: str
    payer: str | None = None
    coverage: str | None = None


def billed_patient(client: httpx.Client, covered: bool = False, language: str | None = None) -> Billed:
    extra: dict[str, Any] = {}
    if language:
        extra["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]}}]
    patient = created(client, new_patient(f"Bill{uuid.uuid4().hex[:6]}", **extra))["id"]
    payer = coverage = None
    account: dict[str, Any] = {
        "resourceType": "Account",
        "status": "active",
        "name": "Patient account",
        "subject": [{"reference": f"Patient/{patient}"}],
    }
    if covered:
        payer = created(client, {"resourceType": "Organization", "name": "Acme Health Plan"})["id"]
        coverage = created(
            client,
            {
                "resourceType": "Coverage",
                "status": "active",
                "beneficiary": {"reference": f"Patient/{patient}"},
                "subscriberId": "M123",  # a payer coverage needs the member id (the coverage rule)
                "payor": [{"reference": f"Organization/{payer}"}],
            },
        )["id"]
        account["coverage"] = [{"coverage": {"reference": f"Coverage/{coverage}"}, "priority": 1}]
    account_id = created(client, account)["id"]
    return Billed(patient, account_id, payer, coverage)


def charge(billed: Billed, amount: str, currency: str = "USD", day: str = "2026-11-02", **extra: Any) -> dict[str, Any]:
    """A billable ChargeItem on the patient's account, priced `amount` (JSON number text, kept exact)."""
    return {
        "resourceType": "ChargeItem",
        "status": "billable",
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]},
        "subject": {"reference": f"Patient/{billed.patient}"},
        "account": [{"reference": f"Account/{billed.account}"}],
        "occurrenceDateTime": day,
        "priceOverride": {"value": orjson.Fragment(amount.encode()), "currency": currency},
        **extra,
    }


def desk_payment(billed: Billed, amount: str, currency: str = "USD", method: str = "cash") -> dict[str, Any]:
    """A patient's payment at the desk: a PaymentReconciliation whose detail names the account."""
    return {
        "resourceType": "PaymentReconciliation",
        "status": "active",
        "created": "2026-11-20T10:00:00Z",
        "paymentDate": "2026-11-20",
        "paymentAmount": {"value": orjson.Fragment(amount.encode()), "currency": currency},
        "paymentIdentifier": {"system": "urn:fhir-server:billing:payment-method", "value": method},
        "detail": [
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/payment-type", "code": "payment"}]
                },
                "request": {"reference": f"Account/{billed.account}"},
                "date": "2026-11-20",
                "amount": {"value": orjson.Fragment(amount.encode()), "currency": currency},
            }
        ],
    }


def exact(response: httpx.Response) -> Any:
    """The response body with decimals as their exact text (FhirDecimal; a float would turn `3.10` into 3.1)."""
    return loads(response.content)


def money_text(value: dict[str, Any]) -> str:
    return f"{value['value']} {value['currency']}"


def balance(client: httpx.Client, account: str) -> dict[str, str]:
    """The $balance Parameters as {"balance": "3.10 USD", "<party>": "<amount> <currency>"}."""
    response = client.get(f"/Account/{account}/$balance")
    assert response.status_code == 200, response.text
    out: dict[str, str] = {}
    for parameter in exact(response)["parameter"]:
        if parameter["name"] == "balance":
            out["balance"] = money_text(parameter["valueMoney"])
        if parameter["name"] == "owedBy":
            parts = {part["name"]: part for part in parameter["part"]}
            out[parts["party"]["valueReference"]["reference"]] = money_text(parts["balance"]["valueMoney"])
    return out
