"""`POST Practitioner/[id]/$calendar-token`: a new feed address for the practitioner, or (`revoke=true`)
every address of theirs revoked. Needs write access to Practitioner (an administrator's)."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response

from ..engine.identity import now
from ..engine.read import read_resource
from ..errors import InvalidRequest
from ..i18n import _
from ..rest.context import base_url, store_of
from ..rest.operations.declaration import INSTANCE, Operation, OperationCall, Parameter
from ..rest.operations.parameters import operation_query
from ..rest.responses import FhirResponse
from ..storage.database import Database


def _revoking(query: list[tuple[str, str]]) -> bool:
    values = [value for name, value in query if name == "revoke"]
    if any(value not in ("true", "false") for value in values) or len(values) > 1:
        raise InvalidRequest(_("revoke must be true or false, once."), expression="Parameters.parameter")
    return values == ["true"]


async def calendar_token(call: OperationCall) -> Response:
    assert call.resource_type is not None and call.resource_id is not None
    call.policy.require("u", "Practitioner")
    revoke = _revoking(await operation_query(call.request))
    practitioner = await read_resource(store_of(call.request), call.policy, "Practitioner", call.resource_id)
    tokens = _database(call).calendar_tokens
    parameter: list[dict[str, Any]]
    if revoke:
        parameter = [{"name": "revoked", "valueInteger": await tokens.revoke(practitioner.reference)}]
    else:
        token = secrets.token_urlsafe(32)
        await tokens.add(token, practitioner.reference, now())
        root = base_url(call.request).removesuffix("/fhir")
        parameter = [
            {"name": "token", "valueString": token},
            {"name": "url", "valueUri": f"{root}/calendar/{token}.ics"},
        ]
    return FhirResponse({"resourceType": "Parameters", "parameter": parameter})


def _database(call: OperationCall) -> Database:
    database: Database = call.request.app.state.database
    return database


CALENDAR_TOKEN = Operation(
    code="calendar-token",
    id="Practitioner-calendar-token",
    title="Practitioner calendar feed address",
    description="A new address of the practitioner's iCalendar feed (only its hash is stored), or with revoke=true "
    "every address of theirs revoked.",
    levels=(INSTANCE,),
    resource_types=("Practitioner",),
    affects_state=True,
    parameters=(
        Parameter("revoke", "in", 0, "1", "boolean", "Revoke every feed address of the practitioner."),
        Parameter("token", "out", 0, "1", "string", "The new token (shown once)."),
        Parameter("url", "out", 0, "1", "uri", "The feed address to subscribe to."),
        Parameter("revoked", "out", 0, "1", "integer", "How many addresses were revoked."),
    ),
    handler=calendar_token,
)
