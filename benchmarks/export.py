"""Bulk $export throughput and the server's memory, for two data sizes.

For each size: loads N synthetic resources (~1 KB Patients and Observations, half each) through the
engine (transaction Bundles of create-on-update entries) into a fresh database, starts
`fhir-server serve` on it, then times a system-level `$export` over HTTP: kick-off, polling, and the
download of every NDJSON file (streamed). Prints resources/s (target >= 10,000/s) and the peak RSS
of the server process (`VmHWM` in /proc/<pid>/status): it should not grow with the data size.

Usage: ``python benchmarks/export.py [--sizes 5000,20000]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from harness import fhir_server

from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine.bundle.transaction import process_transaction
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore

TARGET = 10_000
BATCH = 500


def _patient(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"p{n:08d}",
        "identifier": [{"system": "urn:bench:mrn", "value": f"MRN{n:08d}"}],
        "name": [{"family": f"Family{n % 977}", "given": ["Amy", "Lee"], "use": "official"}],
        "gender": "female" if n % 2 else "male",
        "birthDate": f"19{50 + n % 50}-0{1 + n % 9}-1{n % 10}",
        "telecom": [{"system": "phone", "value": f"555-{n % 10000:04d}", "use": "home"}],
        "address": [{"line": [f"{n % 999} Main Street"], "city": "Boston", "state": "MA", "postalCode": "02118"}],
        "text": {"status": "generated",
                 "div": f'<div xmlns="http://www.w3.org/1999/xhtml">Patient {n} ' + "x" * 400 + "</div>"},
    }  # fmt: skip


def _observation(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{n:08d}",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
        "subject": {"reference": f"Patient/p{n:08d}"},
        "effectiveDateTime": "2024-05-01T10:00:00Z",
        "valueQuantity": {"value": 60 + n % 40, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "y" * 400 + "</div>"},
    }  # fmt: skip


async def load(uri: str, database: str, count: int) -> float:
    """Write `count` resources through the engine; returns the seconds it took."""
    store = MongoResourceStore.connect(uri, database)
    await store.ensure_indexes()
    started = time.perf_counter()
    try:
        batch: list[dict[str, Any]] = []
        for n in range(count):
            resource = _patient(n // 2) if n % 2 == 0 else _observation(n // 2)
            url = f"{resource['resourceType']}/{resource['id']}"
            batch.append({"resource": resource, "request": {"method": "PUT", "url": url}})
            if len(batch) == BATCH:
                await process_transaction(store, AccessPolicy.system("benchmark"), batch, None)
                batch = []
        if batch:
            await process_transaction(store, AccessPolicy.system("benchmark"), batch, None)
    finally:
        await store.close()
    return time.perf_counter() - started


def _peak_rss_kb(pid: int) -> int:
    """The largest VmHWM of the server process and its children (uvicorn workers)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(child) for child in children]
    peak = 0
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak


def export(base: str) -> tuple[int, float, float, int]:
    """Run a system $export of Patient and Observation; (resources, seconds to manifest, total seconds, bytes)."""
    with httpx.Client(timeout=120) as client:
        started = time.perf_counter()
        response = client.get(
            f"{base}/$export", params={"_type": "Patient,Observation"}, headers={"Prefer": "respond-async"}
        )
        assert response.status_code == 202, response.text
        poll = response.headers["Content-Location"]
        while (response := client.get(poll)).status_code == 202:
            time.sleep(0.05)
        assert response.status_code == 200, response.text
        ready = time.perf_counter() - started
        manifest = response.json()
        lines = size = 0
        for output in manifest["output"]:
            with client.stream("GET", output["url"]) as download:
                for chunk in download.iter_bytes():
                    lines += chunk.count(b"\n")
                    size += len(chunk)
        assert lines == sum(output["count"] for output in manifest["output"])
        return lines, ready, time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp)) as db:
        for size in sizes:
            database = f"bench_export_{uuid.uuid4().hex[:6]}"
            seconds = asyncio.run(load(db.uri, database, size))
            print(f"loaded {size:,} resources through the engine in {seconds:.1f} s ({size / seconds:,.0f}/s)")
            with fhir_server(db.uri, database) as server:
                idle = _peak_rss_kb(server.pid)
                count, ready, total, size_bytes = export(f"{server.base}/fhir")
                peak = _peak_rss_kb(server.pid)
            rows.append((size, count, ready, total, size_bytes, idle, peak))
    print()
    print(f"{'resources':>10} {'exported':>9} {'job s':>7} {'job res/s':>10} {'+download s':>11} {'res/s':>9} "
          f"{'MB':>6} {'RSS idle MB':>11} {'RSS peak MB':>11}")  # fmt: skip
    for size, count, ready, total, size_bytes, idle, peak in rows:
        print(f"{size:>10,} {count:>9,} {ready:>7.2f} {count / ready:>10,.0f} {total:>11.2f} {count / total:>9,.0f} "
              f"{size_bytes / 1e6:>6.1f} {idle / 1024:>11.1f} {peak / 1024:>11.1f}")  # fmt: skip
    worst = min(count / total for _size, count, _r, total, *_rest in rows)
    print(
        f"\ntarget: >= {TARGET:,} resources/s end to end -> {'met' if worst >= TARGET else 'NOT met'} ({worst:,.0f}/s)"
    )
    print("peak RSS should stay flat across sizes: " + ", ".join(f"{r[0]:,}: {r[6] / 1024:.0f} MB" for r in rows))


if __name__ == "__main__":
    main()
