"""`$reindex` at system and type level, and polling the job it starts.

POST [base]/$reindex or [base]/{type}/$reindex answers 202 with Content-Location naming
the job; GET on that URL answers 202 with X-Progress while it runs and 200 with a
Parameters resource (status, resources done) when it has finished. Both need a `system/`
scope: re-indexing and job state are the server's business, not any one user's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..engine.identity import format_instant
from ..engine.reindex import start_reindex
from ..errors import ResourceNotFound
from ..i18n import _
from ..storage.jobs import COMPLETED, FAILED, Job
from .access import Policy
from .context import base_url, jobs_of, store_of
from .operations.declaration import ANY_TYPE, SYSTEM, TYPE, Operation, OperationCall
from .responses import FhirResponse

router = APIRouter()


def _accepted(request: Request, job: Job) -> Response:
    location = f"{base_url(request)}/_jobs/{job.id}"
    return Response(status_code=202, headers={"Content-Location": location})


def _parameters(job: Job) -> dict[str, Any]:
    parameter: list[dict[str, Any]] = [
        {"name": "status", "valueCode": job.status},
        {"name": "resourcesDone", "valueInteger": job.done},
        {"name": "started", "valueInstant": format_instant(job.created)},
    ]
    if job.finished:
        parameter.append({"name": "finished", "valueInstant": format_instant(job.finished)})
    if job.error:
        parameter.append({"name": "error", "valueString": job.error})
    return {"resourceType": "Parameters", "parameter": parameter}


async def reindex(call: OperationCall) -> Response:
    """Start re-indexing every type (system level) or one (type level)."""
    call.policy.require_system("u", call.resource_type or "*")
    job = await start_reindex(store_of(call.request), jobs_of(call.request), call.resource_type)
    return _accepted(call.request, job)


REINDEX = Operation(
    code="reindex",
    id="reindex",
    title="Re-index stored resources",
    description=(
        "Extract the search index entries of every stored resource (of every type, or of the type it is "
        "invoked on) again, for SearchParameters added since. Answers 202 with the job's URL in "
        "Content-Location; needs a `system/` scope."
    ),
    levels=(SYSTEM, TYPE),
    resource_types=(ANY_TYPE,),
    affects_state=True,
    parameters=(),
    handler=reindex,
)


@router.get("/_jobs/{job_id}", name="job-status")
async def job_status(job_id: str, request: Request, policy: Policy) -> Response:
    policy.require_system("r")
    job = await jobs_of(request).get(job_id)
    if job is None:
        raise ResourceNotFound(_("There is no job {id}.").format(id=job_id[:80]))
    if job.status in (COMPLETED, FAILED):
        return FhirResponse(_parameters(job), status_code=200 if job.status == COMPLETED else 500)
    return Response(status_code=202, headers={"X-Progress": f"{job.done} resources", "Retry-After": "1"})
