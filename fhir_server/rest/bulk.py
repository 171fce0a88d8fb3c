"""Bulk Data Access: `$export` (https://hl7.org/fhir/uv/bulkdata/STU2/export.html) and `$import`.

Kick-off (`Prefer: respond-async` required) answers 202 with Content-Location naming the
polling URL under the FHIR base: `$export-poll/{job}` or `$import-poll/{job}`. Polling answers
202 (X-Progress, Retry-After) while the job runs, 200 with the manifest when it has finished,
500 with an OperationOutcome when it failed, and 404 once it was cancelled (DELETE on the
polling URL) or has expired. Output files are served from `$export-file/{job}/{file}`
(and an import's error report from `$import-file/{job}/errors.ndjson`), streamed chunk by chunk.

The kick-offs are declared operations (EXPORT_*, IMPORT_OPERATION); the polling and file URLs
are plain routes.

Access: the export kick-off is checked by the engine (engine/bulk_export.py); an export job
is polled, cancelled and downloaded only with a token of the client that started it, and
its manifest says `requiresAccessToken: true` when the server checks tokens. `$import` and
its job need `system/` scopes to create and update every type.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from ..auth.policy import AccessPolicy
from ..engine.bulk_export import EXPORT, GROUP, PATIENT, SYSTEM, is_expired, parse_export_request, start_export
from ..engine.bulk_import import ERROR_FILE, IMPORT, parse_import_parameters, start_import, start_upload
from ..engine.identity import format_instant, now
from ..errors import Forbidden, InvalidRequest, Issue, ResourceNotFound, UnsupportedMediaType
from ..i18n import _
from ..storage.jobs import CANCELLED, COMPLETED, FAILED, Job
from .access import Policy
from .body import FHIR_TYPES, media_type, read_json
from .context import base_url, export_ttl, files_of, jobs_of, settings_of, store_of
from .operations.declaration import INSTANCE, TYPE, Operation, OperationCall, Parameter
from .operations.declaration import SYSTEM as SYSTEM_LEVEL
from .operations.parameters import operation_query
from .outcomes import information_outcome, operation_outcome
from .responses import FhirResponse

router = APIRouter()

NDJSON = "application/fhir+ndjson"
NDJSON_TYPES = (NDJSON, "application/ndjson", "application/x-ndjson")
RETRY_AFTER = "2"


def _prefer(request: Request) -> set[str]:
    return {part.strip().lower().replace(" ", "") for part in request.headers.get("prefer", "").split(",")}


def _require_async(request: Request, operation: str) -> None:
    if "respond-async" not in _prefer(request):
        raise InvalidRequest(
            _("{operation} runs asynchronously: send the header 'Prefer: respond-async'.").format(operation=operation),
            expression="Prefer",
        )


def _request_url(request: Request, path: str) -> str:
    query = request.url.query
    return f"{base_url(request)}{path}" + (f"?{query}" if query else "")


def _accepted(location: str) -> Response:
    return FhirResponse(
        information_outcome(_("Accepted; poll the Content-Location URL for the result.")),
        status_code=202,
        headers={"Content-Location": location},
    )


async def _kick_off(
    request: Request, policy: AccessPolicy, level: str, path: str, group_id: str | None = None
) -> Response:
    _require_async(request, "$export")
    export_request = parse_export_request(
        level, await operation_query(request), lenient="handling=lenient" in _prefer(request), group_id=group_id
    )
    job = await start_export(store_of(request), policy, jobs_of(request), export_request, _request_url(request, path))
    return _accepted(f"{base_url(request)}/$export-poll/{job.id}")


async def export_handler(call: OperationCall) -> Response:
    """The kick-off at the level it was invoked on: the system, all patients, or one Group."""
    request, group_id = call.request, call.resource_id
    if call.resource_type is None:
        return await _kick_off(request, call.policy, SYSTEM, "/$export")
    if group_id is None:
        return await _kick_off(request, call.policy, PATIENT, "/Patient/$export")
    return await _kick_off(request, call.policy, GROUP, f"/Group/{group_id}/$export", group_id)


def _export_parameters(patient: bool) -> tuple[Parameter, ...]:
    """The STU2 kick-off parameters this server takes (not `_elements`, `includeAssociatedData`)."""
    return (
        Parameter("_outputFormat", "in", 0, "1", "string", "application/fhir+ndjson (the default) or ndjson."),
        Parameter("_since", "in", 0, "1", "instant", "Only resources changed after this instant."),
        Parameter("_type", "in", 0, "*", "string", "Comma-separated resource types to export."),
        *([Parameter("patient", "in", 0, "*", "Reference", "Only these patients' data.")] if patient else []),
        Parameter("_typeFilter", "in", 0, "*", "string", "Search queries the exported resources must match."),
    )


_ASYNC = " Needs `Prefer: respond-async`; answers 202 with the polling URL in Content-Location."
EXPORT_SYSTEM = Operation(
    code="export",
    id="export",
    url="http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
    title="FHIR Bulk Data System Level Export",
    description="Export the server's data as NDJSON files." + _ASYNC,
    levels=(SYSTEM_LEVEL,),
    resource_types=(),
    affects_state=False,
    parameters=_export_parameters(patient=False),
    handler=export_handler,
)
EXPORT_PATIENT = Operation(
    code="export",
    id="patient-export",
    url="http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
    title="FHIR Bulk Data Patient Level Export",
    description="Export the data of every patient (or of `patient`) as NDJSON files." + _ASYNC,
    levels=(TYPE,),
    resource_types=("Patient",),
    affects_state=False,
    parameters=_export_parameters(patient=True),
    handler=export_handler,
)
EXPORT_GROUP = Operation(
    code="export",
    id="group-export",
    url="http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
    title="FHIR Bulk Data Group Level Export",
    description="Export the data of the patients of a Group as NDJSON files." + _ASYNC,
    levels=(INSTANCE,),
    resource_types=("Group",),
    affects_state=False,
    parameters=_export_parameters(patient=True),
    handler=export_handler,
)


async def _job(request: Request, policy: AccessPolicy, job_id: str, kind: str) -> Job:
    """The job behind a polling or file URL; 404 when unknown, cancelled or expired, 403 when not the caller's."""
    if kind == IMPORT:
        policy.require_system("c")
    job = await jobs_of(request).get(job_id[:100])
    if job is None or job.kind != kind or is_expired(job, export_ttl(request)):
        raise ResourceNotFound(_("There is no bulk job {id}, or it has expired.").format(id=job_id[:80]))
    if job.status == CANCELLED:
        raise ResourceNotFound(_("The bulk job {id} was cancelled.").format(id=job_id[:80]))
    if kind == EXPORT and not policy.trusted and job.params.get("client") != policy.client_id:
        raise Forbidden(_("The bulk job {id} was started by another client.").format(id=job_id[:80]))
    return job


def _status(request: Request, job: Job, manifest: dict[str, Any]) -> Response:
    if job.status == COMPLETED:
        headers = {"Expires": format_datetime(job.finished + export_ttl(request), usegmt=True)} if job.finished else {}
        return Response(orjson.dumps(manifest), media_type="application/json", headers=headers)
    if job.status == FAILED:
        text = job.error or _("The job failed.")
        return FhirResponse(operation_outcome([Issue("error", "exception", text)]), status_code=500)
    progress = f"{job.done} resources"
    return Response(status_code=202, headers={"X-Progress": progress, "Retry-After": RETRY_AFTER})


async def _cancel(request: Request, policy: AccessPolicy, job_id: str, kind: str) -> Response:
    job = await _job(request, policy, job_id, kind)
    jobs, files = jobs_of(request), files_of(request)
    if not await jobs.cancel(job.id, now()):
        raise ResourceNotFound(_("The bulk job {id} was cancelled.").format(id=job_id[:80]))
    await files.delete_job(job.id)
    return FhirResponse(information_outcome(_("The bulk job was cancelled and its files deleted.")), status_code=202)


def _export_manifest(request: Request, job: Job) -> dict[str, Any]:
    base = base_url(request)
    outputs = job.cursor.get("outputs", [])
    return {
        "transactionTime": format_instant(job.params["transactionTime"]),
        "request": job.params["request"],
        "requiresAccessToken": settings_of(request).auth != "open",
        "output": [
            {"type": o["type"], "url": f"{base}/$export-file/{job.id}/{o['file']}", "count": o["count"]}
            for o in outputs
        ],
        "error": [],
    }


@router.get("/$export-poll/{job_id}", name="export-poll")
async def export_status(job_id: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id, EXPORT)
    return _status(request, job, _export_manifest(request, job) if job.status == COMPLETED else {})


@router.delete("/$export-poll/{job_id}", name="export-cancel")
async def export_cancel(job_id: str, request: Request, policy: Policy) -> Response:
    return await _cancel(request, policy, job_id, EXPORT)


async def _download(request: Request, job: Job, file: str, known: bool) -> Response:
    if job.status != COMPLETED or not known:
        raise ResourceNotFound(_("The bulk job {id} has no file {file}.").format(id=job.id, file=file[:80]))
    return StreamingResponse(files_of(request).read(job.id, file), media_type=NDJSON)


@router.get("/$export-file/{job_id}/{file}", name="export-file")
async def export_file(job_id: str, file: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id, EXPORT)
    known = any(output["file"] == file for output in job.cursor.get("outputs", []))
    return await _download(request, job, file, known)


async def import_handler(call: OperationCall) -> Response:
    request, policy = call.request, call.policy
    policy.require_system("c")
    policy.require_system("u")
    _require_async(request, "$import")
    url = _request_url(request, "/$import")
    found = media_type(request)
    if found in NDJSON_TYPES:
        job = await start_upload(
            jobs_of(request), files_of(request), request.stream(), url, settings_of(request).import_max_bytes
        )
    elif found in FHIR_TYPES:
        settings = settings_of(request)
        allowed = tuple(p.strip() for p in settings.import_url_prefixes.split(",") if p.strip())
        inputs = parse_import_parameters(await read_json(request, settings.max_body_bytes), allowed)
        job = await start_import(jobs_of(request), inputs, url)
    else:
        raise UnsupportedMediaType(
            _("Content-Type '{found}' is not supported here; send one of: {accepted}.").format(
                found=found or _("none"), accepted=", ".join((*FHIR_TYPES, *NDJSON_TYPES))
            )
        )
    return _accepted(f"{base_url(request)}/$import-poll/{job.id}")


IMPORT_OPERATION = Operation(
    code="import",
    id="import",
    title="Bulk Data Import",
    description=(
        "Load NDJSON: the body itself (Content-Type application/fhir+ndjson) or the files named by the "
        "`input` parts of a Parameters resource (the Bulk Data import draft)." + _ASYNC
    ),
    levels=(SYSTEM_LEVEL,),
    resource_types=(),
    affects_state=True,
    parameters=(
        Parameter("inputFormat", "in", 0, "1", "code", "application/fhir+ndjson."),
        Parameter(
            "input",
            "in",
            0,
            "*",
            None,
            "An NDJSON file to fetch (without any: the body is the NDJSON).",
            parts=(
                Parameter("type", "in", 0, "1", "code", "The resource type of its lines."),
                Parameter("url", "in", 1, "1", "url", "Where to fetch it (under FHIR_IMPORT_URL_PREFIXES)."),
            ),
        ),
    ),
    handler=import_handler,
)


def _import_manifest(request: Request, job: Job) -> dict[str, Any]:
    base = base_url(request)
    inputs = job.params["inputs"]
    output = []
    for position, counts in sorted(job.cursor.get("counts", {}).items(), key=lambda item: int(item[0])):
        source = inputs[int(position)]
        for resource_type, count in counts.items():
            entry: dict[str, Any] = {"type": resource_type, "count": count}
            if source.get("url"):
                entry["inputUrl"] = source["url"]
            output.append(entry)
    errors = job.cursor.get("errors", 0)
    error = [{"type": "OperationOutcome", "url": f"{base}/$import-file/{job.id}/{ERROR_FILE}", "count": errors}]
    return {
        "transactionTime": format_instant(job.params["transactionTime"]),
        "request": job.params["request"],
        "requiresAccessToken": settings_of(request).auth != "open",
        "output": output,
        "error": error if errors else [],
    }


@router.get("/$import-poll/{job_id}", name="import-poll")
async def import_status(job_id: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id, IMPORT)
    return _status(request, job, _import_manifest(request, job) if job.status == COMPLETED else {})


@router.delete("/$import-poll/{job_id}", name="import-cancel")
async def import_cancel(job_id: str, request: Request, policy: Policy) -> Response:
    return await _cancel(request, policy, job_id, IMPORT)


@router.get("/$import-file/{job_id}/{file}", name="import-file")
async def import_file(job_id: str, file: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id, IMPORT)
    return await _download(request, job, file, file == ERROR_FILE and job.cursor.get("errors", 0) > 0)
