"""SQL on FHIR `$viewdefinition-run` throughput and the server's memory, for several data sizes.

For each size: loads N synthetic Observations (~1 KB, with their Patients: benchmarks/export.py's
records) into a fresh database, starts `fhir-server serve` on it, then runs an
Observation view (id, patient key, code, value, unit, effective, status; `where status = 'final'`)
with `$viewdefinition-run` over HTTP in ndjson, csv and parquet, streaming the response. Prints rows/s
(the reports' target is >= 20,000 rows/s) and the peak RSS of the server process (VmHWM): it should
not grow with the data size, since rows are streamed a page of resources at a time. Also prints the
engine alone (`view_rows` in this process over the same records, no database, no HTTP).

The records are stored straight through the storage layer (`write_all` of the versions the engine's
`next_version` makes: the same bodies, search fields and compartments as a PUT, without the write
rules and the per-request cost), 1,000 a transaction: through the API, 100k under load takes too long.

`--before DIR` compares with another version of the server: DIR holds its source (for example
``git archive <commit> | tar -x -C DIR``); each format is run on DIR's server then on this one,
back to back on the same database, so a loaded machine weighs on both alike.

Usage: ``python benchmarks/views.py [--sizes 5000,100000] [--before DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from export import _observation, _patient, _peak_rss_kb
from harness import fhir_server

from fhir_server.engine.writing import next_version
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.store import PendingWrite
from fhir_server.views import view_rows

TARGET = 20_000
BATCH = 1000
FORMATS = ("ndjson", "csv", "parquet")
VIEW = {
    "resourceType": "ViewDefinition",
    "resource": "Observation",
    "status": "active",
    "select": [{"column": [
        {"name": "id", "path": "getResourceKey()", "type": "string"},
        {"name": "patient", "path": "subject.getReferenceKey(Patient)", "type": "string"},
        {"name": "code", "path": "code.coding.first().code", "type": "code"},
        {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
        {"name": "unit", "path": "value.ofType(Quantity).unit", "type": "string"},
        {"name": "effective", "path": "effective.ofType(dateTime)", "type": "dateTime"},
        {"name": "status", "path": "status", "type": "code"},
    ]}],
    "where": [{"path": "status = 'final'"}],
}  # fmt: skip


async def load(uri: str, database: str, observations: int) -> float:
    """Store `observations` Observations and one Patient each through the storage layer; the seconds it took."""
    store = MongoResourceStore.connect(uri, database)
    await store.ensure_indexes()
    started = time.perf_counter()
    try:
        batch: list[PendingWrite] = []
        for n in range(observations):
            for resource in (_patient(n), _observation(n)):
                batch.append(next_version(resource["resourceType"], resource["id"], resource, None, "PUT"))
            if len(batch) >= BATCH:
                await store.write_all(batch)
                batch = []
        if batch:
            await store.write_all(batch)
    finally:
        await store.close()
    return time.perf_counter() - started


def run(base: str, output: str) -> tuple[int, float, int]:
    """One `$viewdefinition-run` streamed to the end: (rows, seconds, bytes)."""
    body = {"resourceType": "Parameters", "parameter": [{"name": "viewResource", "resource": VIEW}]}
    started = time.perf_counter()
    rows = size = 0
    with (
        httpx.Client(timeout=600) as client,
        client.stream("POST", f"{base}/$viewdefinition-run", params={"_format": output}, json=body) as response,
    ):
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            size += len(chunk)
            rows += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    if output == "csv":
        rows -= 1  # the header line
    return rows, seconds, size


def engine_alone(count: int) -> float:
    """Rows/s of `view_rows` over `count` Observations held in memory."""
    resources = [_observation(n) for n in range(count)]
    started = time.perf_counter()
    rows = sum(1 for _row in view_rows(VIEW, resources))
    return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--before", help="the source directory of the server to compare with")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    servers = [("before", args.before), ("this", None)] if args.before else [("this", None)]
    print(f"engine alone (view_rows in memory, 10,000 Observations): {engine_alone(10_000):,.0f} rows/s")
    table = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp)) as db:
        for size in sizes:
            database = f"bench_views_{uuid.uuid4().hex[:6]}"
            seconds = asyncio.run(load(db.uri, database, size))
            print(f"loaded {size:,} Observations (+ {size:,} Patients) in {seconds:.1f} s")
            for output in FORMATS:
                for name, source in servers:
                    with fhir_server(db.uri, database, cwd=source) as server:
                        idle = _peak_rss_kb(server.pid)
                        rows, elapsed, size_bytes = run(f"{server.base}/fhir", output)
                        if output != "parquet":
                            assert rows == size, (output, rows, size)
                        table.append((name, size, output, elapsed, size_bytes, idle, _peak_rss_kb(server.pid)))
                    print(f"  {name:>6} {size:>8,} {output:>8}: {size / elapsed:,.0f} rows/s", flush=True)
    print()
    print(f"{'server':>6} {'observations':>12} {'format':>8} {'seconds':>8} {'rows/s':>9} {'MB':>6} "
          f"{'RSS idle MB':>11} {'RSS peak MB':>11}")  # fmt: skip
    for name, size, output, elapsed, size_bytes, idle, peak in table:
        print(f"{name:>6} {size:>12,} {output:>8} {elapsed:>8.2f} {size / elapsed:>9,.0f} {size_bytes / 1e6:>6.1f} "
              f"{idle / 1024:>11.1f} {peak / 1024:>11.1f}")  # fmt: skip
    worst = min(size / elapsed for name, size, _o, elapsed, *_rest in table if name == "this")
    print(f"\ntarget: >= {TARGET:,} rows/s -> {'met' if worst >= TARGET else 'NOT met'} (slowest {worst:,.0f}/s)")
    peaks = {size: peak for name, size, _o, _e, _b, _i, peak in table if name == "this"}
    print("peak RSS should stay flat across sizes: " + ", ".join(f"{s:,}: {p / 1024:.0f} MB" for s, p in peaks.items()))


if __name__ == "__main__":
    main()
