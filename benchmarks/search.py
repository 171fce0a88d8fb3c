"""US Core 6.1 SHALL searches over Synthea data: latency through the server against the database query alone.

Loads copies of the Synthea bundles (see `synthea_load.py`) through the engine into the embedded
database, times index extraction on one core, then starts `fhir-server serve` on that database and
runs every search the US Core server CapabilityStatement marks SHALL (single parameters and
combinations) with random patients. Each query is timed over HTTP (the server) and as the one
`store.find` the engine would issue for it, with the criteria compiled by the engine's planner
(the floor). The server also counts the matches (`_total` is accurate by default); the floor does not.

Usage: ``python benchmarks/search.py [--resources 100000] [--runs 50] [--seed 1]``
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvloop
from harness import fhir_server
from rawhttp import RawHttpPool
from synthea_load import Dataset, generate, load, subject_of

from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine.identity import now
from fhir_server.engine.search import _Planner, planned_query
from fhir_server.search.extract import extract_index
from fhir_server.search.registry import SearchRegistry, default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import CurrentQuery, EmbeddedDatabase, MongoResourceStore

CAPABILITY = Path("/work/shared/us-core/6.1.0/CapabilityStatement-us-core-server.json")
DATABASE = "bench"
"""The database `crud.fhir_server` points the server at."""
DEFAULT_COUNT, MAX_COUNT = 20, 1000
"""The server's default page size settings, so the floor asks for the same page."""
TARGET_RATIO = 3.0
"""p95 through the server at most this many times the floor's p95."""
EXTRACT_TARGET = 5000.0
_EXPECTATION = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-expectation"
_COMBINATION = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-search-parameter-combination"
PATIENT_SCOPED = "patient"

Pairs = list[tuple[str, str]]


def us_core_shall_searches(path: Path = CAPABILITY) -> list[tuple[str, tuple[str, ...]]]:
    """(type, parameters) for every SHALL search parameter and SHALL combination of the US Core server."""

    def expectation(element: dict[str, Any]) -> str | None:
        return next((e.get("valueCode") for e in element.get("extension", []) if e["url"] == _EXPECTATION), None)

    searches: list[tuple[str, tuple[str, ...]]] = []
    for resource in json.loads(path.read_text(encoding="utf-8"))["rest"][0]["resource"]:
        kind = resource["type"]
        for param in resource.get("searchParam", []):
            if expectation(param) == "SHALL":
                searches.append((kind, (param["name"],)))
        for ext in resource.get("extension", []):
            if ext["url"] == _COMBINATION and expectation(ext) == "SHALL":
                names = tuple(e["valueString"] for e in ext["extension"] if e["url"] == "required")
                searches.append((kind, names))
    return searches


def _coding(concept: dict[str, Any]) -> str:
    coding = concept["coding"][0]
    return f"{coding['system']}|{coding['code']}"


def _when(resource: dict[str, Any]) -> str:
    for key in ("effectiveDateTime", "performedDateTime", "date", "authoredOn"):
        if key in resource:
            return str(resource[key])
    for key in ("effectivePeriod", "performedPeriod", "period"):
        if key in resource:
            return str(resource[key]["start"])
    raise KeyError("date")


def _day_before(resource: dict[str, Any]) -> str:
    """`ge` the day before the resource's date: time zones cannot push it out of the match."""
    return "ge" + (date.fromisoformat(_when(resource)[:10]) - timedelta(days=1)).isoformat()


def _name(resource: dict[str, Any]) -> str:
    name = resource["name"]
    return str(name if isinstance(name, str) else name[0]["family"])


def _identifier(resource: dict[str, Any]) -> str:
    identifier = resource["identifier"][0]
    return f"{identifier['system']}|{identifier['value']}"


def _city(resource: dict[str, Any]) -> str:
    address = resource["address"]
    return str((address if isinstance(address, dict) else address[0])["city"])


VALUES: dict[str, Callable[[dict[str, Any]], str]] = {
    "_id": lambda r: str(r["id"]),
    "patient": lambda r: str(subject_of(r) or "").removeprefix("Patient/") or r["missing"],
    "category": lambda r: _coding(r["category"][0]),
    "code": lambda r: _coding(r["code"]),
    "type": lambda r: _coding(r["type"]),
    "status": lambda r: str(r["status"]),
    "intent": lambda r: str(r["intent"]),
    "date": _day_before,
    "authored": _day_before,
    "identifier": _identifier,
    "name": _name,
    "birthdate": lambda r: str(r["birthDate"]),
    "gender": lambda r: str(r["gender"]),
    "address": _city,
}
"""How to read, from a resource, a value of each parameter that matches it."""


def query_for(resource: dict[str, Any], names: Sequence[str]) -> Pairs | None:
    """The search pairs `names` with values read from `resource`, or None if it lacks one."""
    try:
        return [(name, VALUES[name](resource)) for name in names]
    except (KeyError, IndexError, TypeError):
        return None


def sample_queries(dataset: Dataset, kind: str, names: Sequence[str], runs: int, rng: random.Random) -> list[Pairs]:
    """`runs` queries; patient-scoped ones pick a random patient first, then one of its resources."""
    if PATIENT_SCOPED in names:
        eligible = [
            [pairs for r in resources.get(kind, []) if (pairs := query_for(r, names)) is not None]
            for resources in dataset.by_patient.values()
        ]
        pools = [pool for pool in eligible if pool]
        return [rng.choice(rng.choice(pools)) for _ in range(runs)] if pools else []
    pool = [pairs for r in dataset.by_type.get(kind, []) if (pairs := query_for(r, names)) is not None]
    return [rng.choice(pool) for _ in range(runs)] if pool else []


def percentile_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Measured:
    """Latencies (seconds) of one search shape through the server and on the floor, and matches found."""

    server: list[float]
    floor: list[float]
    matches: list[int]


class Floor:
    """The database query alone: criteria compiled by the engine's planner, then one `store.find`."""

    def __init__(self, store: MongoResourceStore, registry: SearchRegistry) -> None:
        self.store, self.registry = store, registry

    async def prepare(self, kind: str, pairs: Pairs) -> tuple[CurrentQuery, int]:
        request = parse_search_request(
            kind, pairs, self.registry, default_count=DEFAULT_COUNT, max_count=MAX_COUNT, strict=True
        )
        clauses = await _Planner(self.store, AccessPolicy.system("benchmark"), self.registry, now(), None).clauses(
            kind, request.filters
        )
        return planned_query(kind, clauses), request.count + 1

    async def run(self, query: CurrentQuery, limit: int) -> tuple[float, int]:
        start = time.perf_counter()
        found = await self.store.find(query, limit)
        return time.perf_counter() - start, len(found)


async def server_run(pool: RawHttpPool, kind: str, pairs: Pairs) -> float:
    path = f"/fhir/{kind}?{urlencode(pairs)}"
    start = time.perf_counter()
    response = await pool.request("GET", path)
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {response.body[:300]!r}")
    return elapsed


async def measure(pool: RawHttpPool, floor: Floor, kind: str, queries: list[Pairs]) -> Measured:
    """Warm up once, then time every query through the server, then on the floor, one at a time."""
    await server_run(pool, kind, queries[0])
    prepared = [await floor.prepare(kind, pairs) for pairs in queries]
    await floor.run(*prepared[0])
    server = [await server_run(pool, kind, pairs) for pairs in queries]
    floors, matches = [], []
    for query, limit in prepared:
        elapsed, found = await floor.run(query, limit)
        floors.append(elapsed)
        matches.append(found)
    return Measured(server, floors, matches)


def extraction_rate(resources: list[dict[str, Any]]) -> float:
    """Index extractions per second on this core; an untimed first pass compiles every plan."""
    registry = default_registry()
    for resource in resources:
        extract_index(resource, registry)
    start = time.perf_counter()
    for resource in resources:
        extract_index(resource, registry)
    return len(resources) / (time.perf_counter() - start)


async def load_data(uri: str, dataset: Dataset) -> None:
    store = MongoResourceStore.connect(uri, DATABASE)
    try:
        await store.ensure_indexes()
        cpu = time.process_time()
        seconds = await load(store, dataset.resources)
        cpu = time.process_time() - cpu
    finally:
        await store.close()
    count = len(dataset.resources)
    print(
        f"load: {count:,} resources in {seconds:,.1f} s = {count / seconds:,.0f} resources/s"
        f" (engine transactions of 250 PUTs; this process used {cpu / seconds:.0%} of one core)"
    )


async def run_searches(base: str, uri: str, dataset: Dataset, runs: int, seed: int) -> None:
    """Every SHALL search, `runs` random instances each; prints one row per search and the verdict."""
    rng = random.Random(seed)
    host, port = base.removeprefix("http://").split(":")
    pool = RawHttpPool(host, int(port), 1, {"Accept": "application/fhir+json"})
    store = MongoResourceStore.connect(uri, DATABASE)
    floor = Floor(store, default_registry())
    header = f"{'search':52} {'hits':>5} {'server p50':>10} {'p95':>9} {'floor p50':>10} {'p95':>9} {'p95 ratio':>9}"
    print(f"\n{runs} runs per search, latencies in ms; hits = mean matches on the page (max {DEFAULT_COUNT + 1})")
    print(header)
    misses, skipped = [], []
    try:
        for kind, names in us_core_shall_searches():
            label = f"{kind}?{'&'.join(names)}"
            queries = sample_queries(dataset, kind, names, runs, rng)
            if not queries:
                skipped.append(label)
                continue
            m = await measure(pool, floor, kind, queries)
            ratio = percentile_ms(m.server, 0.95) / percentile_ms(m.floor, 0.95)
            verdict = "ok" if ratio <= TARGET_RATIO else "MISS"
            if verdict == "MISS":
                misses.append(label)
            print(
                f"{label:52} {statistics.mean(m.matches):5.1f}"
                f" {percentile_ms(m.server, 0.5):10.1f} {percentile_ms(m.server, 0.95):9.1f}"
                f" {percentile_ms(m.floor, 0.5):10.1f} {percentile_ms(m.floor, 0.95):9.1f} {ratio:8.2f}x {verdict}",
                flush=True,
            )
    finally:
        await pool.close()
        await store.close()
    print(f"\nskipped (no such resources in the data): {', '.join(skipped) or 'none'}")
    print(f"target p95 server/floor <= {TARGET_RATIO:g}x: {'PASS' if not misses else 'MISS on ' + ', '.join(misses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000, help="resources to load (default 100000)")
    parser.add_argument("--runs", type=int, default=50, help="random instances of each search (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data and the queries")
    args = parser.parse_args()
    began = time.perf_counter()
    dataset = generate(args.resources, args.seed)
    print(f"data: {len(dataset.resources):,} resources, {len(dataset.by_patient):,} patients")
    rate = extraction_rate(dataset.resources)
    verdict = "PASS" if rate >= EXTRACT_TARGET else "MISS"
    print(f"index extraction: {rate:,.0f} resources/s on one core (target >= {EXTRACT_TARGET:,.0f}/s: {verdict})")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp)) as database:
        uvloop.run(load_data(database.uri, dataset))
        with fhir_server(database.uri) as server:
            uvloop.run(run_searches(server.base, database.uri, dataset, args.runs, args.seed))
    print(f"\ntotal {time.perf_counter() - began:,.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
