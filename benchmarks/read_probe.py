"""Reads timed while another load runs, and right after it: the stall a falling-behind audit sealer causes.

One client reads one Patient in a loop on its own keep-alive connection (RawHttpPool) while the load
runs and for `after` seconds once it ended; meanwhile the audit records waiting to be sealed are
counted every second (the inbox, and unsealed records left in the log by versions before it), so
the figures show how long sealing trailed the load and what reads cost while it did.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pymongo import AsyncMongoClient
from rawhttp import RawHttpPool

from fhir_server.storage.audit import AUDIT_COLLECTION, AUDIT_INBOX


@dataclass
class ProbeFigures:
    during: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)
    waiting_at_end: int = 0
    """Audit records waiting to be sealed when the load ended."""
    drained_after: float | None = None
    """Seconds after the load ended until none waited (None: still waiting when the probe stopped)."""


def _quantiles(seconds: list[float]) -> str:
    if len(seconds) < 2:
        return "too few reads"
    cuts = statistics.quantiles(seconds, n=100)
    rate = len(seconds) / max(sum(seconds), 1e-9)
    return f"{rate:7.0f} reads/s  p50 {cuts[49] * 1000:6.1f} ms  p99 {cuts[98] * 1000:7.1f} ms"


def report(figures: ProbeFigures) -> None:
    """Print the probe's figures."""
    print(f"reads during the load:      {_quantiles(figures.during)}")
    print(f"reads after it:             {_quantiles(figures.after)}")
    drained = f"{figures.drained_after:.1f} s after" if figures.drained_after is not None else "not within the probe"
    print(f"audit records waiting when it ended: {figures.waiting_at_end:,}; sealed up: {drained}\n", flush=True)


async def _waiting(mongo: AsyncMongoClient[dict[str, Any]], database: str) -> int:
    db = mongo[database]
    unsealed = await db[AUDIT_COLLECTION].count_documents({"seq": None, "rejected": {"$exists": False}})
    return unsealed + await db[AUDIT_INBOX].count_documents({})


async def probe_during(
    load: Awaitable[Any], host: str, port: int, uri: str, database: str, after: float
) -> tuple[Any, ProbeFigures]:
    """Run `load` while timing reads of a Patient created first; go on `after` seconds once it ended."""
    pool = RawHttpPool(host, port, 1, {"Content-Type": "application/fhir+json"})
    created = await pool.request("POST", "/fhir/Patient", orjson.dumps({"resourceType": "Patient", "active": True}))
    path = f"/fhir/Patient/{orjson.loads(created.body)['id']}"
    figures = ProbeFigures()
    ended: float | None = None

    async def reads() -> None:
        while ended is None or time.perf_counter() - ended < after:
            started = time.perf_counter()
            response = await pool.request("GET", path)
            if response.status != 200:
                raise RuntimeError(f"read answered {response.status}")
            (figures.during if ended is None else figures.after).append(time.perf_counter() - started)

    async def backlog(mongo: AsyncMongoClient[dict[str, Any]]) -> None:
        while ended is None or time.perf_counter() - ended < after:
            waiting = await _waiting(mongo, database)
            if ended is not None and waiting == 0 and figures.drained_after is None:
                figures.drained_after = time.perf_counter() - ended
            await asyncio.sleep(1.0 if ended is None else 0.25)

    async with AsyncMongoClient[dict[str, Any]](uri) as mongo:
        probing = asyncio.gather(reads(), backlog(mongo))
        result = await load
        ended = time.perf_counter()
        figures.waiting_at_end = await _waiting(mongo, database)
        await probing
    await pool.close()
    return result, figures
