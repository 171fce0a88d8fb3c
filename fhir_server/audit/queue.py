"""Request AuditEvents written in batches: one insert every tenth of a second instead of one per request.

On the embedded database an insert per read cost about three quarters of the read throughput,
so a batch is stored as packs (storage/audit.py `packs`): one record for the batch's events.
Writes are not batched here: their events go into the write's own transaction (writes.py).
The process that holds the sealing lease chains a batch as it inserts it (one write per event
instead of two); the others insert theirs unsealed for that process's sealer. What the queue
holds when the process is killed outright (at most one interval of read, search and refusal
events) is lost; a normal shutdown flushes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from ..storage.audit import MongoAuditLog

log = logging.getLogger(__name__)

_MOST = 500
"""Beyond this many waiting events the queue writes at once instead of waiting for the interval."""
_KEEP = 50_000
"""Events kept for another try while the database is away; older ones beyond this are dropped loudly."""


class AuditQueue:
    """Events waiting for the next batch insert into the audit log."""

    def __init__(self, audit: MongoAuditLog, sealer: str, every: float = 0.1) -> None:
        self._audit = audit
        self._sealer = sealer
        self._every = every
        self._pending: list[tuple[dict[str, Any], datetime]] = []
        self._unstored: list[dict[str, Any]] = []
        """Packs a flush could not store, tried again as they are (same ids) with the next."""
        self._full = asyncio.Event()

    def put(self, event: dict[str, Any], recorded: datetime) -> None:
        self._pending.append((event, recorded))
        if len(self._pending) >= _MOST:
            self._full.set()

    async def flush(self) -> None:
        """Write what is waiting; on failure keep it (up to a bound) for the next flush."""
        batch = [*self._unstored, *self._audit.packs(self._pending)]
        self._unstored, self._pending = [], []
        self._full.clear()
        try:
            if not await self._audit.append_sealed(batch, self._sealer):
                await self._audit.append_many(batch)  # another process seals: its sealer chains these
        except Exception:
            log.exception("%d AuditEvents could not be stored yet", sum(len(pack["times"]) for pack in batch))
            while sum(len(pack["times"]) for pack in batch) > _KEEP:
                dropped = batch.pop(0)
                log.error("%d AuditEvents were dropped: the audit log was unreachable too long", len(dropped["times"]))
            self._unstored = batch

    async def run(self) -> None:
        """Forever: flush every interval, or as soon as the queue is full."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._every)
            await self.flush()
