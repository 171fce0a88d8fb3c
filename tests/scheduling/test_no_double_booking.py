"""The no-double-booking write rule on every write path, overbooking where a Schedule allows it, and
50 concurrent $book of one slot from two server processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from fhir_server.storage import EmbeddedDatabase
from tests.conftest import FHIR_JSON, ServerProcess
from tests.scheduling.helpers import book, outcome, patient, practitioner, proposals, scheduled, tomorrow

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


@pytest.fixture(scope="module")
def second_server(
    database: EmbeddedDatabase, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Another server process on the database of `server`."""
    log = tmp_path_factory.mktemp("second-scheduling") / "server.log"
    other = ServerProcess(["--mongodb-uri", database.uri, "--database", "fhir_tests"], log)
    yield f"{other.base}/fhir"
    other.stop()


def _appointment(actor: str, who: str, start: str, end: str, status: str = "booked") -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": status,
        "start": start,
        "end": end,
        "participant": [
            {"actor": {"reference": actor}, "status": "accepted"},
            {"actor": {"reference": who}, "status": "accepted"},
        ],
    }


def _day() -> str:
    return tomorrow()[0][:10]


def _refused_naming(response: httpx.Response, other_id: str) -> None:
    issue = outcome(response, 409)
    assert f"Appointment/{other_id}" in issue["diagnostics"]


def test_plain_post_put_and_patch_are_refused(client: httpx.Client) -> None:
    actor, day = practitioner(client), _day()
    first = client.post(
        "/Appointment", json=_appointment(actor, patient(client), f"{day}T09:00:00Z", f"{day}T09:30:00Z")
    )
    assert first.status_code == 201, first.text
    first_id = first.json()["id"]
    overlapping = _appointment(actor, patient(client), f"{day}T09:15:00Z", f"{day}T09:45:00Z")
    _refused_naming(client.post("/Appointment", json=overlapping), first_id)
    put_id = f"a{uuid.uuid4().hex[:12]}"
    _refused_naming(client.put(f"/Appointment/{put_id}", json={**overlapping, "id": put_id}), first_id)
    assert client.get(f"/Appointment/{put_id}").status_code == 404
    later = client.post(
        "/Appointment", json=_appointment(actor, patient(client), f"{day}T10:00:00Z", f"{day}T10:30:00Z")
    )
    assert later.status_code == 201, later.text
    moved = [{"op": "replace", "path": "/start", "value": f"{day}T09:20:00Z"}]
    _refused_naming(
        client.patch(f"/Appointment/{later.json()['id']}", content=orjson.dumps(moved), headers=JSON_PATCH), first_id
    )
    assert client.get(f"/Appointment/{later.json()['id']}").json()["start"] == f"{day}T10:00:00Z"
    touching = client.post(
        "/Appointment", json=_appointment(actor, patient(client), f"{day}T09:30:00Z", f"{day}T10:00:00Z")
    )
    assert touching.status_code == 201, touching.text  # back to back is no overlap


def test_a_cancelled_appointment_frees_the_time(client: httpx.Client) -> None:
    actor, day = practitioner(client), _day()
    first = client.post(
        "/Appointment", json=_appointment(actor, patient(client), f"{day}T11:00:00Z", f"{day}T11:30:00Z")
    )
    again = _appointment(actor, patient(client), f"{day}T11:00:00Z", f"{day}T11:30:00Z")
    assert client.post("/Appointment", json=again).status_code == 409
    cancelled = {**first.json(), "status": "cancelled"}
    assert client.put(f"/Appointment/{first.json()['id']}", json=cancelled).status_code == 200
    assert client.post("/Appointment", json=again).status_code == 201


def test_transaction_entries_are_checked_against_the_store_and_each_other(client: httpx.Client) -> None:
    actor, day = practitioner(client), _day()
    one = _appointment(actor, patient(client), f"{day}T13:00:00Z", f"{day}T13:30:00Z")
    two = _appointment(actor, patient(client), f"{day}T13:10:00Z", f"{day}T13:20:00Z")
    marker = f"Tx{uuid.uuid4().hex[:8]}"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": marker}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:one", "resource": one, "request": {"method": "POST", "url": "Appointment"}},
        {"fullUrl": "urn:uuid:two", "resource": two, "request": {"method": "POST", "url": "Appointment"}},
    ]}  # fmt: skip
    response = client.post("", json=bundle)
    issue = outcome(response, 409)
    assert "is already booked" in issue["diagnostics"]
    assert client.get("/Patient", params={"family": marker}).json().get("entry") is None  # nothing written
    assert client.get("/Appointment", params={"actor": actor}).json().get("entry") is None


def test_overbooking_only_where_the_schedule_allows(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client, overbooking=1)
    start, end = tomorrow()
    proposal = proposals(client, start=start, end=end, practitioner=actor)[0]
    assert book(client, proposal, patient(client)).status_code == 201
    assert proposal["start"] in {p["start"] for p in proposals(client, start=start, end=end, practitioner=actor)}
    assert book(client, proposal, patient(client)).status_code == 201
    assert outcome(book(client, proposal, patient(client)), 409)["code"] == "conflict"
    strict, _other = scheduled(client)
    strict_proposal = proposals(client, start=start, end=end, practitioner=strict)[0]
    assert book(client, strict_proposal, patient(client)).status_code == 201
    assert book(client, strict_proposal, patient(client)).status_code == 409


def test_fifty_concurrent_bookings_from_two_processes_book_once(
    client: httpx.Client, base_url: str, second_server: str
) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    proposal = proposals(client, start=start, end=end, practitioner=actor)[0]
    patients = [patient(client) for _ in range(50)]

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers=FHIR_JSON, timeout=180, limits=httpx.Limits(max_connections=50)) as http:
            calls = []
            for i, who in enumerate(patients):
                parameters = {"resourceType": "Parameters", "parameter": [
                    {"name": "appointment-resource", "resource": proposal},
                    {"name": "patient", "valueReference": {"reference": who}}]}  # fmt: skip
                calls.append(http.post(f"{(base_url, second_server)[i % 2]}/Appointment/$book", json=parameters))
            return await asyncio.gather(*calls)

    responses = asyncio.run(race())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, [r.text[:200] for r in responses if r.status_code not in (201, 409)]
    winner = next(r.json() for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert f"Appointment/{winner['id']}" in response.json()["issue"][0]["diagnostics"]
    stored = client.get("/Appointment", params={"actor": actor, "_count": 100}).json().get("entry", [])
    assert [(e["resource"]["id"], e["resource"]["status"]) for e in stored] == [(winner["id"], "booked")]
    assert client.get(f"/{proposal['slot'][0]['reference']}").json()["status"] == "busy"
