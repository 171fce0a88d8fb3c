"""`$reindex`: recompute the stored search index of existing resources, as a resumable background job.

Needed after a SearchParameter is added at run time: resources written before it have no
index entries for it; and when this server stores search fields in another layout than the
database holds (`upgrade_search_layout`, at start). The job walks each type in id order, saving its cursor after every
batch, so a worker that dies leaves a job the next worker resumes, not restarts.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import profiles

from ..storage import ResourceStore
from ..storage.jobs import Job, MongoJobStore
from .identity import now
from .job_worker import IDLE_POLL, work_on_jobs
from .search_parameters import REINDEX
from .validation import check_resource_type
from .writing import search_fields

log = logging.getLogger(__name__)

BATCH = 200
LEASE = timedelta(seconds=30)


async def start_reindex(store: ResourceStore, jobs: MongoJobStore, resource_type: str | None) -> Job:
    """Queue a re-index of one type (or of every type) and return the job to poll."""
    types = [check_resource_type(resource_type)] if resource_type else list(profiles.RESOURCE_TYPES)
    return await jobs.create(REINDEX, {"types": types}, now())


async def upgrade_search_layout(store: ResourceStore, jobs: MongoJobStore) -> None:
    """At start: when the stored resources' search fields predate this server's layout, re-index them all.

    Until the job finishes, searches driven by an index may miss older resources (they warn so).
    """
    if await store.adopt_search_layout(now()):
        job = await start_reindex(store, jobs, None)
        log.warning(
            "the stored search index has an older layout: its old indexes were dropped and every resource "
            "is being re-indexed in the background; until then searches may miss older resources",
            extra={"job": job.id},
        )


async def run_reindex(store: ResourceStore, jobs: MongoJobStore, job: Job, worker: str) -> None:
    """Work on `job` from its saved cursor until done or until its lease is lost."""
    types: list[str] = job.params["types"]
    position, after = job.cursor.get("type", 0), job.cursor.get("after")
    while position < len(types):
        batch = await store.scan(types[position], after, BATCH)
        for record in batch:
            await store.set_search_fields(record, search_fields(record.resource()))
        job.done += len(batch)
        if len(batch) < BATCH:
            position, after = position + 1, None
        else:
            after = batch[-1].id
        job.cursor = {"type": position, "after": after}
        if not await jobs.progress(job, worker, now(), LEASE):
            log.warning("reindex job taken over by another worker", extra={"job": job.id})
            return
    await jobs.finish(job, worker, now())
    log.info("reindex finished", extra={"job": job.id, "resources": job.done})


async def reindex_worker(store: ResourceStore, jobs: MongoJobStore, poll: float = IDLE_POLL) -> None:
    """Forever: claim a queued or abandoned re-index job and run it."""

    async def run(job: Job, worker: str) -> None:
        await run_reindex(store, jobs, job, worker)

    await work_on_jobs(REINDEX, jobs, run, lease=LEASE, poll=poll)
