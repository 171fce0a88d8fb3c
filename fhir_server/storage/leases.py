"""Leases: which process is doing a piece of work (an HL7 v2 message, ...), and until when.

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


def free(at: datetime, gone: Iterable[str] = ()) -> dict[str, Any]:
    """The condition of a lease that anyone may take at `at`: none, expired, or held by a gone worker."""
    options: list[dict[str, Any]] = [{"leaseUntil": None}, {"leaseUntil": {"$lt": at}}]
    if gone := list(gone):
        options.append({"worker": {"$in": gone}})
    return {"$or": options}


@contextlib.asynccontextmanager
async def renewed(renew: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Call `renew` every `RENEW_EVERY` seconds while the block runs (its lease must not run out under it)."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                await renew()
            except Exception:  # the database may be away for a moment: try again at the next beat
                log.warning("hl7 message lease not renewed", exc_info=True)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
