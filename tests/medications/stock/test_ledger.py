"""The on-hand is kept in the transaction of each movement and never goes negative, on every path."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from fhir_server.storage import EmbeddedDatabase
from tests.conftest import FHIR_JSON
from tests.medications.stock.stock import (
    Ledger,
    administration_body,
    created,
    dispense_body,
    location,
    lot,
    prescription,
    product,
    receive,
)


@pytest.fixture()
def ledger(database: EmbeddedDatabase) -> Iterator[Ledger]:
    book = Ledger(database.uri)
    yield book
    book.close()


def test_fifty_concurrent_dispenses_for_the_last_ten_units(client: httpx.Client, base_url: str, ledger: Ledger) -> None:
    where, lot_ref = location(client), lot(client, product(client))
    assert receive(client, lot_ref, where, 10).status_code == 201

    def dispense(_n: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=120) as own:
            return own.post("/MedicationDispense", json=dispense_body(lot_ref, where, 1))

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(dispense, range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 40, [r.text for r in responses if r.status_code not in (201, 409)]
    for refused in (r for r in responses if r.status_code == 409):
        outcome = refused.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["expression"] == ["MedicationDispense.quantity.value"]
    assert ledger.lot_balance(lot_ref, where) == 0
    assert ledger.total(lot_ref, where) == 0
    entries = ledger.entries(lot_ref)
    assert [e["seq"] for e in entries] == list(range(1, 12))
    assert [e["kind"] for e in entries] == ["receipt"] + ["dispense"] * 10
    stored = client.get("/MedicationDispense", params={"medication": lot_ref, "_summary": "count"}).json()
    assert stored["total"] == 10


def test_correcting_and_deleting_a_movement_reverses_it(client: httpx.Client, ledger: Ledger, patient: dict) -> None:
    where, lot_ref = location(client), lot(client, product(client))
    assert receive(client, lot_ref, where, 20).status_code == 201
    given = created(
        client.post("/MedicationDispense", json=dispense_body(lot_ref, where, 5, f"Patient/{patient['id']}"))
    )
    assert ledger.lot_balance(lot_ref, where) == 15
    given["status"] = "entered-in-error"
    assert client.put(f"/MedicationDispense/{given['id']}", json=given).status_code == 200
    assert ledger.lot_balance(lot_ref, where) == 20
    shot = created(
        client.post(
            "/MedicationAdministration", json=administration_body(lot_ref, where, 2, f"Patient/{patient['id']}")
        )
    )
    assert ledger.lot_balance(lot_ref, where) == 18
    assert client.delete(f"/MedicationAdministration/{shot['id']}").status_code in (200, 204)
    assert ledger.lot_balance(lot_ref, where) == 20
    assert ledger.total(lot_ref, where) == 20
    assert [e["quantity"].to_decimal() for e in ledger.entries(lot_ref)] == [20, -5, 5, -2, 2]


def test_a_receipt_cannot_be_undone_below_what_was_given_out(client: httpx.Client, ledger: Ledger) -> None:
    where, lot_ref = location(client), lot(client, product(client))
    delivery = created(receive(client, lot_ref, where, 3))
    created(client.post("/MedicationDispense", json=dispense_body(lot_ref, where, 2)))
    refused = client.delete(f"/SupplyDelivery/{delivery['id']}")
    assert refused.status_code == 409, refused.text
    assert client.get(f"/SupplyDelivery/{delivery['id']}").status_code == 200
    assert ledger.lot_balance(lot_ref, where) == 1
    assert ledger.total(lot_ref, where) == Decimal(1)


def test_a_transaction_bundle_moves_stock_too(client: httpx.Client, ledger: Ledger) -> None:
    where, lot_ref = location(client), lot(client, product(client))
    assert receive(client, lot_ref, where, 2).status_code == 201
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": dispense_body(lot_ref, where, 3), "request": {"method": "POST", "url": "MedicationDispense"}}
        ],
    }
    refused = client.post("/", json=bundle)
    assert refused.status_code == 409, refused.text
    bundle["entry"][0]["resource"]["quantity"]["value"] = 2
    assert client.post("/", json=bundle).status_code == 200
    assert ledger.lot_balance(lot_ref, where) == 0


def test_concurrent_fills_of_the_last_refill(
    client: httpx.Client, base_url: str, ledger: Ledger, patient: dict
) -> None:
    where, drug = location(client), product(client)
    batch = lot(client, drug)
    assert receive(client, batch, where, 100).status_code == 201
    order = prescription(client, f"Patient/{patient['id']}", drug, quantity=5, refills=1)
    body = dispense_body(batch, where, 5, f"Patient/{patient['id']}", authorizingPrescription=[{"reference": order}])

    def fill(_n: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=120) as own:
            return own.post("/MedicationDispense", json=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(r.status_code for r in pool.map(fill, range(8)))
    assert statuses == [201, 201] + [422] * 6
    assert ledger.lot_balance(batch, where) == 90 == ledger.total(batch, where)
