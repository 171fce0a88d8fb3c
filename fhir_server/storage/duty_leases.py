"""Which process holds each leased duty, and until when: MongoDB collection `duties`, one document per duty.

A leased duty (`fhir_server/duties/`) runs in one process at a time: before each round the process
claims the duty's document through `leases.Leases` (free, expired, gone holder, or already its own),
renews it while the round runs, and releases it when it stops. A process that dies keeps it until the
lease runs out; then another takes the duty over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from ..errors import VersionConflict
from .leases import LEASE, RELEASED, Leases, is_gone
from .mongo import mongo_errors

COLLECTION = "duties"


class MongoDutyLeases:
    """The `duties` collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._duties = client[database][COLLECTION]
        self._leases = Leases(self._duties)

    async def claim(self, duty: str, worker: str, at: datetime, duration: timedelta = LEASE) -> bool:
        """Take (or keep) duty `duty` for `worker` until `at + duration`; False while another process holds it."""
        try:
            async with mongo_errors(COLLECTION):
                await self._duties.update_one({"_id": duty}, {"$setOnInsert": RELEASED}, upsert=True)
        except VersionConflict:  # another process created it at the same moment
            pass
        holder = await self.holder(duty)
        gone = [holder] if holder and holder != worker and is_gone(holder) else []
        taken = await self._leases.claim({"_id": duty}, worker, at, duration=duration, gone=gone, rejoin=True)
        return taken is not None

    async def renew(self, duty: str, worker: str, at: datetime, duration: timedelta = LEASE) -> bool:
        """Extend `worker`'s lease on `duty`; False when it is no longer `worker`'s."""
        return await self._leases.renew({"_id": duty}, worker, at, duration=duration)

    async def release(self, duty: str, worker: str) -> bool:
        """Let another process take `duty` at once (this one stops)."""
        return await self._leases.release({"_id": duty}, worker)

    async def holder(self, duty: str) -> str | None:
        """The worker holding `duty` now (or last, if its lease ran out), None when none."""
        async with mongo_errors(COLLECTION):
            doc = await self._duties.find_one({"_id": duty})
        return doc.get("worker") if doc else None
