"""`$viewdefinition-run` of the SQL on FHIR v2 IG, in its R4 form.

https://sql-on-fhir.org/ig/latest/OperationDefinition-ViewDefinitionRun.html: in R4 mode the
operation is at system level (`[base]/$viewdefinition-run`); a stored view is also run at
instance level on the Library that carries it (`[base]/Library/{id}/$viewdefinition-run`,
carrier.py). Parameters: the view (`viewResource` inline, or `viewReference`), `_format` (json,
ndjson, csv, parquet; else the Accept header; json by default), `header` (csv), `patient`,
`group`, `_since`, `_limit`, and `resource` (resources sent in the request to run the view on
instead of the stored ones). GET takes the URL parameters only. `source` is not supported (400).

The rows are read under the caller's access (run.py) and streamed as they are made. A broken
view, a bad parameter or a type the caller may not read is a 4xx OperationOutcome before the
first byte; the first row is made before the response starts, so a view that fails on the first
resource is a 422 too. A failure further on ends the stream early (the status is already sent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from ..errors import InvalidRequest
from ..i18n import _
from ..rest.context import store_of
from ..rest.operations.declaration import INSTANCE, SYSTEM, Operation, OperationCall, Parameter
from ..rest.operations.parameters import given_parameters
from .definition import View, compile_view
from .formats import FORMATS, encode
from .parameters import (
    Values,
    one,
    output_format,
    parameter_values,
    patients_of,
    refuse_unknown,
    since,
    stored_view,
    view_of,
)
from .rows import compiled_rows
from .run import run_view


async def _view(call: OperationCall, values: Values) -> dict[str, Any]:
    inline, reference = one(values, "viewResource"), one(values, "viewReference")
    store = store_of(call.request)
    if call.resource_id is None:
        return await view_of(store, call.policy, inline, reference)
    if inline is not None or reference is not None:
        raise InvalidRequest(
            _("At instance level the view is the one in the URL: leave out viewResource and viewReference."),
            expression="viewResource" if inline is not None else "viewReference",
        )
    return await stored_view(store, call.policy, call.resource_id)


def _boolean(values: Values, name: str, default: bool) -> bool:
    raw = one(values, name)
    if raw is None:
        return default
    if str(raw).lower() not in ("true", "false"):
        raise InvalidRequest(_("'{name}' must be true or false.").format(name=name), expression=name)
    return str(raw).lower() == "true"


def _limit(values: Values) -> int | None:
    raw = one(values, "_limit")
    if raw is None:
        return None
    try:
        limit = int(str(raw))
    except ValueError:
        limit = 0
    if limit < 1:
        raise InvalidRequest(_("'_limit' must be a whole number of at least 1."), expression="_limit")
    return limit


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


async def run_operation(call: OperationCall) -> Response:
    request = call.request
    values = parameter_values(await given_parameters(request))
    refuse_unknown(values, {p.name for p in _PARAMETERS if p.use == "in"}, "$viewdefinition-run")
    code = output_format(values, request.headers.get("accept", ""), "json")
    header = _boolean(values, "header", True)
    limit = _limit(values)
    updated_since = since(values)
    view = compile_view(await _view(call, values))
    inline_resources = values.get("resource")
    if inline_resources is not None:
        rows = _from_list(view, inline_resources, limit)
    else:
        store = store_of(request)
        patients = await patients_of(store, call.policy, values)
        rows = run_view(store, call.policy, view, since=updated_since, limit=limit, patients=patients)
    chunks = encode(code, await _started(rows), view.columns, header=header)
    return StreamingResponse(chunks, media_type=FORMATS[code].media_type)


_PARAMETERS = (
    Parameter(
        "viewReference", "in", 0, "1", "Reference", "The stored view: Library/[id], ViewDefinition/[id] or its url."
    ),
    Parameter("viewResource", "in", 0, "1", "Resource", "The ViewDefinition itself (POST)."),
    Parameter("_format", "in", 0, "1", "code", "json (default), ndjson, csv or parquet."),
    Parameter("header", "in", 0, "1", "boolean", "CSV only: a header line (default true)."),
    Parameter("patient", "in", 0, "*", "Reference", "Only rows of resources in these patients' compartments."),
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
