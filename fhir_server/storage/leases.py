"""Leases: which process is doing a piece of work, and until when. The one implementation of them.

Every piece of background work held by one process at a time is a document with a holder field
(`worker`) and an expiry (`leaseUntil`): a job (`jobs.py`), an order of the HL7 outbox
(`hl7_outbox.py`), a received HL7 message (`hl7_messages.py`), the audit chain head (`audit.py`),
and any leased duty. `Leases` over that collection claims (one findOneAndUpdate conditioned on a
free lease: none, expired, or held by a gone worker), renews and releases them; `renewed` keeps a
lease alive while a block runs. Claim, renew and release take the store's own condition (which
document, in which status) and extra fields to set in the same write.

A message is stored already leased by the process that received it (`worker`, `leaseUntil`); that
process renews the lease while it processes the message and drops it with the outcome. A message
still `received` whose lease ran out, or whose holder is a process of this machine that no longer
exists, is free: whoever claims it first (one findOneAndUpdate conditioned on that) processes it.
The same shape as the job and outbox leases (`jobs.py`, `hl7_outbox.py`).

Why the process check: a lease alone keeps a restarted server from a message its dead predecessor
held until the lease runs out, and a sender's resend in that window would be refused. A worker id
names its machine (kernel boot id and pid namespace) and its pid, so a process on the same
machine can tell a holder that is gone; holders elsewhere are trusted until their lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from .mongo import mongo_errors

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
"""How long a message stays with a process that stops renewing (on another machine: one that died)."""
RENEW_EVERY = LEASE.total_seconds() / 3
RELEASED: dict[str, Any] = {"worker": None, "leaseUntil": None}


def _machine() -> str | None:
    """This kernel and pid namespace (Linux), or None where that cannot be told."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot}.{namespace}"


_MACHINE = _machine()


def new_worker() -> str:
    """A worker id for this process: `<machine>/<pid>/<random>`."""
    return f"{_MACHINE or '-'}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def is_gone(worker: str | None) -> bool:
    """Whether `worker` was a process of this machine that no longer exists (False when unsure)."""
    machine, _sep, rest = (worker or "").partition("/")
    pid = rest.partition("/")[0]
    if _MACHINE is None or machine != _MACHINE or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, under another user
        return False
    return False


def held(worker: str, at: datetime) -> dict[str, Any]:
    """The fields of a lease `worker` takes or renews at `at`."""
    return {"worker": worker, "leaseUntil": at + LEASE}


def free(at: datetime, gone: Iterable[str] = (), *, holder: str = "worker") -> dict[str, Any]:
    """The condition of a lease that anyone may take at `at`: none, expired, or held by a gone worker."""
    options: list[dict[str, Any]] = [{"leaseUntil": None}, {"leaseUntil": {"$lt": at}}]
    if gone := list(gone):
        options.append({holder: {"$in": gone}})
    return {"$or": options}


class Leases:
    """Claim, renew and release the leases on the documents of one collection.

    `holder` names the field holding the worker id (`worker`; the audit chain head says `sealer`).
    `duration` is how long a claim or renewal lasts unless the call says otherwise.
    """

    def __init__(
        self, collection: AsyncCollection[dict[str, Any]], *, holder: str = "worker", duration: timedelta = LEASE
    ) -> None:
        self._collection = collection
        self._holder = holder
        self._duration = duration
        self._claims: set[asyncio.Task[dict[str, Any] | None]] = set()
        """Claims sent and not yet answered: a release waits for them (see `claim`)."""

    def _held(self, worker: str, at: datetime, duration: timedelta | None) -> dict[str, Any]:
        return {self._holder: worker, "leaseUntil": at + (duration or self._duration)}

    async def claim(
        self,
        condition: dict[str, Any],
        worker: str,
        at: datetime,
        *,
        duration: timedelta | None = None,
        gone: Iterable[str] = (),
        rejoin: bool = False,
        sort: list[tuple[str, int]] | None = None,
        also: dict[str, Any] | None = None,
        inc: dict[str, int] | None = None,
    ) -> dict[str, Any] | None:
        """Lease the first document matching `condition` (in `sort` order) whose lease is free at `at` to
        `worker`, setting `also` and incrementing `inc` in the same write; return it as updated, or None
        when none is free. `rejoin`: a lease `worker` already holds counts as free (it is renewed).

        A caller cancelled meanwhile (its process stopping) does not cancel the claim: once sent, the
        database applies it anyway. It goes on here, and a release waits for it, so a claim cannot
        land after the release and hold the lease for a process that has stopped."""
        claim = asyncio.ensure_future(self._claim(condition, worker, at, duration, gone, rejoin, sort, also, inc))
        self._claims.add(claim)
        claim.add_done_callback(self._claims.discard)
        return await asyncio.shield(claim)

    async def _claim(
        self,
        condition: dict[str, Any],
        worker: str,
        at: datetime,
        duration: timedelta | None,
        gone: Iterable[str],
        rejoin: bool,
        sort: list[tuple[str, int]] | None,
        also: dict[str, Any] | None,
        inc: dict[str, int] | None,
    ) -> dict[str, Any] | None:
        options = free(at, gone, holder=self._holder)["$or"]
        if rejoin:
            options.append({self._holder: worker})
        update: dict[str, Any] = {"$set": {**(also or {}), **self._held(worker, at, duration)}}
        if inc:
            update["$inc"] = inc
        async with mongo_errors(self._collection.name):
            return await self._collection.find_one_and_update(
                {"$and": [condition, {"$or": options}]}, update, sort=sort, return_document=ReturnDocument.AFTER
            )

    async def renew(
        self,
        condition: dict[str, Any],
        worker: str,
        at: datetime,
        *,
        duration: timedelta | None = None,
        also: dict[str, Any] | None = None,
    ) -> bool:
        """Extend `worker`'s lease on the document matching `condition` (setting `also` with it); False when
        the lease is no longer `worker`'s."""
        async with mongo_errors(self._collection.name):
            result = await self._collection.update_one(
                {**condition, self._holder: worker},
                {"$set": {**(also or {}), **self._held(worker, at, duration)}},
            )
        return result.matched_count == 1

    async def release(
        self, condition: dict[str, Any], worker: str | None, *, also: dict[str, Any] | None = None
    ) -> bool:
        """Drop `worker`'s lease on the document matching `condition` (any holder's when `worker` is None),
        setting `also` in the same write; False when it was not `worker`'s."""
        await asyncio.gather(*self._claims, return_exceptions=True)  # claims sent before it are answered first
        mine = condition if worker is None else {**condition, self._holder: worker}
        async with mongo_errors(self._collection.name):
            result = await self._collection.update_one(
                mine, {"$set": {**(also or {}), self._holder: None, "leaseUntil": None}}
            )
        return result.matched_count == 1


@contextlib.asynccontextmanager
async def renewed(renew: Callable[[], Awaitable[object]], every: float = RENEW_EVERY) -> AsyncIterator[None]:
    """Call `renew` every `every` seconds while the block runs (its lease must not run out under it)."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await renew()
            except Exception:  # the database may be away for a moment: try again at the next beat
                log.warning("lease not renewed", exc_info=True)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
