"""Low stock raises one Flag and one Task per crossing of the reorder point; the daily expiry report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pymongo import MongoClient

from fhir_server.config import Settings
from fhir_server.medications.stock.alerts import alert_email, report_expiring
from fhir_server.messaging import Message
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.database import Database
from tests.medications.stock.stock import dispense_body, location, lot, operation, product, receive, refused


@pytest.fixture()
def alerts(database: EmbeddedDatabase) -> Iterator[MongoClient]:
    client: MongoClient = MongoClient(database.uri)
    yield client
    client.close()


def _count(client: httpx.Client, resource_type: str, **criteria: str) -> int:
    return int(client.get(f"/{resource_type}", params={**criteria, "_summary": "count"}).json()["total"])


def _wait_for_alerts(client: httpx.Client, drug: str, expected: int) -> None:
    """Until `expected` Flags and Tasks are there (each alert writes its Flag, then its Task)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        _count(client, "Flag", subject=drug) < expected or _count(client, "Task", focus=drug) < expected
    ):
        time.sleep(0.5)


def test_one_alert_per_crossing_of_the_reorder_point(client: httpx.Client, alerts: MongoClient) -> None:
    where, drug = location(client, "Vaccine fridge"), product(client)
    batch = lot(client, drug)
    assert receive(client, batch, where, 10).status_code == 201
    point = operation(client, f"/{drug}/$reorder-point", location=where, point=5)
    assert point.status_code == 200, point.text
    for quantity in (4, 2, 1):  # 6 (above), 4 (crossed), 3 (still below: no new alert)
        assert client.post("/MedicationDispense", json=dispense_body(batch, where, quantity)).status_code == 201
    assert receive(client, batch, where, 10).status_code == 201  # 13: above again, re-armed
    assert client.post("/MedicationDispense", json=dispense_body(batch, where, 9)).status_code == 201  # 4: crossed
    _wait_for_alerts(client, drug, 2)
    assert _count(client, "Flag", subject=drug) == 2
    tasks = client.get("/Task", params={"focus": drug}).json()["entry"]
    assert len(tasks) == 2
    task = tasks[0]["resource"]
    assert task["status"] == "requested" and task["performerType"][0]["coding"][0]["code"] == "pharmacy"
    assert "reorder point 5" in task["description"] and "Vaccine fridge" in task["description"]
    stored = list(alerts["fhir_tests"]["stock_alerts"].find({"product": drug}))
    assert sorted(a["balance"].to_decimal() for a in stored) == [4, 4]
    assert {a["status"] for a in stored} == {"raised"}


def test_reorder_point_is_set_on_a_product_at_a_known_location(client: httpx.Client) -> None:
    where, drug = location(client), product(client)
    batch = lot(client, drug)
    refused(operation(client, f"/{batch}/$reorder-point", location=where, point=5), 422, "Medication.batch")
    refused(operation(client, f"/{drug}/$reorder-point", location="Location/nowhere", point=5), 422,
            "Parameters.parameter.where(name='location')")  # fmt: skip
    refused(operation(client, f"/{drug}/$reorder-point", location=where, point=-1), 400,
            "Parameters.parameter.where(name='point')")  # fmt: skip


def test_alert_email_is_built_only_for_an_address() -> None:
    assert alert_email("", "Low stock", "text") is None
    message = alert_email("pharmacy@example.org", "Low stock", "text")
    assert message is not None and message.document() == {
        "to": "pharmacy@example.org",
        "subject": "Low stock",
        "body": "text",
    }


def test_daily_report_of_lots_expiring_soon(client: httpx.Client, database: EmbeddedDatabase) -> None:
    where, drug = location(client), product(client)
    soon, later, empty = lot(client, drug, 20, "SOON-1"), lot(client, drug, 3000, "LATER-1"), lot(client, drug, 10)
    for each in (soon, later):
        assert receive(client, each, where, 3).status_code == 201
    assert receive(client, empty, where, 1).status_code == 201
    assert client.post("/MedicationDispense", json=dispense_body(empty, where, 1)).status_code == 201
    day = datetime(2026, 12, 6, 7, tzinfo=UTC) if datetime.now(UTC).date().isoformat() != "2026-12-06" else None
    at = day or datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)  # a day no other test reports on

    async def scenario() -> tuple[list, list, Message | None]:
        settings = Settings(database="fhir_tests").with_mongodb_uri(database.uri)
        async with Database.open(settings, indexes=False) as opened:
            first = await report_expiring(opened, 60 + 365 * 2, "rx@example.org", at)
            again = await report_expiring(opened, 60 + 365 * 2, "rx@example.org", at)
            return first, again, await opened.message_outbox.get(f"stock-expiry-{at.strftime('%Y%m%d')}")

    first, again, email = asyncio.run(scenario())
    assert email is not None and email.to == "rx@example.org" and "SOON-1" in email.text, "one email in the outbox"
    listed = {lot.reference for lot, _where, _quantity in first}
    assert soon in listed and later not in listed and empty not in listed
    assert again == []
    task = client.get(f"/Task/stock-expiry-{at.strftime('%Y%m%d')}").json()
    assert "SOON-1" in task["description"]
    assert {"reference": soon} in [item["valueReference"] for item in task["input"]]
