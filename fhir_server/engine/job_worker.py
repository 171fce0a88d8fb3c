"""The loop every background worker runs: claim a leased job of one kind, run it, record a failure.

Reindex, export and import jobs differ only in what running one means; claiming, waiting when
there is nothing to do, riding out a moment without the database and never leaving a job
claimed after it failed are the same for all of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from ..storage.jobs import Job, MongoJobStore
from .identity import now

log = logging.getLogger(__name__)

IDLE_POLL = 5.0
"""Seconds between an idle worker's looks for jobs it was not woken for (queued by another process)."""
ERROR_PAUSE = 2.0
"""Seconds before trying the job store again after it failed."""


async def work_on_jobs(
    kind: str,
    jobs: MongoJobStore,
    run: Callable[[Job, str], Awaitable[None]],
    *,
    lease: timedelta,
    poll: float,
    failure_text: Callable[[Exception], str] = str,
    housekeeping: Callable[[], Awaitable[object]] | None = None,
    housekeeping_every: float = 60.0,
) -> None:
    """Forever: claim a queued or abandoned job of `kind` and `run(job, worker)` it.

    `failure_text` turns an exception into what clients may read of the failure;
    `housekeeping`, when given, runs every `housekeeping_every` seconds before claiming.
    """
    worker = uuid.uuid4().hex
    housekept_at = 0.0
    while True:
        try:
            if housekeeping is not None and time.monotonic() - housekept_at >= housekeeping_every:
                housekept_at = time.monotonic()
                await housekeeping()
            job = await jobs.claim(kind, worker, now(), lease)
        except Exception:  # the database may be away for a moment; try again later
            log.exception("job worker could not reach the job store", extra={"kind": kind})
            await asyncio.sleep(ERROR_PAUSE)
            continue
        if job is None:
            await jobs.wait_for_work(kind, poll)
            continue
        try:
            await run(job, worker)
        except Exception as exc:  # a job must end failed, never stay claimed forever
            log.exception("job failed", extra={"kind": kind, "job": job.id})
            await jobs.finish_running(job, worker, now(), error=failure_text(exc))
