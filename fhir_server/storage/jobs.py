"""Background jobs in MongoDB, claimed with leases so any number of workers may run them.

A job is claimed with one findOneAndUpdate on an expired (or absent) lease; the worker
renews the lease while it makes progress and saves a resumable cursor with each step, so
a job whose worker dies is resumed where it stopped by whichever worker claims it next.

An idle worker does not ask the database over and over: a job queued through this store (the
usual case: the process that took the request) wakes its workers at once (`wait_for_work`), and
they look for jobs queued by other processes, or left by a dead worker, every few seconds.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from .leases import Leases
from .mongo import mongo_errors

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
CANCELLED, HELD = "cancelled", "held"


@dataclass
class Job:
    """One unit of background work and how far it got."""

    id: str
    kind: str
    status: str
    params: dict[str, Any]
    created: datetime
    cursor: dict[str, Any] = field(default_factory=dict)
    done: int = 0
    total: int | None = None
    finished: datetime | None = None
    error: str | None = None


def _job(doc: dict[str, Any]) -> Job:
    return Job(
        id=doc["_id"],
        kind=doc["kind"],
        status=doc["status"],
        params=doc.get("params", {}),
        created=doc["created"],
        cursor=doc.get("cursor") or {},
        done=doc.get("done", 0),
        total=doc.get("total"),
        finished=doc.get("finished"),
        error=doc.get("error"),
    )


class MongoJobStore:
    """The `jobs` collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._jobs = client[database]["jobs"]
        self._leases = Leases(self._jobs)
        self._queued: dict[str, asyncio.Event] = {}

    def _wake(self, kind: str | None) -> None:
        for name, event in self._queued.items():
            if kind is None or name == kind:
                event.set()

    async def wait_for_work(self, kind: str, timeout: float) -> None:
        """Return when a job of `kind` is queued through this store, or after `timeout` seconds."""
        event = self._queued.setdefault(kind, asyncio.Event())
        with suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    async def ensure_indexes(self) -> None:
        async with mongo_errors("jobs"):
            await self._jobs.create_index([("status", ASCENDING), ("leaseUntil", ASCENDING)], name="claimable")

    async def create(self, kind: str, params: dict[str, Any], now: datetime, total: int | None = None) -> Job:
        doc = {"_id": str(uuid.uuid4()), "kind": kind, "status": QUEUED, "params": params, "created": now,
               "cursor": {}, "done": 0, "total": total, "leaseUntil": None}  # fmt: skip
        async with mongo_errors("jobs"):
            await self._jobs.insert_one(doc)
        self._wake(kind)
        return _job(doc)

    async def get(self, job_id: str) -> Job | None:
        async with mongo_errors("jobs"):
            doc = await self._jobs.find_one({"_id": job_id})
        return _job(doc) if doc else None

    async def claim(self, kind: str, worker: str, now: datetime, lease: timedelta) -> Job | None:
        """Take a queued job, or a running one whose lease expired (its worker died)."""
        doc = await self._leases.claim(
            {"kind": kind, "status": {"$in": [QUEUED, RUNNING]}},
            worker,
            now,
            duration=lease,
            sort=[("created", ASCENDING)],
            also={"status": RUNNING},
        )
        return _job(doc) if doc else None

    async def progress(self, job: Job, worker: str, now: datetime, lease: timedelta) -> bool:
        """Save the cursor and count and renew the lease; False when the job is no longer this worker's."""
        return await self._leases.renew(
            {"_id": job.id, "status": RUNNING},
            worker,
            now,
            duration=lease,
            also={"cursor": job.cursor, "done": job.done, "total": job.total},
        )

    async def finish(self, job: Job, worker: str, now: datetime, error: str | None = None) -> None:
        status = FAILED if error else COMPLETED
        await self._leases.release(
            {"_id": job.id}, worker, also={"status": status, "finished": now, "error": error, "done": job.done}
        )

    async def last_completed(self, kind: str) -> Job | None:
        async with mongo_errors("jobs"):
            doc = await self._jobs.find_one({"kind": kind, "status": COMPLETED}, sort=[("created", -1)])
        return _job(doc) if doc else None

    async def create_held(self, kind: str, params: dict[str, Any], now: datetime) -> Job:
        """A job no worker may claim until `release` (its input is still being stored)."""
        doc = {"_id": str(uuid.uuid4()), "kind": kind, "status": HELD, "params": params, "created": now,
               "cursor": {}, "done": 0, "total": None, "leaseUntil": None}  # fmt: skip
        async with mongo_errors("jobs"):
            await self._jobs.insert_one(doc)
        return _job(doc)

    async def release(self, job_id: str) -> None:
        """Let workers claim a held job."""
        async with mongo_errors("jobs"):
            await self._jobs.update_one({"_id": job_id, "status": HELD}, {"$set": {"status": QUEUED}})
        self._wake(None)

    async def cancel(self, job_id: str, now: datetime) -> bool:
        """Stop a job: no worker claims it again and its worker's next `progress` fails. False if unknown."""
        async with mongo_errors("jobs"):
            result = await self._jobs.update_one(
                {"_id": job_id, "status": {"$ne": CANCELLED}},
                {"$set": {"status": CANCELLED, "finished": now, "leaseUntil": None}},
            )
        return result.matched_count == 1

    async def ended_before(self, kinds: list[str], moment: datetime, limit: int = 100) -> list[Job]:
        """Jobs of these kinds that ended (completed, failed, cancelled) before `moment`, or were held since then."""
        ended = {"status": {"$in": [COMPLETED, FAILED, CANCELLED]}, "finished": {"$lt": moment}}
        held = {"status": HELD, "created": {"$lt": moment}}
        async with mongo_errors("jobs"):
            cursor = self._jobs.find({"kind": {"$in": kinds}, "$or": [ended, held]}).limit(limit)
            return [_job(doc) async for doc in cursor]

    async def delete(self, job_id: str) -> None:
        async with mongo_errors("jobs"):
            await self._jobs.delete_one({"_id": job_id})

    async def finish_running(self, job: Job, worker: str, now: datetime, error: str | None = None) -> bool:
        """Like `finish`, with the cursor, but only while the job is still this worker's and running (not
        cancelled meanwhile). False when it was not."""
        status = FAILED if error else COMPLETED
        fields = {"status": status, "finished": now, "error": error, "done": job.done, "total": job.total,
                  "cursor": job.cursor}  # fmt: skip
        return await self._leases.release({"_id": job.id, "status": RUNNING}, worker, also=fields)
