"""Transmission end to end: the prescriber's server sends a signed prescription as a Task to a pharmacy
(a second server process of this project, the session server), follows the pharmacy's Task, and never
sends twice, through the durable outbox."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from pymongo import MongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.embedded import free_loopback_port

from .conftest import DATABASE, LISINOPRIL, Clinic, created, draft, new_patient, out, sign

IDENTIFIER = "urn:fhir-server:prescription"


def _pharmacy(client: httpx.Client, address: str) -> str:
    endpoint = created(client.post("/Endpoint", json={
        "resourceType": "Endpoint", "status": "active", "address": address, "payloadType": [{"text": "FHIR"}],
        "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                           "code": "hl7-fhir-rest"}}))  # fmt: skip
    organization = created(client.post("/Organization", json={
        "resourceType": "Organization", "name": "Corner Pharmacy",
        "endpoint": [{"reference": f"Endpoint/{endpoint['id']}"}]}))  # fmt: skip
    return f"Organization/{organization['id']}"


def _wait(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _signed_to(clinic: Clinic, pharmacy: str) -> tuple[str, dict[str, Any]]:
    patient = new_patient(clinic.admin, family="Dispensed")
    body = draft(patient, LISINOPRIL)
    body["dispenseRequest"]["performer"] = {"reference": pharmacy}
    request = created(clinic.doctor.post("/MedicationRequest", json=body))
    signed = sign(clinic.doctor, request["id"])
    assert signed.status_code == 200, signed.text
    return request["id"], signed.json()


def _remote_tasks(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    bundle = client.get("/Task", params={"identifier": f"{IDENTIFIER}|{url}"}).json()
    return [e["resource"] for e in bundle.get("entry", [])]


def _outbox(database: EmbeddedDatabase) -> Any:
    return MongoClient(database.uri)[DATABASE]["pharmacy_outbox"]


def test_a_signed_prescription_reaches_the_pharmacy_and_its_status_comes_back(
    clinic: Clinic, client: httpx.Client, base_url: str, database: EmbeddedDatabase
) -> None:
    pharmacy = _pharmacy(clinic.admin, base_url)
    request_id, signed = _signed_to(clinic, pharmacy)
    local_task = out(signed, "task")[0]
    assert local_task["focus"]["reference"] == f"MedicationRequest/{request_id}"
    assert local_task["owner"]["reference"] == pharmacy and local_task["status"] == "requested"
    url = f"{str(clinic.admin.base_url).rstrip('/')}/MedicationRequest/{request_id}"

    remote = _wait(lambda: _remote_tasks(client, url), "the Task at the pharmacy")[0]
    assert remote["intent"] == "order" and remote["focus"]["reference"] == url
    attachment = remote["input"][0]["valueAttachment"]
    bundle = json.loads(base64.b64decode(attachment["data"]))
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["MedicationRequest", "Patient", "Practitioner", "Provenance"]
    _wait(lambda: clinic.admin.get(f"/Task/{local_task['id']}").json()["status"] == "received", "received")

    client.put(f"/Task/{remote['id']}", json={**remote, "status": "completed"}).raise_for_status()
    _wait(lambda: clinic.admin.get(f"/MedicationRequest/{request_id}").json()["status"] == "completed", "completed")
    assert clinic.admin.get(f"/Task/{local_task['id']}").json()["status"] == "completed"
    entry = _wait(lambda: _outbox(database).find_one({"_id": f"MedicationRequest/{request_id}", "status": "done"}),
                  "the outbox entry done")  # fmt: skip
    assert [e["status"] for e in entry["events"]] == ["queued", "sent", "done"]


def test_a_send_repeated_after_a_lost_answer_makes_no_second_task(
    clinic: Clinic, client: httpx.Client, base_url: str, database: EmbeddedDatabase
) -> None:
    pharmacy = _pharmacy(clinic.admin, base_url)
    request_id, _signed = _signed_to(clinic, pharmacy)
    url = f"{str(clinic.admin.base_url).rstrip('/')}/MedicationRequest/{request_id}"
    key = {"_id": f"MedicationRequest/{request_id}"}
    _wait(lambda: _outbox(database).find_one({**key, "status": "sent"}), "sent")
    # as if the process died after the pharmacy made the Task, before it stored the answer
    _outbox(database).update_one(key, {"$set": {"status": "queued", "remoteTask": None}})
    _wait(lambda: _outbox(database).find_one({**key, "status": "sent", "remoteTask": {"$ne": None}}), "sent again")
    assert len(_remote_tasks(client, url)) == 1


def test_an_unreachable_pharmacy_is_retried_with_backoff(clinic: Clinic, database: EmbeddedDatabase) -> None:
    pharmacy = _pharmacy(clinic.admin, f"http://127.0.0.1:{free_loopback_port()}/fhir")
    request_id, _signed = _signed_to(clinic, pharmacy)
    key = {"_id": f"MedicationRequest/{request_id}"}
    entry = _wait(lambda: _outbox(database).find_one({**key, "tries": {"$gte": 2}}), "two tries")
    assert entry["status"] == "retrying" and entry["remoteTask"] is None
    delays = [b["at"] - a["at"] for a, b in zip(entry["events"][1:], entry["events"][2:], strict=False)]
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:], strict=False))


def test_a_prescription_without_a_pharmacy_is_not_queued(clinic: Clinic, database: EmbeddedDatabase) -> None:
    patient = new_patient(clinic.admin)
    request = created(clinic.doctor.post("/MedicationRequest", json=draft(patient)))
    signed = sign(clinic.doctor, request["id"])
    assert signed.status_code == 200 and out(signed.json(), "task") == []
    assert _outbox(database).find_one({"_id": f"MedicationRequest/{request['id']}"}) is None
