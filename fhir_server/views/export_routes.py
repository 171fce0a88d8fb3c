"""`$viewdefinition-export` over HTTP: the kick-off (a declared operation) and the job's URLs.

https://sql-on-fhir.org/ig/latest/OperationDefinition-ViewDefinitionExport.html, R4 mode (system
level). `POST [base]/$viewdefinition-export` with `Prefer: respond-async` and a Parameters of `view`
parameters (parts `name`, `viewResource` or `viewReference`), `_format` (ndjson by default, json,
csv, parquet), `patient`, `group`, `_since`, `clientTrackingId` answers 202 with the status URL in
Content-Location and a Parameters (`exportId`, `status` accepted). The status URL
(`$viewdefinition-export-status/{id}`) answers 202 (X-Progress: rows written) while it runs and
303 See Other to the result URL when it has ended; DELETE cancels it (202, then 404). The result
(`$viewdefinition-export-result/{id}`) is a Parameters with one `output` per view (`name`,
`location` of its file, `rows`), or a 500 OperationOutcome when the job failed. Files are served
from `$viewdefinition-export-file/{id}/{file}`.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from ..auth.policy import AccessPolicy
from ..engine.bulk_export import is_expired
from ..engine.identity import now
from ..errors import Forbidden, InvalidRequest, Issue, ResourceNotFound
from ..i18n import _
from ..rest.access import Policy
from ..rest.context import base_url, export_ttl, files_of, jobs_of, store_of
from ..rest.operations.declaration import SYSTEM, Operation, OperationCall, Parameter
from ..rest.operations.parameters import given_parameters
from ..rest.outcomes import operation_outcome
from ..rest.responses import FhirResponse
from ..storage.jobs import CANCELLED, COMPLETED, FAILED, Job
from .export import VIEW_EXPORT, ExportedView, start_view_export
from .formats import FORMATS
from .parameters import (
    Given,
    one,
    output_format,
    parameter_values,
    patients_of,
    refuse_unknown,
    since,
    view_of,
)

router = APIRouter()
STATUS, RESULT, FILE = "$viewdefinition-export-status", "$viewdefinition-export-result", "$viewdefinition-export-file"
RETRY_AFTER = "2"


def _parameters(*parts: tuple[str, str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": name, key: value} for name, key, value in parts]}


async def _views(call: OperationCall, given: list[Given]) -> list[ExportedView]:
    views = []
    for name, parameter, position in given:
        if name != "view":
            continue
        location = f"Parameters.parameter[{position}]."
        parts = parameter.get("part")
        if not isinstance(parts, list):
            raise InvalidRequest(_("A 'view' parameter is made of parts."), expression=f"{location}part")
        values = parameter_values([(str(p.get("name")), p, i) for i, p in enumerate(parts) if isinstance(p, dict)])
        refuse_unknown(values, {"name", "viewResource", "viewReference"}, "view")
        store = store_of(call.request)
        view = await view_of(store, call.policy, one(values, "viewResource"), one(values, "viewReference"), location)
        views.append(ExportedView(str(one(values, "name") or view.get("name") or ""), view))
    if not views:
        raise InvalidRequest(_("Name at least one view to export in a 'view' parameter."), expression="view")
    return views


async def export_handler(call: OperationCall) -> Response:
    request = call.request
    prefer = {part.strip().lower().replace(" ", "") for part in request.headers.get("prefer", "").split(",")}
    if "respond-async" not in prefer:
        raise InvalidRequest(
            _("{operation} runs asynchronously: send the header 'Prefer: respond-async'.").format(
                operation="$viewdefinition-export"
            ),
            expression="Prefer",
        )
    given = await given_parameters(request)
    values = parameter_values([item for item in given if item[0] != "view"])
    refuse_unknown(values, {p.name for p in _PARAMETERS if p.use == "in"} - {"view"}, "$viewdefinition-export")
    code = output_format(values, "", "ndjson")
    updated_since = since(values)
    views = await _views(call, given)
    patients = await patients_of(store_of(request), call.policy, values)
    job = await start_view_export(
        jobs_of(request), call.policy, views, code, since=updated_since, patients=patients,
        tracking_id=one(values, "clientTrackingId"), request_url=str(request.url),
    )  # fmt: skip
    body = _parameters(("exportId", "valueString", job.id), ("status", "valueCode", "accepted"))
    return FhirResponse(body, status_code=202, headers={"Content-Location": f"{base_url(request)}/{STATUS}/{job.id}"})


async def _job(request: Request, policy: AccessPolicy, job_id: str) -> Job:
    """The job behind a status, result or file URL: 404 if unknown, cancelled or expired; 403 if not the caller's."""
    job = await jobs_of(request).get(job_id[:100])
    if job is None or job.kind != VIEW_EXPORT or is_expired(job, export_ttl(request)) or job.status == CANCELLED:
        raise ResourceNotFound(_("There is no view export {id}, or it has expired.").format(id=job_id[:80]))
    if not policy.trusted and job.params.get("client") != policy.client_id:
        raise Forbidden(_("The view export {id} was started by another client.").format(id=job_id[:80]))
    return job


@router.get(f"/{STATUS}/{{job_id}}", name="viewdefinition-export-status")
async def export_status(job_id: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id)
    if job.status in (COMPLETED, FAILED):
        return RedirectResponse(f"{base_url(request)}/{RESULT}/{job.id}", status_code=303)
    body = _parameters(("exportId", "valueString", job.id), ("status", "valueCode", "in-progress"))
    headers = {"X-Progress": f"{job.done} rows", "Retry-After": RETRY_AFTER}
    return FhirResponse(body, status_code=202, headers=headers)


@router.delete(f"/{STATUS}/{{job_id}}", name="viewdefinition-export-cancel")
async def export_cancel(job_id: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id)
    if not await jobs_of(request).cancel(job.id, now()):
        raise ResourceNotFound(_("There is no view export {id}, or it has expired.").format(id=job_id[:80]))
    await files_of(request).delete_job(job.id)
    body = _parameters(("exportId", "valueString", job.id), ("status", "valueCode", "cancelled"))
    return FhirResponse(body, status_code=202)


@router.get(f"/{RESULT}/{{job_id}}", name="viewdefinition-export-result")
async def export_result(job_id: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id)
    if job.status == FAILED:
        text = job.error or _("The job failed.")
        return FhirResponse(operation_outcome([Issue("error", "exception", text)]), status_code=500)
    if job.status != COMPLETED:
        raise ResourceNotFound(_("The view export {id} has not finished yet.").format(id=job.id))
    base = base_url(request)
    parameters: list[dict[str, Any]] = [
        {"name": "exportId", "valueString": job.id},
        {"name": "status", "valueCode": "completed"},
        {"name": "_format", "valueCode": job.params["format"]},
    ]
    if job.params.get("clientTrackingId"):
        parameters.append({"name": "clientTrackingId", "valueString": job.params["clientTrackingId"]})
    for output in job.cursor.get("outputs", []):
        parameters.append({"name": "output", "part": [
            {"name": "name", "valueString": output["name"]},
            {"name": "location", "valueUri": f"{base}/{FILE}/{job.id}/{output['file']}"},
            {"name": "rows", "valueInteger": output["rows"]},
        ]})  # fmt: skip
    headers = {"Expires": format_datetime(job.finished + export_ttl(request), usegmt=True)} if job.finished else {}
    return FhirResponse({"resourceType": "Parameters", "parameter": parameters}, headers=headers)


@router.get(f"/{FILE}/{{job_id}}/{{file}}", name="viewdefinition-export-file")
async def export_file(job_id: str, file: str, request: Request, policy: Policy) -> Response:
    job = await _job(request, policy, job_id)
    known = any(output["file"] == file for output in job.cursor.get("outputs", []))
    if job.status != COMPLETED or not known:
        raise ResourceNotFound(_("The view export {id} has no file {file}.").format(id=job.id, file=file[:80]))
    return StreamingResponse(files_of(request).read(job.id, file), media_type=FORMATS[job.params["format"]].media_type)


_PARAMETERS = (
    Parameter("view", "in", 1, "*", None, "A view to export.", parts=(
        Parameter("name", "in", 0, "1", "string", "The output's name (else the view's name)."),
        Parameter("viewReference", "in", 0, "1", "Reference", "Library/[id] or ViewDefinition/[id]."),
        Parameter("viewResource", "in", 0, "1", "Resource", "The ViewDefinition itself."),
    )),
    Parameter("_format", "in", 0, "1", "code", "ndjson (default), json, csv or parquet."),
    Parameter("clientTrackingId", "in", 0, "1", "string", "The client's own id for the export, echoed in the result."),
    Parameter("patient", "in", 0, "*", "Reference", "Only rows of resources in these patients' compartments."),
    Parameter("group", "in", 0, "*", "Reference", "Only rows of resources of the Group's member patients."),
    Parameter("_since", "in", 0, "1", "instant", "Only resources updated at or after this instant."),
    Parameter("exportId", "out", 1, "1", "string", "The export's id."),
    Parameter("status", "out", 1, "1", "code", "accepted."),
)  # fmt: skip

VIEW_EXPORT_OPERATION = Operation(
    code="viewdefinition-export",
    id="ViewDefinitionExport",
    title="Export SQL on FHIR ViewDefinitions",
    description="The rows of one or more ViewDefinitions written to files by a background job. Needs "
    "`Prefer: respond-async`; answers 202 with the status URL in Content-Location.",
    levels=(SYSTEM,),
    resource_types=(),
    affects_state=True,
    parameters=_PARAMETERS,
    handler=export_handler,
)
