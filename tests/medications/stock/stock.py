"""Building a small dispensary over the FHIR API for the stock tests (products, lots, locations, receipts)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from pymongo import MongoClient

from fhir_server.medications.stock.model import PRODUCT, STOCK_LOCATION, UNIT_COST

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def location(client: httpx.Client, name: str = "Pharmacy room") -> str:
    body = {"resourceType": "Location", "name": f"{name} {uuid.uuid4().hex[:6]}", "status": "active"}
    return f"Location/{created(client.post('/Location', json=body))['id']}"


def product(client: httpx.Client, code: str = "197361", name: str = "Amlodipine 5 MG Oral Tablet") -> str:
    body = {
        "resourceType": "Medication",
        "code": {"coding": [{"system": RXNORM, "code": code, "display": name}], "text": name},
        "form": {"text": "tablet"},
        "status": "active",
    }
    return f"Medication/{created(client.post('/Medication', json=body))['id']}"


def lot(client: httpx.Client, of: str, expires_in_days: int = 365, number: str | None = None) -> str:
    stored = client.get(f"/{of}").json()
    expiry = (date.today() + timedelta(days=expires_in_days)).isoformat()
    body = {
        "resourceType": "Medication",
        "code": stored["code"],
        "status": "active",
        "manufacturer": {"display": "Acme Pharma"},
        "batch": {"lotNumber": number or f"L{uuid.uuid4().hex[:6].upper()}", "expirationDate": expiry},
        "extension": [
            {"url": PRODUCT, "valueReference": {"reference": of}},
            {"url": UNIT_COST, "valueMoney": {"value": 0.25, "currency": "USD"}},
        ],
    }
    return f"Medication/{created(client.post('/Medication', json=body))['id']}"


def receive(client: httpx.Client, lot_ref: str, where: str, quantity: int | str) -> httpx.Response:
    return client.post(
        "/SupplyDelivery",
        json={
            "resourceType": "SupplyDelivery",
            "status": "completed",
            "suppliedItem": {"quantity": {"value": quantity}, "itemReference": {"reference": lot_ref}},
            "destination": {"reference": where},
        },
    )


def dispense_body(lot_ref: str, where: str, quantity: Any, patient: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "status": "completed",
        "medicationReference": {"reference": lot_ref},
        "location": {"reference": where},
        "quantity": {"value": quantity},
        **extra,
    }
    if patient:
        body["subject"] = {"reference": patient}
    return body


def administration_body(lot_ref: str, where: str, dose: Any, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "medicationReference": {"reference": lot_ref},
        "subject": {"reference": patient},
        "effectiveDateTime": "2026-12-06T10:00:00Z",
        "dosage": {"dose": {"value": dose}},
        "extension": [{"url": STOCK_LOCATION, "valueReference": {"reference": where}}],
    }


class Ledger:
    """The ledger as the database holds it, to check it against the balances."""

    def __init__(self, uri: str, database: str = "fhir_tests") -> None:
        self._client: MongoClient[dict[str, Any]] = MongoClient(uri)
        self._entries = self._client[database]["stock_ledger"]

    def close(self) -> None:
        self._client.close()

    def entries(self, lot_ref: str) -> list[dict[str, Any]]:
        return list(self._entries.find({"lot": lot_ref}).sort("seq", 1))

    def total(self, lot_ref: str, where: str) -> Decimal:
        return sum((e["quantity"].to_decimal() for e in self._entries.find({"lot": lot_ref, "location": where})),
                   Decimal(0))  # fmt: skip

    def lot_balance(self, lot_ref: str, where: str) -> Decimal:
        last = self._entries.find_one({"lot": lot_ref, "location": where}, sort=[("seq", -1)])
        return Decimal(0) if last is None else last["lotBalance"].to_decimal()


def parameters(**values: Any) -> dict[str, Any]:
    """A Parameters resource: references as valueReference, numbers as valueDecimal, the rest as valueString."""
    parameter = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, str) and "/" in value:
            parameter.append({"name": name, "valueReference": {"reference": value}})
        elif isinstance(value, int | float | Decimal):
            parameter.append({"name": name, "valueDecimal": value})
        else:
            parameter.append({"name": name, "valueString": str(value)})
    return {"resourceType": "Parameters", "parameter": parameter}


def operation(client: httpx.Client, path: str, **values: Any) -> httpx.Response:
    return client.post(path, json=parameters(**values))


def on_hand(client: httpx.Client, **criteria: str) -> dict[tuple[str, str], Decimal]:
    """(lot, location) → on-hand, from `Medication/$on-hand`."""
    response = client.get("/Medication/$on-hand", params=criteria)
    assert response.status_code == 200, response.text
    rows = {}
    for row in response.json().get("parameter", []):
        parts = {part["name"]: part for part in row["part"]}
        key = (parts["lot"]["valueReference"]["reference"], parts["location"]["valueReference"]["reference"])
        rows[key] = Decimal(str(parts["onHand"]["valueDecimal"]))
    return rows


def prescription(client: httpx.Client, patient: str, medication: str, quantity: int, refills: int) -> str:
    body = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": patient},
        "medicationReference": {"reference": medication},
        "dosageInstruction": [{"text": "Take one tablet by mouth once a day"}],
        "dispenseRequest": {
            "quantity": {"value": quantity},
            "numberOfRepeatsAllowed": refills,
            "expectedSupplyDuration": {"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"},
        },
    }
    return f"MedicationRequest/{created(client.post('/MedicationRequest', json=body))['id']}"


def refused(response: httpx.Response, status: int, expression: str) -> str:
    """Check a refusal: its status, an OperationOutcome naming `expression`; the diagnostics."""
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome", outcome
    assert outcome["issue"][0]["expression"] == [expression], outcome
    return str(outcome["issue"][0]["diagnostics"])
