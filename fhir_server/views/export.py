"""`$viewdefinition-export`: the rows of one or more views written to files by a background job.

The kick-off checks every view and the caller's right to read each view's type (403 before any
job), then queues a job of kind `VIEW_EXPORT` in the jobs collection (storage/jobs.py, as Bulk
Data `$export`): a worker in any server process claims it with a lease and writes one file per
view, in the asked format, as chunks in the bulk file store (storage/files.py), renewing its lease
after each chunk. The job carries the caller's access frozen at the kick-off (scopes within its
role, patient in context, client), so the rows are those the caller could read with `$run`.

A worker that dies leaves the lease to expire; the next one starts the job again from the first
view, rewriting its chunks and deleting any left beyond them, so a file is never half old. Only
the client that started a job may poll, cancel and download it. Finished jobs and their files
are removed after `FHIR_EXPORT_TTL_SECONDS`, with the Bulk Data jobs' housekeeping.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..auth.policy import AccessPolicy, resource_scopes
from ..engine.bulk_export import failure_text, purge_expired
from ..engine.identity import now
from ..engine.job_worker import IDLE_POLL, work_on_jobs
from ..fhir_json import dumps, loads
from ..storage import ResourceStore
from ..storage.files import CHUNK_BYTES, MongoFileStore
from ..storage.jobs import CANCELLED, Job, MongoJobStore
from .definition import compile_view
from .formats import FORMATS, encode
from .run import run_view

log = logging.getLogger(__name__)

VIEW_EXPORT = "viewdefinition-export"
LEASE = timedelta(seconds=60)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ExportedView:
    """One view to export and the name of its output (the file is `{name}.{extension}`)."""

    name: str
    view: dict[str, Any]


def _frozen_access(policy: AccessPolicy) -> dict[str, Any]:
    return {"trusted": policy.trusted, "scopes": [str(scope) for scope in policy.scopes], "patient": policy.patient,
            "role": policy.role, "client": policy.client_id}  # fmt: skip


def _policy(access: dict[str, Any]) -> AccessPolicy:
    return AccessPolicy(
        actor=VIEW_EXPORT,
        scopes=resource_scopes(tuple(access["scopes"])),
        trusted=bool(access["trusted"]),
        client_id=access.get("client"),
        role=access.get("role"),
        patient=access.get("patient"),
    )


def output_names(views: Sequence[ExportedView]) -> list[str]:
    """File-safe, distinct output names: the names given, else the view's name, else `view{n}`."""
    names: list[str] = []
    for position, item in enumerate(views, start=1):
        base = _UNSAFE.sub("_", item.name).strip("._") or f"view{position}"
        name, suffix = base, 2
        while name in names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
    return names


async def start_view_export(
    jobs: MongoJobStore,
    policy: AccessPolicy,
    views: Sequence[ExportedView],
    code: str,
    *,
    since: datetime | None,
    patients: Sequence[str] | None,
    tracking_id: str | None,
    request_url: str,
) -> Job:
    """Queue the export; InvalidView (400) for a broken view, Forbidden (403) for a type the caller may not read."""
    for item in views:
        policy.require("r", compile_view(item.view).resource)
    names = output_names(views)
    params = {
        "views": [{"name": name, "view": dumps(item.view).decode()} for name, item in zip(names, views, strict=True)],
        "format": code,
        "since": since,
        "patients": None if patients is None else list(patients),
        "clientTrackingId": tracking_id,
        "client": policy.client_id,
        "access": _frozen_access(policy),
        "request": request_url,
    }
    return await jobs.create(VIEW_EXPORT, params, now())


class _Lost(Exception):
    """The job is no longer this worker's (cancelled, or taken over)."""


async def _counted(rows: AsyncIterator[dict[str, Any]], job: Job, counter: list[int]) -> AsyncIterator[dict[str, Any]]:
    async for row in rows:
        counter[0] += 1
        job.done += 1
        yield row


async def run_view_export(
    store: ResourceStore, jobs: MongoJobStore, files: MongoFileStore, job: Job, worker: str
) -> None:
    """Write every view's file from the start; finish the job unless it was cancelled or taken over."""
    params = job.params
    policy = _policy(params["access"])
    output = FORMATS[params["format"]]
    job.done, job.cursor = 0, {"outputs": []}
    finished: list[str] = []
    outputs: list[dict[str, Any]] = []

    async def save() -> None:
        job.cursor = {"outputs": outputs}
        if not await jobs.progress(job, worker, now(), LEASE):
            raise _Lost

    try:
        for item in params["views"]:
            view = compile_view(loads(item["view"]))
            file = f"{item['name']}.{output.extension}"
            counter = [0]
            rows = run_view(store, policy, view, since=params.get("since"), patients=params.get("patients"))
            parts: list[bytes] = []
            size = seq = 0
            async for chunk in encode(output.code, _counted(rows, job, counter), view.columns):
                parts.append(chunk)
                size += len(chunk)
                if size >= CHUNK_BYTES:
                    await files.put(job.id, file, seq, b"".join(parts))
                    parts, size, seq = [], 0, seq + 1
                    await save()
            await files.put(job.id, file, seq, b"".join(parts))
            await files.truncate(job.id, finished, file, seq + 1)  # what an earlier worker left beyond
            finished.append(file)
            outputs.append({"name": item["name"], "file": file, "rows": counter[0]})
            await save()
    except _Lost:
        await _after_loss(jobs, files, job)
        return
    job.total = job.done
    if not await jobs.finish_running(job, worker, now()):
        await _after_loss(jobs, files, job)
        return
    log.info("view export finished", extra={"job": job.id, "rows": job.done, "files": len(outputs)})


async def _after_loss(jobs: MongoJobStore, files: MongoFileStore, job: Job) -> None:
    current = await jobs.get(job.id)
    if current is None or current.status == CANCELLED:
        await files.delete_job(job.id)


async def view_export_worker(
    store: ResourceStore, jobs: MongoJobStore, files: MongoFileStore, ttl: timedelta, poll: float = IDLE_POLL
) -> None:
    """Forever: claim a queued or abandoned view export and run it; now and then purge expired ones."""

    async def run(job: Job, worker: str) -> None:
        await run_view_export(store, jobs, files, job, worker)

    await work_on_jobs(
        VIEW_EXPORT, jobs, run, lease=LEASE, poll=poll, failure_text=failure_text,
        housekeeping=lambda: purge_expired(jobs, files, [VIEW_EXPORT], ttl),
        housekeeping_every=min(ttl.total_seconds(), 60.0),
    )  # fmt: skip
