"""Signing with the safety checks: `MedicationRequest/[id]/$sign` latency for a patient with 20 active
medications and 10 allergies (target p95 <= 150 ms).

Starts the embedded database and `fhir-server serve --auth smart`, stores a physician, a patient with 20
active MedicationStatements and 10 AllergyIntolerances (RxNorm codes of the knowledge base, so every check
compares), then signs drafts one after the other (ibuprofen, which interacts with the patient's warfarin
and duplicates their naproxen: the request carries an override reason). Only the `$sign` call is timed;
each signed prescription is stopped afterwards, untimed, so the patient keeps 20 active medications.
Their stopped prescriptions grow by one per signing; the search for active ones (`patient` + `status`)
is driven by the pair key of the patient and the status (search/keys.py), so later signings cost what
early ones do (driven by the patient key alone, as before search layout 3, the 160th took about 5x the
first).

Usage: ``python benchmarks/prescribing.py [--signings 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from harness import fhir_server
from pymongo import AsyncMongoClient

from fhir_server.auth import Grant
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.grants import MongoGrantStore

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ACTIVE = ["11289", "7258", "161", "36567", "29046", "6809", "723", "7984", "7980", "2551", "7646", "17767",
          "6918", "6851", "36437", "5487", "1191", "136411", "83367", "4917"]  # fmt: skip
ALLERGIES = ["723", "7984", "70618", "7980", "6851", "136411", "2551", "1191", "7646", "6918"]
TARGET_P95_MS = 150.0


async def _token(uri: str, practitioner: str) -> str:
    issued = datetime.now(UTC)
    grant = Grant(kind="access", client_id="bench", scopes=("user/*.cruds", "openid", "fhirUser"),
                  issued_at=issued, expires_at=issued + timedelta(hours=2), family=uuid.uuid4().hex,
                  subject="bench", role="physician", fhir_user=practitioner)  # fmt: skip
    async with AsyncMongoClient[dict[str, Any]](uri, tz_aware=True) as client:
        return await MongoGrantStore(client, "bench").issue(grant)


def _created(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _draft(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest", "status": "draft", "intent": "order", "subject": {"reference": patient},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "197805"}]},
        "dosageInstruction": [{"timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
                               "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}],
        "dispenseRequest": {"quantity": {"value": 30, "unit": "tablet"}, "numberOfRepeatsAllowed": 1},
    }  # fmt: skip


def _setup(client: httpx.Client, uri: str) -> tuple[str, str]:
    practitioner = _created(client.post("/Practitioner", json={"resourceType": "Practitioner"}))["id"]
    patient = f"Patient/{_created(client.post('/Patient', json={'resourceType': 'Patient'}))['id']}"
    for code in ACTIVE:
        statement = {"resourceType": "MedicationStatement", "status": "active", "subject": {"reference": patient},
                     "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]}}  # fmt: skip
        client.post("/MedicationStatement", json=statement).raise_for_status()
    for code in ALLERGIES:
        client.post("/AllergyIntolerance", json={
            "resourceType": "AllergyIntolerance", "patient": {"reference": patient},
            "code": {"coding": [{"system": RXNORM, "code": code}]}}).raise_for_status()  # fmt: skip
    return f"Practitioner/{practitioner}", patient


def run(base: str, uri: str, signings: int) -> tuple[list[float], list[float]]:
    """($sign timings, timings of the plain draft creates before them) in ms, warm-up left out."""
    headers = {"Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=f"{base}/fhir", headers=headers, timeout=60) as setup:
        setup.headers["Authorization"] = f"Bearer {asyncio.run(_token(uri, 'Practitioner/setup'))}"
        practitioner, patient = _setup(setup, uri)
    token = asyncio.run(_token(uri, practitioner))
    override = {"resourceType": "Parameters", "parameter": [{"name": "overrideReason", "valueString": "bench"}]}
    timings: list[float] = []
    creates: list[float] = []
    with httpx.Client(base_url=f"{base}/fhir", headers={**headers, "Authorization": f"Bearer {token}"},
                      timeout=60) as client:  # fmt: skip
        for n in range(signings + 10):
            started = time.perf_counter()
            draft = _created(client.post("/MedicationRequest", json=_draft(patient)))
            created_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            response = client.post(f"/MedicationRequest/{draft['id']}/$sign", json=override)
            elapsed = (time.perf_counter() - started) * 1000
            signed = _created(response)
            if n == 0:
                issues = [p for p in signed["parameter"] if p["name"] == "issue"]
                print(f"findings per signing: {len(issues)} "
                      f"({', '.join(sorted(i['resource']['code']['coding'][0]['code'] for i in issues))})")  # fmt: skip
            if n >= 10:  # the first ten warm up
                timings.append(elapsed)
                creates.append(created_ms)
            prescription = next(p["resource"] for p in signed["parameter"] if p["name"] == "prescription")
            client.put(
                f"/MedicationRequest/{draft['id']}", json={**prescription, "status": "stopped"}
            ).raise_for_status()
    return timings, creates


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signings", type=int, default=200)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedDatabase(Path(tmp)) as database,
        fhir_server(database.uri, auth="smart") as server,
    ):
        timings, creates = run(server.base, database.uri, args.signings)
    p50, p95 = _percentiles(timings)
    print(f"$sign with checks, 20 active medications, 10 allergies: {len(timings)} signings, "
          f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(timings):.1f} ms "
          f"(target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'NOT met'})")  # fmt: skip
    c50, c95 = _percentiles(creates)
    print(f"for scale, creating the draft (one plain write) on the same server: p50 {c50:.1f} ms, p95 {c95:.1f} ms")


if __name__ == "__main__":
    main()
