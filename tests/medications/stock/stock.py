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
