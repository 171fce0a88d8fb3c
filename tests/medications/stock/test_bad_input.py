"""Bad input to the dispensary: each a 4xx OperationOutcome naming the element, nothing written, ledger unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fhir_server.storage import EmbeddedDatabase
from tests.medications.stock.stock import (
    Ledger,
    dispense_body,
    location,
    lot,
    operation,
    prescription,
    product,
    receive,
    refused,
)


@dataclass
class Shelf:
    where: str
    drug: str
    batch: str
    expired: str
    patient: str


@pytest.fixture()
def ledger(database: EmbeddedDatabase) -> Iterator[Ledger]:
    book = Ledger(database.uri)
    yield book
    book.close()


@pytest.fixture()
def shelf(client: httpx.Client, patient: dict) -> Shelf:
    where, drug = location(client), product(client)
    batch, expired = lot(client, drug), lot(client, drug, -10)
    assert receive(client, batch, where, 50).status_code == 201
    assert receive(client, expired, where, 5).status_code == 201
    return Shelf(where, drug, batch, expired, f"Patient/{patient['id']}")


def _snapshot(client: httpx.Client, ledger: Ledger, shelf: Shelf) -> tuple[Any, ...]:
    dispenses = client.get("/MedicationDispense", params={"subject": shelf.patient, "_summary": "count"}).json()
    return (
        [e["_id"] for e in ledger.entries(shelf.batch)],
        [e["_id"] for e in ledger.entries(shelf.expired)],
        dispenses["total"],
    )


def _unchanged(client: httpx.Client, ledger: Ledger, shelf: Shelf, before: tuple[Any, ...]) -> None:
    assert _snapshot(client, ledger, shelf) == before
    assert ledger.lot_balance(shelf.batch, shelf.where) == 50 and ledger.total(shelf.batch, shelf.where) == 50


def test_unknown_medication(client: httpx.Client, ledger: Ledger, shelf: Shelf) -> None:
    before = _snapshot(client, ledger, shelf)
    body = dispense_body("Medication/no-such-drug", shelf.where, 1, shelf.patient)
    assert "no-such-drug" in refused(
        client.post("/MedicationDispense", json=body), 422, "MedicationDispense.medicationReference"
    )
    by_operation = operation(
        client, "/MedicationDispense/$dispense", medication="Medication/no-such-drug", location=shelf.where, quantity=1
    )
    refused(by_operation, 422, "Parameters.parameter.where(name='medication')")
    _unchanged(client, ledger, shelf, before)


@pytest.mark.parametrize("quantity", [0, -3, "3"])
def test_quantity_not_above_zero(client: httpx.Client, ledger: Ledger, shelf: Shelf, quantity: Any) -> None:
    before = _snapshot(client, ledger, shelf)
    body = dispense_body(shelf.batch, shelf.where, quantity, shelf.patient)
    response = client.post("/MedicationDispense", json=body)
    assert response.status_code == 400, response.text  # the profile refuses a string; the rule zero and below
    if not isinstance(quantity, str):
        refused(response, 400, "MedicationDispense.quantity.value")
        refused(receive(client, shelf.batch, shelf.where, quantity), 400, "SupplyDelivery.suppliedItem.quantity.value")
        transfer = operation(
            client,
            f"/{shelf.batch}/$stock-transfer",
            **{"from": shelf.where, "to": location(client), "quantity": quantity},
        )
        refused(transfer, 400, "Parameters.parameter.where(name='quantity')")
    _unchanged(client, ledger, shelf, before)


def test_dispense_above_what_was_prescribed(client: httpx.Client, ledger: Ledger, shelf: Shelf) -> None:
    order = prescription(client, shelf.patient, shelf.drug, quantity=10, refills=0)
    before = _snapshot(client, ledger, shelf)
    body = dispense_body(shelf.batch, shelf.where, 11, shelf.patient, authorizingPrescription=[{"reference": order}])
    assert "at most 10" in refused(
        client.post("/MedicationDispense", json=body), 422, "MedicationDispense.quantity.value"
    )
    by_operation = operation(
        client, "/MedicationDispense/$dispense", prescription=order, location=shelf.where, quantity=12
    )
    refused(by_operation, 422, "MedicationDispense.quantity.value")
    _unchanged(client, ledger, shelf, before)


def test_expired_lot(client: httpx.Client, ledger: Ledger, shelf: Shelf) -> None:
    before = _snapshot(client, ledger, shelf)
    body = dispense_body(shelf.expired, shelf.where, 1, shelf.patient)
    assert "expired" in refused(
        client.post("/MedicationDispense", json=body), 422, "MedicationDispense.medicationReference"
    )
    _unchanged(client, ledger, shelf, before)
    assert ledger.lot_balance(shelf.expired, shelf.where) == 5


def test_refill_after_the_last_one(client: httpx.Client, ledger: Ledger, shelf: Shelf) -> None:
    order = prescription(client, shelf.patient, shelf.drug, quantity=5, refills=1)
    for _fill in range(2):
        assert (
            operation(client, "/MedicationDispense/$dispense", prescription=order, location=shelf.where).status_code
            == 201
        )
    fills = client.get("/MedicationDispense", params={"prescription": order, "_summary": "count"}).json()["total"]
    entries = [e["_id"] for e in ledger.entries(shelf.batch)]
    body = dispense_body(shelf.batch, shelf.where, 5, shelf.patient, authorizingPrescription=[{"reference": order}])
    refused(client.post("/MedicationDispense", json=body), 422, "MedicationDispense.authorizingPrescription[0]")
    refused(operation(client, "/MedicationDispense/$dispense", prescription=order, location=shelf.where), 422,
            "MedicationDispense.authorizingPrescription[0]")  # fmt: skip
    assert (
        client.get("/MedicationDispense", params={"prescription": order, "_summary": "count"}).json()["total"] == fills
    )
    assert [e["_id"] for e in ledger.entries(shelf.batch)] == entries
    assert ledger.lot_balance(shelf.batch, shelf.where) == 40 == ledger.total(shelf.batch, shelf.where)


def test_transfer_to_an_unknown_location(client: httpx.Client, ledger: Ledger, shelf: Shelf) -> None:
    before = _snapshot(client, ledger, shelf)
    moved = operation(
        client, f"/{shelf.batch}/$stock-transfer", **{"from": shelf.where, "to": "Location/nowhere", "quantity": 1}
    )
    assert "nowhere" in refused(moved, 422, "Parameters.parameter.where(name='to')")
    to_nothing = operation(client, f"/{shelf.batch}/$stock-transfer", **{"from": shelf.where, "quantity": 1})
    refused(to_nothing, 400, "Parameters.parameter.where(name='to')")
    body = dispense_body(shelf.batch, "Location/nowhere", 1, shelf.patient)
    refused(client.post("/MedicationDispense", json=body), 422, "MedicationDispense.location")
    _unchanged(client, ledger, shelf, before)


def test_adjustment_needs_a_known_reason_and_a_lot(client: httpx.Client, ledger: Ledger, shelf: Shelf) -> None:
    before = _snapshot(client, ledger, shelf)
    odd = operation(client, f"/{shelf.batch}/$stock-adjust", location=shelf.where, quantity=-1, reason="lost")
    refused(odd, 400, "Parameters.parameter.where(name='reason')")
    on_product = operation(client, f"/{shelf.drug}/$stock-adjust", location=shelf.where, quantity=-1, reason="count")
    refused(on_product, 422, "Medication.batch.lotNumber")
    below_zero = operation(client, f"/{shelf.batch}/$stock-adjust", location=shelf.where, quantity=-51, reason="count")
    refused(below_zero, 409, "Parameters.parameter.where(name='quantity')")
    _unchanged(client, ledger, shelf, before)
