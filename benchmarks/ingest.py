"""Ingest throughput: the 40 Synthea transaction Bundles over HTTP, through `fhir-server import`, and the floor.

Starts the embedded database, then:

1. `fhir-server serve` on a fresh database per run, and POSTs the 40 Bundles of /work/shared/synthea
   (7,933 resources) as transactions with 1 and then 4 concurrent clients (RawHttpPool);
2. `fhir-server import` of the same folder into a fresh database server (wall time of the whole command,
   database connection included, and the rate the command itself reports);
3. the floor: `insert_many` of the very documents the import stored (current versions with their
   search fields, and history; with `--skip-import`, those of the 1-client HTTP run), in batches of 200
   resources, into a fresh database server with the same indexes. Over HTTP the workflows run too
   (billing's charge capture adds about 1,500 small resources to the 7,933); the import stores the
   data as history, without them, so its documents are the same resources every path was sent.

The HTTP runs share one embedded database; the import and the floor each get a fresh one. SecantusDB
prunes its oplog once it holds 100,000 entries, and a path measured on the database the others had
filled measured that pruning too: the floor, run last, fell to 164-189 resources/s in two of four runs.

Prints resources/s for each and the ratio to the floor. Target: >= 2,000 resources/s over HTTP.

With `--conditional`, every Patient, Organization and Practitioner entry becomes a conditional create
(`ifNoneExist` on its first identifier), as in Synthea's shared-resources export: concurrent clients then
race on the same Practitioners and Organizations, and the transactions take condition locks.

With `--reads SECONDS`, one more client reads a Patient in a loop during the 4-client run and for
SECONDS after it (read_probe.py), and the audit records waiting to be sealed are counted: read p50/p99
during and after the load, and how long sealing trailed it.

With `--sync both` it runs everything twice, on an embedded database that does not fsync its journal
at each commit (as before issue 11) and on one that does (as shipped), and compares the two.

Usage: ``python benchmarks/ingest.py [--folder /work/shared/synthea] [--conditional] [--skip-import]
[--sync on|off|both] [--reads SECONDS] [--source DIR]``

`--source DIR` runs the servers from the source in DIR (another version, for a before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from harness import SYNC_MODES, add_sync_option, fhir_server, sync_label
from pymongo import AsyncMongoClient
from rawhttp import RawHttpPool
from read_probe import probe_during, report

from fhir_server.storage import EmbeddedDatabase, MongoResourceStore

SYNTHEA = Path("/work/shared/synthea")
TARGET = 2000.0
_BATCH = 200


async def post_bundles(host: str, port: int, bundles: list[bytes], clients: int) -> tuple[float, list[str]]:
    """POST every Bundle to [base] with `clients` concurrent connections; return the seconds taken and the
    failed transactions (status and OperationOutcome)."""
    pool = RawHttpPool(host, port, clients, {"Content-Type": "application/fhir+json"})
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for bundle in bundles:
        queue.put_nowait(bundle)
    failed: list[str] = []

    async def client() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            response = await pool.request("POST", "/fhir", body)
            if response.status != 200:
                failed.append(f"{response.status} {response.body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    await pool.close()
    return seconds, failed


def run_import(uri: str, database: str, folder: Path) -> tuple[float, float | None]:
    """Run `fhir-server import`; return (wall seconds, the resources/s the command reported)."""
    command = [sys.executable, "-m", "fhir_server", "import", "--mongodb-uri", uri, "--database", database, str(folder)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"import failed ({done.returncode}): {done.stdout}{done.stderr[-2000:]}")
    reported = re.search(r"\(([\d,]+) resources/s\)", done.stdout)
    return seconds, float(reported.group(1).replace(",", "")) if reported else None


async def stored_documents(uri: str, source: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The current versions `source` holds, each with its history entries."""
    async with AsyncMongoClient[dict[str, Any]](uri) as mongo:
        history: dict[str, list[dict[str, Any]]] = {}
        async for doc in mongo[source]["history"].find({}):
            history.setdefault(f"{doc['type']}/{doc['id']}", []).append(doc)
        return [(doc, history[doc["_id"]]) async for doc in mongo[source]["resources"].find({})]


async def floor(uri: str, documents: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> tuple[int, float]:
    """insert_many of `documents` (resources and their history) into an empty database with the same indexes."""
    async with AsyncMongoClient[dict[str, Any]](uri) as mongo:
        store = MongoResourceStore(mongo, "ingest_floor")
        await store.ensure_indexes()
        started = time.perf_counter()
        for start in range(0, len(documents), _BATCH):
            batch = documents[start : start + _BATCH]
            await mongo["ingest_floor"]["resources"].insert_many([doc for doc, _versions in batch], ordered=False)
            await mongo["ingest_floor"]["history"].insert_many(
                [version for _doc, versions in batch for version in versions], ordered=False
            )
        return len(documents), time.perf_counter() - started


def database_memory(uri: str, databases: list[str]) -> str:
    """The embedded database's resident memory (this process's SecantusDB child) beside the data it holds."""
    rss_kb = 0
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"secantus" in Path(f"/proc/{child}/cmdline").read_bytes():
                status = Path(f"/proc/{child}/status").read_text().splitlines()
                rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    async def sizes() -> tuple[int, int]:
        async with AsyncMongoClient[dict[str, Any]](uri) as mongo:
            stats = [await mongo[name].command("dbStats") for name in databases]
        return sum(int(s.get("dataSize", 0)) for s in stats), sum(int(s.get("indexSize", 0)) for s in stats)

    data, indexes = asyncio.run(sizes())
    held = f"{data / 2**20:,.0f} MiB of data and {indexes / 2**20:,.0f} MiB of indexes"
    return f"{rss_kb / 1024:,.0f} MiB resident for {held}"


_SHARED_TYPES = ("Patient", "Organization", "Practitioner")


def conditional(bundle: bytes) -> bytes:
    """The Bundle with its Patients, Organizations and Practitioners created only if their identifier is new."""
    parsed = orjson.loads(bundle)
    for entry in parsed.get("entry", ()):
        resource = entry.get("resource") or {}
        identifier = (resource.get("identifier") or [{}])[0]
        if resource.get("resourceType") in _SHARED_TYPES and identifier.get("value"):
            entry["request"]["ifNoneExist"] = f"identifier={identifier.get('system', '')}|{identifier['value']}"
    return orjson.dumps(parsed)


def measure(args: argparse.Namespace, bundles: list[bytes], resources: int, sync: bool) -> list[tuple[str, float]]:
    """Every path and the floor, each on a fresh embedded database (the HTTP runs share one); print them and
    return (path, resources/s) rows."""
    print(f"== {sync_label(sync)}\n", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows, documents = _over_http(args, bundles, resources, sync, Path(tmp) / "http")
        if not args.skip_import:
            with EmbeddedDatabase(_fresh(Path(tmp) / "import"), sync_on_commit=sync) as database:
                seconds, reported = run_import(database.uri, "ingest_cli", args.folder)
                documents = asyncio.run(stored_documents(database.uri, "ingest_cli"))
            rows.append(("fhir-server import (wall, with startup)", resources / seconds))
            print(f"{rows[-1][0]:38} {seconds:7.2f} s {rows[-1][1]:>9,.0f} resources/s", flush=True)
            if reported is not None:
                rows.append(("fhir-server import (as it reports)", reported))
                print(f"{rows[-1][0]:38} {'':9} {reported:>9,.0f} resources/s", flush=True)
        with EmbeddedDatabase(_fresh(Path(tmp) / "floor"), sync_on_commit=sync) as database:
            count, seconds = asyncio.run(floor(database.uri, documents))
        floor_rate = count / seconds
        print(f"{'floor: insert_many of the stored docs':38} {seconds:7.2f} s {floor_rate:>9,.0f} resources/s\n")
    print(f"{'path':40} {'resources/s':>12} {'of floor':>9}")
    for label, rate in rows:
        print(f"{label:40} {rate:>12,.0f} {rate / floor_rate:>9.0%}")
    best_http = max(rate for label, rate in rows if label.startswith("HTTP"))
    verdict = "PASS" if best_http >= TARGET else "MISS"
    print(f"\ntarget >= {TARGET:,.0f} resources/s over HTTP: {best_http:,.0f} {verdict}\n")
    return [*rows, ("floor", floor_rate)]


def _fresh(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _over_http(
    args: argparse.Namespace, bundles: list[bytes], resources: int, sync: bool, folder: Path
) -> tuple[list[tuple[str, float]], list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    """The HTTP runs on one embedded database: their rows, and what the 1-client run stored (the floor's
    documents when the import does not run)."""
    rows: list[tuple[str, float]] = []
    with EmbeddedDatabase(_fresh(folder), sync_on_commit=sync) as database:
        for clients in (1, 4):
            name = f"ingest_http_{clients}"
            with fhir_server(database.uri, name, cwd=args.source) as server:
                host, port = server.base.removeprefix("http://").split(":")[0], int(server.base.rsplit(":", 1)[1])
                load = post_bundles(host, port, bundles, clients)
                if args.reads and clients > 1:
                    (seconds, failed), figures = asyncio.run(
                        probe_during(load, host, port, database.uri, name, args.reads)
                    )
                    report(figures)
                else:
                    seconds, failed = asyncio.run(load)
            rows.append((f"HTTP transactions, {clients} client{'s' if clients > 1 else ''}", resources / seconds))
            print(f"{rows[-1][0]:38} {seconds:7.2f} s {rows[-1][1]:>9,.0f} resources/s", flush=True)
            for failure in failed:
                print(f"    FAILED: {failure}", flush=True)
        memory = database_memory(database.uri, ["ingest_http_1", "ingest_http_4"])
        print(f"embedded database after the HTTP ingests: {memory}", flush=True)
        return rows, asyncio.run(stored_documents(database.uri, "ingest_http_1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=SYNTHEA, help="a folder of transaction Bundles")
    parser.add_argument("--conditional", action="store_true", help="conditional creates of shared resources")
    parser.add_argument("--skip-import", action="store_true", help="only the HTTP runs and the floor")
    parser.add_argument("--reads", type=float, default=0, help="probe reads during the 4-client run and so long after")
    parser.add_argument("--source", help="run the servers from the source in this directory")
    add_sync_option(parser)
    args = parser.parse_args()
    paths = sorted(args.folder.glob("*.json"))
    bundles = [conditional(p.read_bytes()) if args.conditional else p.read_bytes() for p in paths]
    resources = sum(len(orjson.loads(b).get("entry", ())) for b in bundles)
    print(f"{len(bundles)} Bundles, {resources:,} resources, {sum(map(len, bundles)) / 1e6:.1f} MB\n", flush=True)
    runs = {sync: measure(args, bundles, resources, sync) for sync in SYNC_MODES[args.sync]}
    if len(runs) == 2:
        print(f"{'path':40} {'unsynced':>12} {'synced':>12} {'synced/unsynced':>16}  (resources/s)")
        for (label, before), (_, after) in zip(runs[False], runs[True], strict=True):
            print(f"{label:40} {before:>12,.0f} {after:>12,.0f} {after / before:>15.0%}")


if __name__ == "__main__":
    main()
