"""835 posting rate: one remittance paying N claims, imported through `PaymentReconciliation/$import-x12-835`.

Starts the embedded database and `fhir-server serve`, stores N patients each with a covered Account, a
priced ChargeItem and a Claim (transaction Bundles), then imports one 835 that pays every claim (a
payment, a CO-45 adjustment and a PR-2 patient share each) and reports claim payments per second: the
pyx12 validation, the Claim and Account look-ups, and the one transaction that writes a ClaimResponse per
claim and posts it to the ledger. Target: at least 200 claim payments/s. A second import of the same file
(idempotent: nothing written) is timed too.

Usage: ``python benchmarks/billing_835.py [--claims 1000]``
"""

from __future__ import annotations

import argparse
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


def _entry(resource: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    url = f"urn:uuid:{uuid.uuid4()}"
    return url, {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def _patient_entries(n: int, payer: str, control: str) -> list[dict[str, Any]]:
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
    return [patient_entry, coverage_entry, account_entry, charge, claim]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, EmbeddedDatabase(Path(folder)) as database:
        with fhir_server(database.uri) as server, httpx.Client(base_url=f"{server.base}/fhir", timeout=600) as client:
            headers = {"Content-Type": "application/fhir+json"}
            payer = client.post("/Organization", json={"resourceType": "Organization", "name": "Bench Plan"}).json()
            payer_ref = f"Organization/{payer['id']}"
            controls = [f"PCN{n:08d}" for n in range(args.claims)]
            started = time.perf_counter()
            for first in range(0, args.claims, BATCH):
                entries = [e for n in range(first, min(first + BATCH, args.claims))
                           for e in _patient_entries(n, payer_ref, controls[n])]  # fmt: skip
                bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
                response = client.post("", content=orjson.dumps(bundle), headers=headers)
                response.raise_for_status()
            print(f"setup: {args.claims} patients, accounts, charges, claims in {time.perf_counter() - started:.1f} s")
            line = [("CO", "45", "50.00"), ("PR", "2", "30.00")]
            claims = [Clp(c, "1", "200.00", "120.00", "30.00", f"P{c}", [Line("99213", "200.00", "120.00", line)])
                      for c in controls]  # fmt: skip
            text = x12_835(claims, f"{120 * args.claims}.00", "BENCH1")
            for label in ("import", "re-import (nothing written)"):
                started = time.perf_counter()
                response = client.post(
                    "/PaymentReconciliation/$import-x12-835", content=text, headers={"Content-Type": "text/plain"}
                )
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                rate = args.claims / elapsed
                print(f"{label}: {args.claims} claim payments in {elapsed:.2f} s = {rate:.0f}/s (target >= {TARGET:.0f}/s)")


if __name__ == "__main__":
    main()
