"""Billing, claims out and money in: N finished visits -> charges -> claims -> one 837P batch -> the
payer's 835 for that batch, against a real server on the embedded database.

Prints the rate of visits finished (each PUT captures and prices its charge in the same commit),
of `Encounter/$claim` (assemble, check, queue), the time of one `Claim/$export-x12` of every claim,
the time and result of pyx12's validation of that file, then the 835 posting rate: one remittance
paying every claim of the batch (CLP01 the 837's CLM01, the claim id; a payment, a CO-45 adjustment
and a PR-2 patient share each) through `PaymentReconciliation/$import-x12-835` (pyx12 validation,
the Claim and Account look-ups, and the one transaction that writes a ClaimResponse per claim and
posts it to the ledger). Target: at least 200 claim payments/s. A second import of the same file
(idempotent: nothing written) is timed too. The CPU time the server and the database spent is printed
with the load average: on a shared machine the wall-clock rate says more about the neighbours.

    python benchmarks/billing.py [--encounters 1000] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import fhir_server  # noqa: E402
from fhir_server.billing.codes import CPT, FEE_SCHEDULE, ICD10CM, NPI, PAYER_ID, PRICE_LEVEL, TAX_ID  # noqa: E402
from fhir_server.billing.x12.segments import parse  # noqa: E402
from fhir_server.billing.x12.validate import validate  # noqa: E402
from fhir_server.storage import EmbeddedDatabase  # noqa: E402
from tests.billing.payments.x12 import Clp, Line, x12_835  # noqa: E402

FHIR = {"Content-Type": "application/fhir+json"}
TARGET = 200.0
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / _TICKS


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


def remittance(x837: str) -> tuple[str, int]:
    """The payer's 835 for every claim of the 837 (paid 60%, 25% contractual, the rest the patient's) and
    how many claims it pays."""
    claims = []
    total = Decimal(0)
    for segment in parse(x837):
        if segment[0] == "CLM":
            charge = Decimal(segment[2])
            paid = (charge * Decimal("0.60")).quantize(Decimal("0.01"))
            contractual = (charge * Decimal("0.25")).quantize(Decimal("0.01"))
            share = charge - paid - contractual
            adjustments = [("CO", "45", str(contractual)), ("PR", "2", str(share))]
            line = Line("99213", str(charge), str(paid), adjustments)
            claims.append(Clp(segment[1], "1", str(charge), str(paid), str(share), f"P{segment[1][:20]}", [line]))
            total += paid
    return x12_835(claims, str(total), "BENCH1"), len(claims)


def post_remittance(base: str, text: str, count: int, server_pid: int, database_pid: int) -> None:
    """Import the 835 twice (the second writes nothing) and print the claim payments per second."""
    with httpx.Client(base_url=base, timeout=600) as client:
        for label in ("835 import", "835 re-import (nothing written)"):
            cpu = cpu_seconds(server_pid), cpu_seconds(database_pid)
            started = time.perf_counter()
            response = client.post(
                "/PaymentReconciliation/$import-x12-835", content=text, headers={"Content-Type": "application/edi-x12"}
            )
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            server_cpu, database_cpu = cpu_seconds(server_pid) - cpu[0], cpu_seconds(database_pid) - cpu[1]
            print(
                f"{label}: {count} claim payments in {elapsed:.2f} s = {count / elapsed:.0f}/s (target >= "
                f"{TARGET:.0f}/s); CPU: server {server_cpu:.2f} s, database {database_cpu:.2f} s"
            )


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
        text, paid = remittance(response.text)
        database_pid = database._process.pid if database._process else server.pid
        post_remittance(base, text, paid, server.pid, database_pid)
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
