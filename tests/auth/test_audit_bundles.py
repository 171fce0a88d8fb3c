"""Batch and transaction Bundles leave one event for the Bundle, one per read or search entry (with
the entry's own outcome) and one per write; every event of a request carries its X-Request-Id."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from fhir_server.storage import EmbeddedDatabase
from tests.audit.records import audit_events, by_client, interaction, query_of, request_id_of, whats
from tests.auth_server import AUTH_DATABASE, World

Connect = Callable[..., httpx.Client]


def _by_request(database: EmbeddedDatabase, request_id: str, count: int) -> list[dict[str, Any]]:
    """The events of one request, waiting for `count` of them (and a moment for any extra one)."""
    query = {"event.entity.what.identifier.value": request_id}
    audit_events(database.uri, AUTH_DATABASE, query, at_least=count)
    time.sleep(0.3)
    return audit_events(database.uri, AUTH_DATABASE, query, at_least=count)


def _get(url: str) -> dict[str, Any]:
    return {"request": {"method": "GET", "url": url}}


def test_batch_reads_each_get_an_event_with_their_own_outcome(
    connect: Connect, world: World, database: EmbeddedDatabase
) -> None:
    request_id, patient = f"batch-{uuid.uuid4().hex}", world.patient["a"]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            _get(f"Patient/{patient}"),
            _get("Observation?category=laboratory"),
            _get("Patient/no-such-patient"),
            {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    with connect("user/*.cruds", client_id=f"batch-{request_id[-8:]}") as http:
        answer = http.post("/", json=bundle, headers={"X-Request-Id": request_id})
    assert answer.status_code == 200, answer.text
    statuses = [entry["response"]["status"] for entry in answer.json()["entry"]]
    assert statuses[:3] == ["200 OK", "200 OK", "404"] and statuses[3].startswith("201")
    assert answer.headers["X-Request-Id"] == request_id

    events = _by_request(database, request_id, 5)
    by_kind = {interaction(event): event for event in events}
    assert sorted(interaction(e) for e in events) == ["batch", "create", "read", "read", "search-type"], events
    assert all(request_id_of(event) == request_id for event in events)
    assert by_kind["batch"]["outcome"] == "0" and "entity" in by_kind["batch"]
    reads = {whats(e)[0]: e for e in events if interaction(e) == "read"}
    assert reads[f"Patient/{patient}"]["outcome"] == "0" and reads[f"Patient/{patient}"]["action"] == "R"
    missing = reads["Patient/no-such-patient"]
    assert missing["outcome"] == "4" and missing["outcomeDesc"] == "HTTP 404"
    search = by_kind["search-type"]
    assert query_of(search) == "Observation?category=laboratory" and search["outcome"] == "0"
    created = answer.json()["entry"][3]["response"]["location"]
    assert whats(by_kind["create"]) == [created]


def test_transaction_reads_and_writes_share_the_request_id(connect: Connect, database: EmbeddedDatabase) -> None:
    request_id = f"tx-{uuid.uuid4().hex}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"},
             "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "HEAD", "url": "Patient?_count=1"}},
        ],
    }  # fmt: skip
    with connect("user/Patient.cruds") as http:
        answer = http.post("/", json=bundle, headers={"X-Request-Id": request_id})
    assert answer.status_code == 200, answer.text
    events = _by_request(database, request_id, 3)
    assert sorted(interaction(e) for e in events) == ["create", "search-type", "transaction"], events
    assert all(e["outcome"] == "0" and request_id_of(e) == request_id for e in events)


def test_single_requests_record_the_request_id_sent_or_made_up(connect: Connect, database: EmbeddedDatabase) -> None:
    app, sent = f"rid-{uuid.uuid4().hex[:8]}", f"client-{uuid.uuid4().hex}"
    with connect("user/Patient.cruds", client_id=app) as http:
        created = http.post("/Patient", json={"resourceType": "Patient"}, headers={"X-Request-Id": sent})
        read = http.get(f"/Patient/{created.json()['id']}")
        refused = http.get("/Observation", headers={"X-Request-Id": "not a sane id"})
    assert created.status_code == 201 and created.headers["X-Request-Id"] == sent
    made_up = read.headers["X-Request-Id"]
    replaced = refused.headers["X-Request-Id"]
    assert refused.status_code == 403 and replaced != "not a sane id" and len(replaced) == 32
    events = audit_events(database.uri, AUTH_DATABASE, by_client(app), at_least=3)
    assert [(interaction(e), request_id_of(e)) for e in events] == [
        ("create", sent),  # the write observer's event, inside the write's transaction
        ("read", made_up),
        ("search-type", replaced),
    ]
