"""`$viewdefinition-run` of the SQL on FHIR v2 IG, in its R4 form.

https://sql-on-fhir.org/ig/latest/OperationDefinition-ViewDefinitionRun.html: in R4 mode the
operation is at system level (`[base]/$viewdefinition-run`); a stored view is also run at
instance level on the Library that carries it (`[base]/Library/{id}/$viewdefinition-run`,
carrier.py). Parameters: the view (`viewResource` inline, or `viewReference`), `_format` (json,
ndjson, csv, parquet; else the Accept header; json by default), `header` (csv), `patient`,
`group`, `_since`, `_limit`, and `resource` (resources sent in the request to run the view on
instead of the stored ones). GET takes the URL parameters only.

The rows are read under the caller's access (run.py) and streamed as they are made. A broken
view, a bad parameter or a type the caller may not read is a 4xx OperationOutcome before the
first byte; the first row is made before the response starts, so a view that fails on the first
resource is a 422 too. A failure further on ends the stream early (the status is already sent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.responses import Response, StreamingResponse

from ..engine.bulk_export import group_members
from ..engine.read import read_resource
from ..errors import InvalidRequest
from ..i18n import _
from ..rest.body import check_media_type, parse_body, read_bytes
from ..rest.context import settings_of, store_of
from ..rest.operations.declaration import INSTANCE, SYSTEM, Operation, OperationCall, Parameter
from ..rest.operations.parameters import parameter_value
from ..search.dates import parse_date_range
from .carrier import library_view
from .definition import View, compile_view
from .formats import FORMATS, encode, format_code
from .rows import compiled_rows
from .run import run_view

Values = dict[str, list[Any]]
_RESOURCE_PARAMETERS = ("viewResource", "resource")


async def _parameters(request: Request) -> Values:
    """Every parameter by name: URL ones, and a POSTed Parameters' (resources for viewResource/resource)."""
    values: Values = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    if request.method != "POST":
        return values
    raw = await read_bytes(request, settings_of(request).max_body_bytes)
    if not raw.strip():
        return values
    body = parse_body(raw, check_media_type(request))
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest(_("An operation takes a Parameters resource in the body."), expression="resourceType")
    parameters = body.get("parameter") or []
    if not isinstance(parameters, list):
        raise InvalidRequest(_("'parameter' must be a list."), expression="Parameters.parameter")
    for position, parameter in enumerate(parameters):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise InvalidRequest(_("Each parameter needs a 'name'."), expression=f"Parameters.parameter[{position}]")
        name = parameter["name"]
        if name in _RESOURCE_PARAMETERS:
            if not isinstance(parameter.get("resource"), dict):
                raise InvalidRequest(
                    _("Parameter '{name}' must hold a resource.").format(name=name),
                    expression=f"Parameters.parameter[{position}].resource",
                )
            values.setdefault(name, []).append(parameter["resource"])
        else:
            values.setdefault(name, []).append(parameter_value(parameter, position))
    return values


def _one(values: Values, name: str) -> Any:
    found = values.get(name) or []
    if len(found) > 1:
        raise InvalidRequest(_("Parameter '{name}' may be given only once.").format(name=name), expression=name)
    return found[0] if found else None


async def _library_view(call: OperationCall, library_id: str) -> dict[str, Any]:
    record = await read_resource(store_of(call.request), call.policy, "Library", library_id)
    return library_view(record.resource())


async def _view(call: OperationCall, values: Values) -> dict[str, Any]:
    inline, reference = _one(values, "viewResource"), _one(values, "viewReference")
    if call.resource_id is not None:
        if inline is not None or reference is not None:
            raise InvalidRequest(
                _("At instance level the view is the one in the URL: leave out viewResource and viewReference."),
                expression="viewResource" if inline is not None else "viewReference",
            )
        return await _library_view(call, call.resource_id)
    if (inline is None) == (reference is None):
        raise InvalidRequest(
            _("Give the view in exactly one of viewResource and viewReference."), expression="viewResource"
        )
    if inline is not None:
        return dict(inline)
    kind, _sep, library_id = str(reference).rstrip("/").rpartition("/")
    if kind.rpartition("/")[2] not in ("Library", "ViewDefinition") or not library_id:
        raise InvalidRequest(
            _("viewReference must be Library/[id] or ViewDefinition/[id] (the Library that carries the view)."),
            expression="viewReference",
        )
    return await _library_view(call, library_id)


def _format(request: Request, values: Values) -> str:
    raw = _one(values, "_format")
    if raw is None:
        accepted = [format_code(part) for part in request.headers.get("accept", "").split(",")]
        return next((code for code in accepted if code is not None), "json")
    code = format_code(str(raw))
    if code is None:
        raise InvalidRequest(
            _("'{value}' is not a supported _format; use one of {allowed}.").format(
                value=str(raw)[:80], allowed=", ".join(FORMATS)
            ),
            expression="_format",
        )
    return code


def _boolean(values: Values, name: str, default: bool) -> bool:
    raw = _one(values, name)
    if raw is None:
        return default
    if str(raw).lower() not in ("true", "false"):
        raise InvalidRequest(_("'{name}' must be true or false.").format(name=name), expression=name)
    return str(raw).lower() == "true"


def _limit(values: Values) -> int | None:
    raw = _one(values, "_limit")
    if raw is None:
        return None
    try:
        limit = int(str(raw))
    except ValueError:
        limit = 0
    if limit < 1:
        raise InvalidRequest(_("'_limit' must be a whole number of at least 1."), expression="_limit")
    return limit


def _id_of(reference: str, resource_type: str, parameter: str) -> str:
    kind, _sep, resource_id = reference.strip().rpartition("/")
    if (kind and kind.rpartition("/")[2] != resource_type) or not resource_id:
        raise InvalidRequest(
            _("'{value}' is not a {type} reference.").format(value=reference[:80], type=resource_type),
            expression=parameter,
        )
    return resource_id


async def _patients(call: OperationCall, values: Values) -> list[str] | None:
    """The patients `patient` and `group` confine the rows to (None: no confinement asked)."""
    patients: list[str] | None = None
    patient = _one(values, "patient")
    if patient is not None:
        patients = [_id_of(str(patient), "Patient", "patient")]
    groups = values.get("group") or []
    if groups:
        members: list[str] = []
        for group in groups:
            record = await read_resource(
                store_of(call.request), call.policy, "Group", _id_of(str(group), "Group", "group")
            )
            members += group_members(record.resource())
        patients = members if patients is None else [p for p in patients if p in members]
    return patients


async def _from_list(view: View, resources: list[Any], limit: int | None) -> AsyncIterator[dict[str, Any]]:
    for count, row in enumerate(compiled_rows(view, resources), start=1):
        yield row
        if limit is not None and count >= limit:
            return


async def _started(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """The rows, the first one made now (so an access refusal or a failure on it is still a 4xx)."""
    first = await anext(rows, None)

    async def rest() -> AsyncIterator[dict[str, Any]]:
        if first is not None:
            yield first
            async for row in rows:
                yield row

    return rest()


def _refuse_unknown(values: Values) -> None:
    known = {parameter.name for parameter in _PARAMETERS if parameter.use == "in"} | {"_pretty"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidRequest(
            _("Unknown parameters for $viewdefinition-run: {names}.").format(names=", ".join(unknown)),
            expression=unknown[0],
        )


async def run_operation(call: OperationCall) -> Response:
    request = call.request
    values = await _parameters(request)
    _refuse_unknown(values)
    code = _format(request, values)
    header = _boolean(values, "header", True)
    limit = _limit(values)
    since_raw = _one(values, "_since")
    since = parse_date_range(str(since_raw), "_since").low if since_raw is not None else None
    view = compile_view(await _view(call, values))
    inline_resources = values.get("resource")
    if inline_resources is not None:
        rows = _from_list(view, inline_resources, limit)
    else:
        patients = await _patients(call, values)
        rows = run_view(store_of(request), call.policy, view, since=since, limit=limit, patients=patients)
    chunks = encode(code, await _started(rows), view.columns, header=header)
    return StreamingResponse(chunks, media_type=FORMATS[code].media_type)


_PARAMETERS = (
    Parameter("viewReference", "in", 0, "1", "Reference", "Library/[id] or ViewDefinition/[id]: the stored view."),
    Parameter("viewResource", "in", 0, "1", "Resource", "The ViewDefinition itself (POST)."),
    Parameter("_format", "in", 0, "1", "code", "json (default), ndjson, csv or parquet."),
    Parameter("header", "in", 0, "1", "boolean", "CSV only: a header line (default true)."),
    Parameter("patient", "in", 0, "1", "Reference", "Only rows of resources in this patient's compartment."),
    Parameter("group", "in", 0, "*", "Reference", "Only rows of resources of the Group's member patients."),
    Parameter("_since", "in", 0, "1", "instant", "Only resources updated at or after this instant."),
    Parameter("_limit", "in", 0, "1", "integer", "At most this many rows."),
    Parameter("resource", "in", 0, "*", "Resource", "Resources to run the view on instead of the stored ones."),
    Parameter("return", "out", 1, "1", "Binary", "The rows in the requested format."),
)

VIEW_RUN = Operation(
    code="viewdefinition-run",
    id="ViewDefinitionRun",
    title="Run a SQL on FHIR ViewDefinition",
    description="The rows of a ViewDefinition over the server's data the caller may read, streamed as "
    "json, ndjson, csv or parquet. A stored view is a Library carrying it (instance level).",
    levels=(SYSTEM, INSTANCE),
    resource_types=("Library",),
    affects_state=False,
    parameters=_PARAMETERS,
    handler=run_operation,
)
