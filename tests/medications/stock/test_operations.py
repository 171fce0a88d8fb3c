"""The stock operations: first-expiry-first-out dispensing, transfers, adjustments, returns, recalls, labels."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fhir_server.storage import EmbeddedDatabase
from tests.medications.stock.stock import (
    Ledger,
    created,
    dispense_body,
    location,
    lot,
    on_hand,
    operation,
    prescription,
    product,
    receive,
    refused,
)


@pytest.fixture()
def ledger(database: EmbeddedDatabase) -> Iterator[Ledger]:
    book = Ledger(database.uri)
    yield book
    book.close()


def _dispensed_lot(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    parts = {p["name"]: p for p in response.json()["parameter"]}
    return str(parts["dispense"]["resource"]["medicationReference"]["reference"])


def test_dispense_takes_the_lot_expiring_first_unless_one_is_named(client: httpx.Client) -> None:
    where, drug = location(client), product(client)
    later, sooner, expired = lot(client, drug, 300), lot(client, drug, 30), lot(client, drug, -1)
    for each in (later, sooner, expired):
        assert receive(client, each, where, 5).status_code == 201
    assert (
        _dispensed_lot(operation(client, "/MedicationDispense/$dispense", medication=drug, location=where, quantity=3))
        == sooner
    )
    # the sooner lot holds 2: a dispense of 3 goes to the later one; the expired lot is never chosen
    assert (
        _dispensed_lot(operation(client, "/MedicationDispense/$dispense", medication=drug, location=where, quantity=3))
        == later
    )
    assert (
        _dispensed_lot(operation(client, "/MedicationDispense/$dispense", medication=later, location=where, quantity=2))
        == later
    )
    assert on_hand(client, product=drug) == {(later, where): 0, (sooner, where): 2, (expired, where): 5}
    none_left = operation(client, "/MedicationDispense/$dispense", medication=drug, location=where, quantity=3)
    assert "neither expired nor recalled" in refused(none_left, 409, "Parameters.parameter.where(name='quantity')")
    named_expired = operation(client, "/MedicationDispense/$dispense", medication=expired, location=where, quantity=1)
    assert "expired" in refused(named_expired, 422, "MedicationDispense.medicationReference")
    assert on_hand(client, product=drug)[(expired, where)] == 5


def test_transfer_adjust_and_return_write_ledger_entries(client: httpx.Client, ledger: Ledger) -> None:
    room, fridge, drug = location(client), location(client, "Vaccine fridge"), product(client)
    batch = lot(client, drug)
    assert receive(client, batch, room, 10).status_code == 201
    moved = operation(client, f"/{batch}/$stock-transfer", **{"from": room, "to": fridge, "quantity": 4})
    assert moved.status_code == 200, moved.text
    adjusted = operation(client, f"/{batch}/$stock-adjust", location=fridge, quantity=-1, reason="damage")
    assert adjusted.status_code == 200, adjusted.text
    returned = operation(client, f"/{batch}/$stock-return", location=room, quantity=2, note="short dated")
    assert returned.status_code == 200, returned.text
    assert on_hand(client, lot=batch) == {(batch, room): 4, (batch, fridge): 3}
    assert ledger.total(batch, room) == 4 and ledger.total(batch, fridge) == 3
    history = client.get("/Medication/$stock-movements", params={"lot": batch}).json()["parameter"]
    kinds = [next(p["valueString"] for p in entry["part"] if p["name"] == "kind") for entry in history]
    assert sorted(kinds) == ["adjustment", "receipt", "return", "transfer-in", "transfer-out"]
    too_many = operation(client, f"/{batch}/$stock-transfer", **{"from": fridge, "to": room, "quantity": 5})
    refused(too_many, 409, "Parameters.parameter.where(name='quantity')")
    assert on_hand(client, lot=batch) == {(batch, room): 4, (batch, fridge): 3}


def test_recall_lists_the_patients_and_stops_dispensing(client: httpx.Client, patient: dict) -> None:
    where, drug = location(client), product(client)
    batch = lot(client, drug)
    assert receive(client, batch, where, 10).status_code == 201
    someone = f"Patient/{patient['id']}"
    other = created(client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Roe"}]}))
    created(client.post("/MedicationDispense", json=dispense_body(batch, where, 2, someone)))
    mistake = created(client.post("/MedicationDispense", json=dispense_body(batch, where, 1, f"Patient/{other['id']}")))
    mistake["status"] = "entered-in-error"
    assert client.put(f"/MedicationDispense/{mistake['id']}", json=mistake).status_code == 200
    answer = client.post(f"/{batch}/$recall")
    assert answer.status_code == 200, answer.text
    patients = [p for p in answer.json()["parameter"] if p["name"] == "patient"]
    assert [
        next(x["valueReference"]["reference"] for x in p["part"] if x["name"] == "reference") for p in patients
    ] == [someone]
    assert next(x["valueString"] for x in patients[0]["part"] if x["name"] == "name") == "Jane Doe"
    again = client.post("/MedicationDispense", json=dispense_body(batch, where, 1, someone))
    assert "recalled" in refused(again, 422, "MedicationDispense.medicationReference")
    assert client.get(f"/{batch}").json()["status"] == "inactive"


def test_dispense_against_a_prescription_and_its_label(client: httpx.Client, patient: dict) -> None:
    where, drug = location(client), product(client)
    batch = lot(client, drug, number="LOT-77")
    assert receive(client, batch, where, 100).status_code == 201
    order = prescription(client, f"Patient/{patient['id']}", drug, quantity=30, refills=1)
    first = operation(client, "/MedicationDispense/$dispense", prescription=order, location=where)
    assert first.status_code == 201, first.text
    parts = {p["name"]: p for p in first.json()["parameter"]}
    assert parts["refillsRemaining"]["valueInteger"] == 1
    given = parts["dispense"]["resource"]
    assert given["subject"]["reference"] == f"Patient/{patient['id']}"
    assert given["authorizingPrescription"] == [{"reference": order}]
    label = client.get(f"/MedicationDispense/{given['id']}/$label")
    assert label.status_code == 200 and label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")
    for shown in (b"Jane Doe", b"Amlodipine 5 MG Oral Tablet", b"Take one tablet by mouth once a day", b"LOT-77",
                  b"Quantity: 30", b"Dispensed "):  # fmt: skip
        assert shown in label.content, shown
    second = operation(client, "/MedicationDispense/$dispense", prescription=order, location=where)
    assert {p["name"]: p for p in second.json()["parameter"]}["refillsRemaining"]["valueInteger"] == 0
    third = operation(client, "/MedicationDispense/$dispense", prescription=order, location=where)
    assert "no refills left" in refused(third, 422, "MedicationDispense.authorizingPrescription[0]")
    assert on_hand(client, lot=batch) == {(batch, where): 40}
