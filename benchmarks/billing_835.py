"""835 posting rate: one remittance paying N claims, imported through `PaymentReconciliation/$import-x12-835`.

Starts the embedded database and `fhir-server serve`, stores N patients each with a covered Account, a
priced ChargeItem and a Claim (transaction Bundles), then imports one 835 that pays every claim (a
payment, a CO-45 adjustment and a PR-2 patient share each) and reports claim payments per second: the
pyx12 validation, the Claim and Account look-ups, and the one transaction that writes a ClaimResponse per
claim and posts it to the ledger. Target: at least 200 claim payments/s. A second import of the same file
(idempotent: nothing written) is timed too. The CPU time the server and the database spent is printed
with the load average: on a shared machine the wall-clock rate says more about the neighbours.

Usage: ``python benchmarks/billing_835.py [--claims 1000] [--link id|identifier]`` (how CLP01 names the Claim:
its id, as an 837 sending the Claim id in CLM01 makes it, or an identifier, which costs a search per claim).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from harness import fhir_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fhir_server.storage import EmbeddedDatabase  # noqa: E402
from tests.billing.payments.x12 import Clp, Line, x12_835  # noqa: E402

TARGET = 200.0
BATCH = 50
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / _TICKS


def _entry(resource: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    url = f"urn:uuid:{uuid.uuid4()}"
    return url, {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def _patient_entries(n: int, payer: str, control: str, by_id: bool) -> list[dict[str, Any]]:
    patient, patient_entry = _entry({"resourceType": "Patient", "name": [{"family": f"Bench{n}"}]})
    coverage, coverage_entry = _entry(
        {"resourceType": "Coverage", "status": "active", "beneficiary": {"reference": patient},
         "payor": [{"reference": payer}]}
    )  # fmt: skip
    account, account_entry = _entry(
        {"resourceType": "Account", "status": "active", "subject": [{"reference": patient}],
         "coverage": [{"coverage": {"reference": coverage}, "priority": 1}]}
    )  # fmt: skip
    _url, charge = _entry(
        {"resourceType": "ChargeItem", "status": "billable", "code": {"text": "99213"},
         "subject": {"reference": patient}, "account": [{"reference": account}], "occurrenceDateTime": "2026-11-02",
         "priceOverride": {"value": orjson.Fragment(b"200.00"), "currency": "USD"}}
    )  # fmt: skip
    _url, claim = _entry(
        {"resourceType": "Claim", "identifier": [{"system": "urn:bench:pcn", "value": control}], "status": "active",
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
         "use": "claim", "patient": {"reference": patient}, "created": "2026-11-03", "insurer": {"reference": payer},
         "provider": {"reference": payer}, "priority": {"coding": [{"code": "normal"}]},
         "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": coverage}}]}
    )  # fmt: skip
    if by_id:  # the 837 sent the Claim's id as CLM01
        claim["resource"]["id"] = control
        claim["request"] = {"method": "PUT", "url": f"Claim/{control}"}
    return [patient_entry, coverage_entry, account_entry, charge, claim]


def _report(label: str, claims: int, elapsed: float, server_cpu: float, database_cpu: float) -> None:
    rate = claims / elapsed
    print(
        f"{label}: {claims} claim payments in {elapsed:.2f} s = {rate:.0f}/s (target >= {TARGET:.0f}/s); CPU: server "
        f"{server_cpu:.2f} s ({claims / max(server_cpu, 0.01):.0f} claims per CPU-second), database "
        f"{database_cpu:.2f} s; load average {os.getloadavg()[0]:.1f}"
    )


def _run(client: httpx.Client, server_pid: int, database_pid: int, count: int, by_id: bool) -> None:
    headers = {"Content-Type": "application/fhir+json"}
    payer = client.post("/Organization", json={"resourceType": "Organization", "name": "Bench Plan"}).json()
    payer_ref = f"Organization/{payer['id']}"
    controls = [f"PCN{n:08d}" for n in range(count)]
    started, setup_cpu = time.perf_counter(), cpu_seconds(database_pid)
    for first in range(0, count, BATCH):
        entries = [e for n in range(first, min(first + BATCH, count))
                   for e in _patient_entries(n, payer_ref, controls[n], by_id)]  # fmt: skip
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        response = client.post("", content=orjson.dumps(bundle), headers=headers)
        response.raise_for_status()
    print(f"setup: {count} patients, accounts, charges, claims in {time.perf_counter() - started:.1f} s; database CPU "
          f"{cpu_seconds(database_pid) - setup_cpu:.2f} s")  # fmt: skip
    line = [("CO", "45", "50.00"), ("PR", "2", "30.00")]
    claims = [Clp(c, "1", "200.00", "120.00", "30.00", f"P{c}", [Line("99213", "200.00", "120.00", line)])
              for c in controls]  # fmt: skip
    text = x12_835(claims, f"{120 * count}.00", "BENCH1")
    for label in ("import", "re-import (nothing written)"):
        cpu = cpu_seconds(server_pid), cpu_seconds(database_pid)
        started = time.perf_counter()
        response = client.post(
            "/PaymentReconciliation/$import-x12-835", content=text, headers={"Content-Type": "text/plain"}
        )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        _report(label, count, elapsed, cpu_seconds(server_pid) - cpu[0], cpu_seconds(database_pid) - cpu[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument(
        "--link", choices=("id", "identifier"), default="id", help="CLP01 is the Claim's id, or an identifier"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        EmbeddedDatabase(Path(folder)) as database,
        fhir_server(database.uri) as server,
        httpx.Client(base_url=f"{server.base}/fhir", timeout=600) as client,
    ):
        database_pid = database._process.pid if database._process else server.pid
        _run(client, server.pid, database_pid, args.claims, args.link == "id")


if __name__ == "__main__":
    main()
