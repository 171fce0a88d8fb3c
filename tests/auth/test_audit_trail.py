"""Every access leaves one AuditEvent: reads, searches, writes (in their transaction), refusals;
the chain still verifies; and only administrators read the audit and HL7 v2 logs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
from pymongo import AsyncMongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit import ChainReport, MongoAuditLog
from tests.audit.records import audit_events, by_client, interaction, query_of, server_audit_key, whats
from tests.auth_server import AUTH_DATABASE, World, outcome_text

Connect = Callable[..., httpx.Client]


def _app() -> str:
    return f"audit-{uuid.uuid4().hex[:8]}"


def _only_event(database: EmbeddedDatabase, client_id: str) -> dict[str, object]:
    events = audit_events(database.uri, AUTH_DATABASE, by_client(client_id))
    time.sleep(0.2)  # a second event would come right after the first
    events = audit_events(database.uri, AUTH_DATABASE, by_client(client_id))
    assert len(events) == 1, events
    return events[0]


def test_a_read_records_who_what_and_the_patient(connect: Connect, world: World, database: EmbeddedDatabase) -> None:
    app, patient = _app(), world.patient["a"]
    with connect("patient/*.rs", client_id=app, patient=patient, role="patient") as http:
        assert http.get(f"/Patient/{patient}").status_code == 200
    event = _only_event(database, app)
    assert interaction(event) == "read" and event["action"] == "R" and event["outcome"] == "0"
    assert f"Patient/{patient}" in whats(event)
    user = event["agent"][0]  # type: ignore[index]
    assert user["altId"] == "someone" and user["requestor"] is True
    assert event["agent"][1]["network"]["address"] == "127.0.0.1"  # type: ignore[index]


def test_a_search_records_its_query(connect: Connect, world: World, database: EmbeddedDatabase) -> None:
    app = _app()
    with connect("user/Observation.rs", client_id=app) as http:
        assert http.get("/Observation", params={"category": "laboratory"}).status_code == 200
    event = _only_event(database, app)
    assert interaction(event) == "search-type" and event["action"] == "E" and event["outcome"] == "0"
    assert query_of(event) == "Observation?category=laboratory"


def test_a_create_is_recorded_once_with_its_version(connect: Connect, database: EmbeddedDatabase) -> None:
    app = _app()
    with connect("user/Patient.cruds", client_id=app) as http:
        created = http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Audited"}]})
    assert created.status_code == 201, created.text
    event = _only_event(database, app)
    assert interaction(event) == "create" and event["action"] == "C" and event["outcome"] == "0"
    assert whats(event) == [f"Patient/{created.json()['id']}/_history/1"]


def test_refused_and_missing_reads_are_recorded_as_failures(
    connect: Connect, world: World, database: EmbeddedDatabase
) -> None:
    refused, missing = _app(), _app()
    with connect("user/Observation.rs", client_id=refused) as http:
        assert http.get(f"/Patient/{world.patient['a']}").status_code == 403
    with connect("user/Patient.rs", client_id=missing) as http:
        assert http.get("/Patient/no-such-patient").status_code == 404
    for app, status in ((refused, 403), (missing, 404)):
        event = _only_event(database, app)
        assert interaction(event) == "read" and event["outcome"] == "4"
        assert event["outcomeDesc"] == f"HTTP {status}"


def test_a_rolled_back_transaction_leaves_no_write_event(connect: Connect, database: EmbeddedDatabase) -> None:
    app = _app()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "DELETE", "url": "Patient/never-there"}, },
            {"resource": {"resourceType": "Patient", "id": "x"},
             "request": {"method": "PUT", "url": "Patient/x", "ifMatch": 'W/"7"'}},
        ],
    }  # fmt: skip
    with connect("user/Patient.cruds", client_id=app) as http:
        answer = http.post("/", json=bundle)
    assert answer.status_code >= 400, answer.text
    event = _only_event(database, app)  # the refused request, and no create
    assert interaction(event) == "transaction" and event["outcome"] == "4"


def test_audit_events_cannot_be_written_over_fhir_without_a_system_scope(connect: Connect) -> None:
    event = {"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2026-11-26T08:00:00Z",
             "agent": [{"requestor": True}], "source": {"observer": {"display": "forged"}}}  # fmt: skip
    with connect("user/*.cruds", role="admin") as http:
        posted = http.post("/AuditEvent", json=event)
        assert posted.status_code == 403 and "Only a system/ scope" in outcome_text(posted)
        assert http.put("/AuditEvent/forged", json={**event, "id": "forged"}).status_code == 403


def test_only_administrators_read_the_audit_and_hl7_logs(connect: Connect, auth_base: str) -> None:
    root = auth_base.removesuffix("/fhir")
    nurse = connect("user/Patient.rs user/Observation.rs", role="nurse")
    admin = connect("user/*.cruds system/*.cruds", role="admin")
    anonymous = connect()
    with nurse, admin, anonymous:
        for path in ("/admin/audit", "/admin/hl7/messages"):
            assert anonymous.get(f"{root}{path}").status_code == 401, path
            assert nurse.get(f"{root}{path}").status_code == 403, path
            assert admin.get(f"{root}{path}").status_code == 200, path
        bundle = admin.get(f"{root}/admin/audit", params={"count": 5}).json()
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
        recorded = [e["resource"]["recorded"] for e in bundle["entry"]]
        assert len(recorded) == 5 and recorded == sorted(recorded, reverse=True)
        assert admin.get(f"{root}/admin/audit", params={"since": "yesterday"}).status_code == 400


def test_the_chain_verifies_after_all_that(database: EmbeddedDatabase) -> None:
    async def report() -> ChainReport:
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as mongo:
            return await MongoAuditLog(mongo, AUTH_DATABASE, server_audit_key()).verify()

    deadline = time.monotonic() + 10
    found = asyncio.run(report())
    while found.unsealed and time.monotonic() < deadline:  # the server's sealer runs every second
        time.sleep(0.2)
        found = asyncio.run(report())
    assert found.intact, found.problems
    assert found.unsealed == 0 and found.sealed > 0
