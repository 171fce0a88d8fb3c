"""What storing the queue's read events costs the database: one record per event against one pack per flush.

Starts the embedded database and, on two fresh audit logs with the server's indexes, appends the same
read events as the queue would (flushes of `--per-flush` events, sealed as they are inserted by the
lease holder), once as one record per event (before packs) and once as packs, alternating the two
`--rounds` times so a loaded machine weighs on both alike. Prints ms per event and the ratio, then
the time of a first page of a filtered search on each log.

Usage: ``python benchmarks/audit_store.py [--flushes 40] [--per-flush 25] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from fhir_server.audit.events import Actor, instant, rest_event
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit import AuditKey, MongoAuditLog
from fhir_server.storage.audit_search import AuditSearch

_KEY = AuditKey(bytes(range(32)))


def _event(n: int) -> dict[str, Any]:
    actor = Actor(client_id=f"app{n % 4}", username=f"user{n % 9}", fhir_user="Practitioner/p1", address="10.0.0.1")
    return rest_event("read", actor, instant(datetime.now(UTC)), 200, "http://h/fhir", what=[f"Patient/{n}"])


Shape = Callable[[MongoAuditLog, list[tuple[dict[str, Any], datetime]]], list[dict[str, Any]]]
_SHAPES: dict[str, Shape] = {
    "record per event": lambda log, events: [log.record(event, moment) for event, moment in events],
    "pack per flush": lambda log, events: log.packs(events),
}


async def _append(log: MongoAuditLog, shape: Shape, flushes: int, per_flush: int) -> float:
    """Seconds per event to store `flushes` batches of `per_flush` events in `shape`."""
    started = time.perf_counter()
    for flush in range(flushes):
        events = [(_event(flush * per_flush + n), datetime.now(UTC)) for n in range(per_flush)]
        assert await log.append_sealed(shape(log, events), "bench")
    return (time.perf_counter() - started) / (flushes * per_flush)


async def run(uri: str, flushes: int, per_flush: int, rounds: int) -> None:
    async with AsyncMongoClient[dict[str, Any]](uri, tz_aware=True) as mongo:
        logs = {name: MongoAuditLog(mongo, f"bench_audit_{n}", _KEY) for n, name in enumerate(_SHAPES)}
        for log in logs.values():
            await mongo.drop_database(log.database_name)
            await log.ensure_indexes()
        costs: dict[str, list[float]] = {name: [] for name in _SHAPES}
        for _round in range(rounds):
            for name, shape in _SHAPES.items():
                costs[name].append(await _append(logs[name], shape, flushes, per_flush))
        base = statistics.median(costs["record per event"])
        for name, seconds in costs.items():
            cost = statistics.median(seconds)
            share = f"{cost / base:6.0%} of one record per event"
            print(f"{name:<18} {cost * 1000:7.3f} ms/event (median of {rounds})  {share}")
        criteria = AuditSearch(filters=[("agent", ["user3"]), ("outcome", ["0"])])
        for name, log in logs.items():
            started = time.perf_counter()
            page, _next = await log.search(criteria, 100)
            took = (time.perf_counter() - started) * 1000
            print(f"{name:<18} search agent=user3 page of {len(page)}: {took:7.1f} ms")
            assert (await log.verify()).intact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flushes", type=int, default=40)
    parser.add_argument("--per-flush", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp)) as database:
        asyncio.run(run(database.uri, args.flushes, args.per_flush, args.rounds))


if __name__ == "__main__":
    main()
