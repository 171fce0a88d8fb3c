"""Billing, claims out: N finished visits -> charges -> claims -> one 837P batch, against a real server.

Prints the rate of visits finished (each PUT captures and prices its charge in the same commit),
of `Encounter/$claim` (assemble, check, queue), the time of one `Claim/$export-x12` of every claim,
and the time and result of pyx12's validation of that file.

    python benchmarks/billing_claims.py [--encounters 1000] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import fhir_server  # noqa: E402
from fhir_server.billing.codes import CPT, FEE_SCHEDULE, ICD10CM, NPI, PAYER_ID, PRICE_LEVEL, TAX_ID  # noqa: E402
from fhir_server.billing.x12.validate import validate  # noqa: E402
from fhir_server.storage import EmbeddedDatabase  # noqa: E402

FHIR = {"Content-Type": "application/fhir+json"}


def _created(client: httpx.Client, resource: dict[str, Any]) -> str:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    response.raise_for_status()
    return str(response.json()["id"])


def _setup(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    """The practice (clinic, physician, payer, fee schedule) and `count` insured patients with an open visit."""
    entry = {
        "resourceType": "ChargeItemDefinition",
        "url": FEE_SCHEDULE + "99213",
        "status": "active",
        "code": {"coding": [{"system": CPT, "code": "99213"}]},
        "effectivePeriod": {"start": "2026-01-01"},
        "propertyGroup": [
            {
                "priceComponent": [
                    {
                        "type": "base",
                        "code": {"coding": [{"system": PRICE_LEVEL, "code": "standard"}]},
                        "amount": {"value": 110, "currency": "USD"},
                    }
                ]
            }
        ],
    }
    _created(client, entry)
    clinic = _created(
        client,
        {
            "resourceType": "Organization",
            "name": "Bench Clinic",
            "identifier": [{"system": NPI, "value": "1234567893"}, {"system": TAX_ID, "value": "123456789"}],
            "telecom": [{"system": "phone", "value": "5555551234"}],
            "address": [{"line": ["1 Main St"], "city": "Springfield", "state": "IL", "postalCode": "62701"}],
        },
    )
    doctor = _created(
        client,
        {
            "resourceType": "Practitioner",
            "identifier": [{"system": NPI, "value": "1245319599"}],
            "name": [{"family": "Smith", "given": ["Ann"]}],
        },
    )
    payer = _created(
        client,
        {"resourceType": "Organization", "name": "Acme Health", "identifier": [{"system": PAYER_ID, "value": "ACME1"}]},
    )
    visits: list[dict[str, Any]] = []
    for start in range(0, count, 50):
        entries = []
        for n in range(start, min(start + 50, count)):
            p, c = f"urn:uuid:00000000-0000-0000-0000-{n:012d}", f"urn:uuid:00000000-0000-0000-0001-{n:012d}"
            entries += [
                {
                    "fullUrl": p,
                    "resource": {
                        "resourceType": "Patient",
                        "name": [{"family": f"Bench{n}", "given": ["Pat"]}],
                        "gender": "female",
                        "birthDate": "1980-01-01",
                    },
                    "request": {"method": "POST", "url": "Patient"},
                },
                {
                    "resource": {
                        "resourceType": "Coverage",
                        "status": "active",
                        "beneficiary": {"reference": p},
                        "subscriberId": f"M{n}",
                        "payor": [{"reference": f"Organization/{payer}"}],
                        "order": 1,
                    },
                    "request": {"method": "POST", "url": "Coverage"},
                },
                {
                    "fullUrl": c,
                    "resource": {
                        "resourceType": "Condition",
                        "subject": {"reference": p},
                        "code": {"coding": [{"system": ICD10CM, "code": "E11.9"}]},
                    },
                    "request": {"method": "POST", "url": "Condition"},
                },
                {
                    "resource": {
                        "resourceType": "Encounter",
                        "status": "in-progress",
                        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                        "subject": {"reference": p},
                        "serviceProvider": {"reference": f"Organization/{clinic}"},
                        "participant": [{"individual": {"reference": f"Practitioner/{doctor}"}}],
                        "diagnosis": [{"condition": {"reference": c}, "rank": 1}],
                        "period": {"start": "2026-06-01T09:00:00Z"},
                    },
                    "request": {"method": "POST", "url": "Encounter"},
                },
            ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        response = client.post("/", json=bundle, headers={"Prefer": "return=representation"})
        response.raise_for_status()
        visits += [e["resource"] for e in response.json()["entry"] if e["resource"]["resourceType"] == "Encounter"]
    return visits


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<42} {count:>6} in {seconds:7.2f} s  {count / seconds:8.1f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        EmbeddedDatabase(Path(folder)) as database,
        fhir_server(database.uri) as server,
    ):
        base = f"{server.base}/fhir"
        with httpx.Client(base_url=base, headers=FHIR, timeout=120) as client:
            visits = _setup(client, args.encounters)

        def finish(visit: dict[str, Any]) -> None:
            with httpx.Client(base_url=base, headers=FHIR, timeout=120) as http:
                http.put(f"/Encounter/{visit['id']}", json={**visit, "status": "finished"}).raise_for_status()

        def claim(visit: dict[str, Any]) -> str:
            with httpx.Client(base_url=base, headers=FHIR, timeout=120) as http:
                response = http.post(f"/Encounter/{visit['id']}/$claim")
                response.raise_for_status()
                return str(response.json()["id"])

        with ThreadPoolExecutor(args.clients) as pool:
            began = time.perf_counter()
            list(pool.map(finish, visits))
            _rate("visits finished (charge captured, priced)", len(visits), time.perf_counter() - began)
            began = time.perf_counter()
            claims = list(pool.map(claim, visits))
            _rate("claims assembled, checked, queued", len(claims), time.perf_counter() - began)
        parameters = {
            "resourceType": "Parameters",
            "parameter": [{"name": "claim", "valueReference": {"reference": f"Claim/{c}"}} for c in claims],
        }
        with httpx.Client(base_url=base, headers=FHIR, timeout=600) as client:
            began = time.perf_counter()
            response = client.post("/Claim/$export-x12", json=parameters)
            response.raise_for_status()
            _rate("claims in one 837P batch", len(claims), time.perf_counter() - began)
        began = time.perf_counter()
        errors = validate(response.text)
        seconds = time.perf_counter() - began
        verdict = "valid" if not errors else errors[:3]
        print(f"pyx12 validation of the batch ({len(response.text) // 1024} KiB): {seconds:.2f} s, {verdict}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
