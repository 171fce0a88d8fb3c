"""The `pharmacy-transmission` duty's work: send queued prescriptions and poll the pharmacies' Tasks
(see transmission.py for the whole path)."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ...auth.policy import AccessPolicy
from ...engine.update import update_resource
from ...errors import FhirError
from ...fhir_json import dumps
from ...storage import ResourceStore
from ...storage.database import Database
from ...storage.pharmacy_outbox import DONE, FAILED, RETRYING, SENT, PharmacyEntry
from .lookup import find, read_reference

log = logging.getLogger(__name__)
IDENTIFIER_SYSTEM = "urn:fhir-server:prescription"
ENDED = {"completed", "cancelled", "rejected", "failed", "entered-in-error"}
TRANSMISSION = AccessPolicy.system("pharmacy-transmission")
_BATCH = 20


async def _bundle(store: ResourceStore, entry: PharmacyEntry, base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the prescription, the collection Bundle the pharmacy gets)."""
    request = await read_reference(store, entry.request, TRANSMISSION)
    if request is None:
        raise LookupError(entry.request)
    wanted = [(request.get("subject") or {}).get("reference"), (request.get("requester") or {}).get("reference"),
              (request.get("medicationReference") or {}).get("reference")]  # fmt: skip
    resources = [request]
    for reference in filter(None, wanted):
        found = await read_reference(store, str(reference), TRANSMISSION)
        if found is not None:
            resources.append(found)
    target = f"{entry.request}/_history/{request['meta']['versionId']}"
    resources += await find(store, "Provenance", [("target", target)], 5)
    entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
    return request, {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _headers(entry: PharmacyEntry) -> dict[str, str]:
    out = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    for header in entry.headers:
        name, sep, value = header.partition(":")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Pace:
    """How often the duty looks and how patiently it retries (settings `prescribing_*_seconds`)."""

    poll: float = 5.0
    retry: float = 5.0
    retry_max: float = 300.0

    def backoff(self, entry: PharmacyEntry, now: datetime) -> datetime:
        return now + timedelta(seconds=min(self.retry * (2**entry.tries), self.retry_max))

    def next_poll(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.poll)


async def _send(database: Database, http: httpx.AsyncClient, entry: PharmacyEntry, base: str, pace: Pace) -> None:
    now = datetime.now(UTC)
    request, bundle = await _bundle(database.resources, entry, base)
    url = f"{base}/{entry.request}"
    task = {
        "resourceType": "Task", "status": "requested", "intent": "order",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": url}],
        "code": {"text": "Dispense prescription"}, "focus": {"reference": url},
        "authoredOn": request.get("authoredOn"),
        "input": [{"type": {"text": "prescription-bundle"},
                   "valueAttachment": {"contentType": "application/fhir+json",
                                       "data": base64.b64encode(dumps(bundle)).decode("ascii")}}],
    }  # fmt: skip
    headers = {**_headers(entry), "If-None-Exist": f"identifier={IDENTIFIER_SYSTEM}|{url}"}
    try:
        response = await http.post(f"{entry.address}/Task", content=dumps(task), headers=headers)
    except httpx.HTTPError as exc:
        await database.pharmacy_outbox.record(entry, RETRYING, now, pace.backoff(entry, now),
                                              note=type(exc).__name__)  # fmt: skip
        return
    if response.status_code >= 500 or response.status_code in (408, 429):
        await database.pharmacy_outbox.record(entry, RETRYING, now, pace.backoff(entry, now),
                                              note=f"HTTP {response.status_code}")  # fmt: skip
        return
    if response.status_code >= 400:
        await database.pharmacy_outbox.record(entry, FAILED, now, now, note=f"HTTP {response.status_code}")
        await _reflect(database.resources, entry.request, "failed")
        return
    remote = f"{entry.address}/Task/{response.json()['id']}"
    await database.pharmacy_outbox.record(entry, SENT, now, pace.next_poll(now), remote_task=remote,
                                          task_status="requested")  # fmt: skip
    await _reflect(database.resources, entry.request, "received")


async def _poll(database: Database, http: httpx.AsyncClient, entry: PharmacyEntry, pace: Pace) -> None:
    now = datetime.now(UTC)
    assert entry.remote_task is not None
    try:
        response = await http.get(entry.remote_task, headers=_headers(entry))
        status = str(response.json().get("status")) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        status = None
    if status is None or status == entry.task_status:
        await database.pharmacy_outbox.postpone(entry, pace.next_poll(now))  # nothing new: no log event
        return
    await _reflect(database.resources, entry.request, status)
    ended = status in ENDED
    await database.pharmacy_outbox.record(entry, DONE if ended else SENT, now, pace.next_poll(now), task_status=status)


async def _reflect(store: ResourceStore, request: str, status: str) -> None:
    """Copy the pharmacy's Task status to the local Task; a completed one completes the prescription."""
    for task in await find(store, "Task", [("focus", request)], 5):
        if task.get("status") != status and task.get("status") not in ENDED:
            await update_resource(store, TRANSMISSION, "Task", task["id"], {**task, "status": status})
    if status == "completed":
        prescription = await read_reference(store, request, TRANSMISSION)
        if prescription is not None and prescription.get("status") == "active":
            await update_resource(store, TRANSMISSION, "MedicationRequest", prescription["id"],
                                  {**prescription, "status": "completed"})  # fmt: skip


async def transmit_round(database: Database, base: str, pace: Pace, timeout: float = 10.0) -> int:
    """Send or poll every due entry once; how many were handled. Safe to run again after a crash: a send
    repeated after a lost answer is a conditional create the pharmacy answers with the Task it has."""
    entries = await database.pharmacy_outbox.due(datetime.now(UTC), _BATCH)
    if not entries:
        return 0
    async with httpx.AsyncClient(timeout=timeout) as http:
        for entry in entries:
            try:
                if entry.remote_task is None:
                    await _send(database, http, entry, base, pace)
                else:
                    await _poll(database, http, entry, pace)
            except (FhirError, LookupError) as exc:
                log.warning("pharmacy transmission of %s: %s", entry.id, type(exc).__name__)
    return len(entries)
