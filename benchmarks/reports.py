"""Reports over 100k resources: materializing a view as Parquet, refreshing it after 1k changes, and
the time to answer a report (refresh check + DuckDB query), against the embedded database.

Generates synthetic laboratory Observations (20 tests, random H/L/A/N interpretations over two
years), loads them through the engine in transactions of 250 PUTs, then, in this process:

- materialize: the first build of the shipped `abnormal-lab-results` view (every Observation read
  through the engine, turned into rows by the view engine, written as Parquet);
- report p50/p95: `run_report` as `$report` runs it (the history checked for changes since the
  high-water mark, then the query in a locked DuckDB connection over the Arrow table);
- refresh after 1k changes: 800 updates and 200 deletions through the engine, then one refresh;
- the report again, and the DuckDB query alone.

Usage: ``python benchmarks/reports.py [--resources 100000] [--runs 50] [--seed 1]``
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import uvloop
from synthea_load import load

from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine.bundle.transaction import process_transaction
from fhir_server.reports.checks import checked_sql
from fhir_server.reports.materialize import Materializer
from fhir_server.reports.query import run_query
from fhir_server.reports.runner import run_report
from fhir_server.reports.shipped import shipped_reports
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore

DATABASE = "bench_reports"
TARGET_SECONDS = 1.0
FLAGS = ["H", "HH", "L", "LL", "A", "N", "N", "N", "N", "N"]
PERIOD = {"start": date(2025, 1, 1), "end": date(2025, 12, 31)}
SYSTEM = AccessPolicy.system("benchmark")


def observation(number: int, rng: random.Random) -> dict[str, Any]:
    test = rng.randrange(20)
    day = date(2024, 1, 1) + timedelta(days=rng.randrange(730))
    return {
        "resourceType": "Observation",
        "id": f"lab-{number}",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": f"{1000 + test}-{test % 10}",
                             "display": f"Test {test:02d}"}]},
        "subject": {"reference": f"Patient/p{rng.randrange(5000)}"},
        "effectiveDateTime": f"{day.isoformat()}T08:00:00Z",
        "valueQuantity": {"value": round(rng.uniform(1, 200), 1), "unit": "mg/dL"},
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                        "code": rng.choice(FLAGS)}]}],
    }  # fmt: skip


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
    return f"p50 {p50:,.1f} ms, p95 {p95:,.1f} ms"


async def timed_reports(materializer: Materializer, runs: int) -> list[float]:
    report = shipped_reports()["abnormal-lab-results"]
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await run_report(report, SYSTEM, materializer, PERIOD)
        samples.append(time.perf_counter() - began)
    return samples


async def change(store: MongoResourceStore, resources: list[dict[str, Any]], rng: random.Random) -> float:
    picked = rng.sample(resources, 1000)
    entries: list[dict[str, Any]] = []
    for resource in picked[:800]:
        changed = {**resource, "interpretation": [{"coding": [{"code": "HH"}]}]}
        entries.append({"resource": changed, "request": {"method": "PUT", "url": f"Observation/{resource['id']}"}})
    entries += [{"request": {"method": "DELETE", "url": f"Observation/{r['id']}"}} for r in picked[800:]]
    began = time.perf_counter()
    for start in range(0, len(entries), 250):
        await process_transaction(store, SYSTEM, entries[start : start + 250], None)
    return time.perf_counter() - began


async def run(uri: str, folder: Path, count: int, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    resources = [observation(number, rng) for number in range(count)]
    store = MongoResourceStore.connect(uri, DATABASE)
    try:
        await store.ensure_indexes()
        seconds = await load(store, resources)
        print(f"load: {count:,} Observations in {seconds:,.1f} s = {count / seconds:,.0f}/s (engine transactions)")
        report = shipped_reports()["abnormal-lab-results"]
        view = report.views["results"]
        materializer = Materializer(store, folder)
        began = time.perf_counter()
        loaded = await materializer.refresh(view)
        built = time.perf_counter() - began
        size = materializer.path(view).stat().st_size
        print(f"materialize: {loaded.table.num_rows:,} rows in {built:,.2f} s = {loaded.table.num_rows / built:,.0f}"
              f" rows/s, Parquet {size / 1e6:,.1f} MB")  # fmt: skip
        samples = await timed_reports(materializer, runs)
        print(f"report (refresh check + query), nothing changed: {percentiles(samples)} over {runs} runs")
        written = await change(store, resources, rng)
        print(f"1k changes (800 updates, 200 deletions) written in {written:,.2f} s")
        began = time.perf_counter()
        loaded = await materializer.refresh(view)
        print(f"incremental refresh after 1k changes: {time.perf_counter() - began:,.3f} s"
              f" ({loaded.table.num_rows:,} rows now)")  # fmt: skip
        samples = await timed_reports(materializer, runs)
        verdict = "PASS" if sorted(samples)[int(len(samples) * 0.95) - 1] < TARGET_SECONDS else "MISS"
        print(f"report after the changes: {percentiles(samples)} (target p95 < {TARGET_SECONDS:.0f} s: {verdict})")
        sql, used = checked_sql(report)
        table = await materializer.rows(view)
        alone = []
        for _ in range(runs):
            began = time.perf_counter()
            await run_query(sql, {"results": table}, {name: PERIOD[name] for name in used})
            alone.append(time.perf_counter() - began)
        print(f"DuckDB query alone: {percentiles(alone)}")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as database:
        uvloop.run(run(database.uri, Path(tmp) / "reports", args.resources, args.runs, args.seed))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
