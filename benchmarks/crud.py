"""CRUD throughput and latency of the REST server against the same operations done directly with the driver.

Starts the embedded database and `fhir-server serve` on it, then for each concurrency level measures
create, read, vread and update of ~1 KB Patients over HTTP (the server) and with PyMongo's async driver
on another database of the same database server (the floor), and compares the two.

The floor's writes are retryable writes (the driver's default, as the server's are). SecantusDB keeps a
record of each (up to 10,000, for 30 minutes) and scans them all at every such write, so the floor's creates
and updates slow down as a run goes on: its 8-client updates, measured last, come out at about a tenth of
what the same client gets without retryable writes (1,100 per s). Read the write ratios with that in mind.

With `--auth smart` every server request carries a bearer token (a `system/*.cruds` grant stored before the
run), so the figures include the token check; the floor is the same.

With `--sync both` it runs everything twice, on an embedded database that does not fsync its journal
at each commit (as before issue 11) and on one that does (as shipped), and compares the two.

Usage: ``python benchmarks/crud.py [--clients 1,8,32] [--seconds 5] [--workers 1] [--sync on|off|both]
[--auth open|smart] [--source DIR]``

`--source DIR` runs the server from the source in DIR (another version, for a before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
import uvloop
from harness import SYNC_MODES, add_sync_option, fhir_server, sync_label
from pymongo import AsyncMongoClient
from rawhttp import RawHttpPool, RawResponse

from fhir_server.auth import Grant
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.grants import ACCESS, MongoGrantStore

OPERATIONS = ("create", "read", "vread", "update")
TARGETS = {("read", 8): 0.5, ("vread", 8): 0.5, ("create", 8): 0.4, ("update", 8): 0.4}
"""Minimum server/floor throughput ratio per (operation, clients)."""

_GIVEN = ("Amy", "Brian", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko", "Liam")
_FAMILY = ("Shaw", "Nguyen", "Garcia", "Okafor", "Müller", "Rossi", "Kowalski", "Haddad", "Larsen", "Tanaka")
_WHITE = {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3", "display": "White"}
_CITIES = (("Boston", "MA", "02118"), ("Denver", "CO", "80203"), ("Austin", "TX", "78701"), ("Salem", "OR", "97301"))


def patient(n: int) -> dict[str, Any]:
    """A US-Core-like Patient of about 1 KB (identifiers, names, telecom, address, race extension)."""
    given, family = _GIVEN[n % len(_GIVEN)], _FAMILY[n % len(_FAMILY)]
    city, state, postal = _CITIES[n % len(_CITIES)]
    return {
        "resourceType": "Patient",
        "extension": [
            {
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                "extension": [
                    {"url": "ombCategory", "valueCoding": _WHITE},
                    {"url": "text", "valueString": "White"},
                ],
            },
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"},
        ],
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": "http://hospital.example.org/mrn",
                "value": f"MRN-{n:08d}",
            },
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": f"999-{n % 100:02d}-{n % 10000:04d}"},
        ],
        "active": True,
        "name": [
            {"use": "official", "family": family, "given": [given, "Marie"], "prefix": ["Ms."]},
            {"use": "usual", "given": [given[:3]]},
        ],
        "telecom": [
            {"system": "phone", "value": f"555-{n % 1000:03d}-{n % 10000:04d}", "use": "home"},
            {"system": "phone", "value": f"555-{(n + 7) % 1000:03d}-0199", "use": "mobile", "rank": 1},
            {"system": "email", "value": f"{given.lower()}.{n}@example.org"},
        ],
        "gender": "female",
        "birthDate": f"{1940 + n % 70}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "address": [
            {
                "use": "home",
                "line": [f"{1 + n % 900} Main Street", "Apt 4B"],
                "city": city,
                "state": state,
                "postalCode": postal,
                "country": "US",
                "period": {"start": "2010-03-01"},
            }
        ],
        "maritalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}],
            "text": "Married",
        },
        "communication": [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-US"}], "text": "English"}}
        ],
    }


PATIENTS = [patient(n) for n in range(64)]
PATIENT_BYTES = [orjson.dumps(p) for p in PATIENTS]


class Target(Protocol):
    """One way of doing the four operations; ids are logical Patient ids."""

    name: str

    async def create(self, n: int) -> str: ...

    async def settle(self) -> None:
        """Untimed work between the create phase and the read phases."""

    async def read(self, resource_id: str) -> None: ...

    async def vread(self, resource_id: str) -> None: ...

    async def update(self, resource_id: str, n: int) -> None: ...


def _expect(what: str, response: RawResponse, status: int) -> RawResponse:
    if response.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {response.status}: {response.body[:500]!r}")
    return response


class ServerTarget:
    """The FHIR REST API over HTTP keep-alive connections."""

    name = "server"

    def __init__(self, client: RawHttpPool) -> None:
        self._client = client

    async def create(self, n: int) -> str:
        body = PATIENT_BYTES[n % len(PATIENTS)]
        response = _expect("create", await self._client.request("POST", "/fhir/Patient", body), 201)
        return response.headers["location"].split("/_history/")[0].rsplit("/", 1)[1]

    async def settle(self) -> None:
        """Nothing to do: the server writes the history itself."""

    async def read(self, resource_id: str) -> None:
        _expect("read", await self._client.request("GET", f"/fhir/Patient/{resource_id}"), 200)

    async def vread(self, resource_id: str) -> None:
        _expect("vread", await self._client.request("GET", f"/fhir/Patient/{resource_id}/_history/1"), 200)

    async def update(self, resource_id: str, n: int) -> None:
        body = orjson.dumps({**PATIENTS[n % len(PATIENTS)], "id": resource_id})
        _expect("update", await self._client.request("PUT", f"/fhir/Patient/{resource_id}", body), 200)


class FloorTarget:
    """The same operations straight on the driver, documents shaped like the server's `resources`/`history`."""

    name = "floor"

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._resources = client[database]["resources"]
        self._history = client[database]["history"]
        self._versions: dict[str, int] = {}
        self._unhistoried: list[dict[str, Any]] = []

    @staticmethod
    def _document(resource_id: str, version: int, n: int) -> dict[str, Any]:
        moment = datetime.now(UTC)
        meta = {"versionId": str(version), "lastUpdated": moment.isoformat()}
        body = orjson.dumps({"resourceType": "Patient", "id": resource_id, "meta": meta, **PATIENTS[n % len(PATIENTS)]})
        return {
            "_id": f"Patient/{resource_id}",
            "type": "Patient",
            "id": resource_id,
            "version": version,
            "lastUpdated": moment,
            "deleted": False,
            "body": body,
            "method": "POST" if version == 1 else "PUT",
        }

    async def create(self, n: int) -> str:
        resource_id = str(uuid.uuid4())
        document = self._document(resource_id, 1, n)
        await self._resources.insert_one(document)
        self._versions[resource_id] = 1
        self._unhistoried.append(document)
        return resource_id

    async def settle(self) -> None:
        """Copy the version 1 of the resources created so far into `history` (untimed; vread reads them)."""
        documents, self._unhistoried = self._unhistoried, []
        if documents:
            await self._history.insert_many([{**d, "_id": f"{d['_id']}/1"} for d in documents])

    async def read(self, resource_id: str) -> None:
        if await self._resources.find_one({"_id": f"Patient/{resource_id}"}) is None:
            raise RuntimeError(f"floor read: Patient/{resource_id} not found")

    async def vread(self, resource_id: str) -> None:
        if await self._history.find_one({"_id": f"Patient/{resource_id}/1"}) is None:
            raise RuntimeError(f"floor vread: Patient/{resource_id}/1 not found")

    async def update(self, resource_id: str, n: int) -> None:
        version = self._versions[resource_id] + 1
        document = self._document(resource_id, version, n)
        result = await self._resources.replace_one({"_id": document["_id"]}, document)
        if result.matched_count != 1:
            raise RuntimeError(f"floor update: Patient/{resource_id} not found")
        self._versions[resource_id] = version


@dataclass
class Phase:
    """The latencies (seconds) of one operation at one concurrency level, how long it ran and the client's CPU time."""

    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_phase(operation: Callable[[int, int], Awaitable[None]], clients: int, seconds: float) -> Phase:
    """Run `operation(client, n)` in `clients` concurrent loops for `seconds`, timing every call."""
    phase = Phase()
    deadline = time.perf_counter() + seconds

    async def loop(client: int) -> None:
        n = 0
        while (start := time.perf_counter()) < deadline:
            await operation(client, n)
            phase.latencies.append(time.perf_counter() - start)
            n += 1

    begin, cpu = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as group:
        for client in range(clients):
            group.create_task(loop(client))
    phase.elapsed, phase.client_cpu = time.perf_counter() - begin, time.process_time() - cpu
    return phase


class Bench:
    """The four phases against one target; ids created by earlier phases feed the later ones."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.ids: list[str] = []
        self.results: dict[tuple[str, int], Phase] = {}

    async def create(self, client: int, n: int) -> None:
        self.ids.append(await self.target.create(n))

    async def run(self, clients: int, seconds: float, *, record: bool = True) -> None:
        """Measure create, read, vread and update with `clients` concurrent clients."""
        phases = {"create": await run_phase(self.create, clients, seconds)}
        await self.target.settle()
        ids = list(self.ids)
        if len(ids) < clients:
            raise RuntimeError(f"{self.target.name}: only {len(ids)} resources for {clients} updating clients")
        phases["read"] = await run_phase(lambda c, n: self.target.read(random.choice(ids)), clients, seconds)
        phases["vread"] = await run_phase(lambda c, n: self.target.vread(random.choice(ids)), clients, seconds)
        owned = [ids[c::clients] for c in range(clients)]
        phases["update"] = await run_phase(
            lambda c, n: self.target.update(owned[c][n % len(owned[c])], n), clients, seconds
        )
        if record:
            for operation, phase in phases.items():
                self.results[(operation, clients)] = phase
                print(
                    f"{self.target.name:6} {operation:6} clients={clients:<3} {phase.rate:9,.0f} ops/s"
                    f"  p50 {phase.percentile_ms(0.50):7.2f} ms  p99 {phase.percentile_ms(0.99):7.2f} ms"
                    f"  client CPU {phase.client_cpu * 1000 / len(phase.latencies):5.2f} ms/op"
                    f"  ({len(phase.latencies)} ops)",
                    flush=True,
                )


def summary(server: Bench, floor: Bench, levels: list[int]) -> None:
    """Print server and floor throughput side by side and check the targets."""
    print(f"\n{'operation':9} {'clients':>7} {'server ops/s':>13} {'floor ops/s':>12} {'server/floor':>13}")
    for operation in OPERATIONS:
        for clients in levels:
            s, f = server.results[(operation, clients)].rate, floor.results[(operation, clients)].rate
            print(f"{operation:9} {clients:>7} {s:>13,.0f} {f:>12,.0f} {s / f:>12.0%}")
    print()
    for (operation, clients), minimum in TARGETS.items():
        if clients not in levels:
            print(f"target {operation} >= {minimum:.0%} of the floor at {clients} clients: not measured")
            continue
        ratio = server.results[(operation, clients)].rate / floor.results[(operation, clients)].rate
        verdict = "PASS" if ratio >= minimum else "MISS"
        print(f"target {operation} >= {minimum:.0%} of the floor at {clients} clients: {ratio:.0%} {verdict}")


async def bench_token(mongo: AsyncMongoClient[dict[str, Any]], database: str) -> str:
    """An access token with `system/*.cruds`, stored as `fhir-server token` would store one."""
    now = datetime.now(UTC)
    grant = Grant(ACCESS, "bench", ("system/*.cruds",), now, now + timedelta(hours=2), uuid.uuid4().hex)
    return await MongoGrantStore(mongo, database).issue(grant)


async def benchmark(base: str, uri: str, levels: list[int], seconds: float, auth: str) -> Bench:
    """Warm both targets up, then run every concurrency level on the server and on the floor in turn; return
    the server's figures."""
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    host, port = base.removeprefix("http://").split(":")
    async with AsyncMongoClient[dict[str, Any]](uri, maxPoolSize=max(levels)) as mongo:
        if auth == "smart":
            headers["Authorization"] = f"Bearer {await bench_token(mongo, 'bench')}"
        http = RawHttpPool(host, int(port), max(levels), headers)
        await mongo.drop_database("bench_floor")
        server, floor = Bench(ServerTarget(http)), Bench(FloorTarget(mongo, "bench_floor"))
        for bench in (server, floor):
            await bench.run(1, 0.5, record=False)
        for clients in levels:
            for bench in (server, floor):
                await bench.run(clients, seconds)
        summary(server, floor, levels)
    await http.close()
    return server


def compare(unsynced: Bench, synced: Bench, levels: list[int]) -> None:
    """Print the server's throughput and median latency without and with a journal fsync at each commit."""
    print(f"\n{'operation':9} {'clients':>7} {'unsynced ops/s':>15} {'synced ops/s':>13} {'synced/unsynced':>16}"
          f" {'p50 unsynced':>13} {'p50 synced':>11}")  # fmt: skip
    for operation in OPERATIONS:
        for clients in levels:
            before, after = unsynced.results[(operation, clients)], synced.results[(operation, clients)]
            ratio = after.rate / before.rate
            print(
                f"{operation:9} {clients:>7} {before.rate:>15,.0f} {after.rate:>13,.0f} {ratio:>15.0%}"
                f" {before.percentile_ms(0.5):>10.2f} ms {after.percentile_ms(0.5):>8.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels (default 1,8,32)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each phase (default 5)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--source", help="run the server from the source in this directory")
    parser.add_argument("--auth", choices=("open", "smart"), default="open",
                        help="server authorization: open, or smart with a bearer token on every request")  # fmt: skip
    add_sync_option(parser)
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    servers: dict[bool, Bench] = {}
    for sync in SYNC_MODES[args.sync]:
        with (
            tempfile.TemporaryDirectory() as tmp,
            EmbeddedDatabase(Path(tmp), sync_on_commit=sync) as database,
            fhir_server(database.uri, workers=args.workers, auth=args.auth, cwd=args.source) as server,
        ):
            print(
                f"\n== {sync_label(sync)}: server {server.base} (workers={args.workers}, auth={args.auth}),"
                f" database {database.uri},"
                f" {args.seconds:g} s per phase\n"
            )
            servers[sync] = uvloop.run(benchmark(server.base, database.uri, levels, args.seconds, args.auth))
    if len(servers) == 2:
        compare(servers[False], servers[True], levels)


if __name__ == "__main__":
    main()
