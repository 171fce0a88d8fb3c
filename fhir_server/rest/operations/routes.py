"""The routes of the declared operations and of their OperationDefinitions.

Three routes serve every operation, one per level: `[base]/$op`, `[base]/{type}/$op` and
`[base]/{type}/{id}/$op`. Their `{name:operation}` segment only matches a `$`-name and the type
and id segments never start with `$` (paths.py), so they cannot take, or be taken by, any other
FHIR route: their place in the route list does not matter. An operation not declared for the
level and type it is invoked on is a 404 `not-supported`; GET on one that affects state a 405.

`GET [base]/OperationDefinition/{id}` answers the generated definition for a declared
operation's id. Those ids are reserved: writes to them are refused (405) and a stored
OperationDefinition under one is not served (other ids are stored and read as any resource); a
write rule (reserved.py) refuses the same writes made through a Bundle or an import.
This route (`definitions_router`) comes before the read of a stored resource (rest/__init__.py).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.convertors import register_url_convertor
from starlette.responses import Response

from ... import engine
from ...auth.policy import AccessPolicy
from ...engine.identity import check_id
from ...errors import Issue, MethodNotAllowed, ResourceNotFound
from ...i18n import _
from ..access import Policy
from ..context import base_url
from ..paths import Segments
from ..responses import FhirResponse
from .catalog import OPERATIONS
from .declaration import INSTANCE, SYSTEM, TYPE, Operation, OperationCall
from .definition import operation_definition
from .reserved import generated_definition_refusal

router = APIRouter()
definitions_router = APIRouter()
"""The generated OperationDefinitions (one route), tried before the read of stored resources."""
DEFINITIONS = {operation.id: operation for operation in OPERATIONS}


class DeclaredId(Segments):
    regex = "|".join(re.escape(operation_id) for operation_id in sorted(DEFINITIONS, key=len, reverse=True))


register_url_convertor("declared_operation", DeclaredId())
DEFINITION_PATH = "/OperationDefinition/{operation_id:declared_operation}"
_BOTH = ["GET", "POST"]


def declared(code: str, level: str, resource_type: str | None) -> Operation | None:
    """The declaration serving `$code` at `level` on `resource_type` (None at system level)."""
    return next((op for op in OPERATIONS if op.code == code and op.applies_to(level, resource_type)), None)


def _not_supported(name: str, level: str, resource_type: str | None) -> ResourceNotFound:
    where = {SYSTEM: _("the system level"), TYPE: "{type}", INSTANCE: "{type}/[id]"}[level].format(type=resource_type)
    text = _("The operation {operation} is not supported on {target}.").format(operation=name[:80], target=where)
    return ResourceNotFound(text, issues=[Issue("error", "not-supported", text)])


async def _invoke(
    request: Request, policy: AccessPolicy, name: str, resource_type: str | None = None, resource_id: str | None = None
) -> Response:
    """Check the type and id, find the declaration, check the method, call the handler."""
    if resource_type is not None:
        engine.check_resource_type(resource_type)
    if resource_id is not None:
        check_id(resource_id)
    level = SYSTEM if resource_type is None else TYPE if resource_id is None else INSTANCE
    operation = declared(name[1:], level, resource_type)
    if operation is None:
        raise _not_supported(name, level, resource_type)
    if request.method not in operation.methods:
        raise MethodNotAllowed(
            _("{operation} changes data: invoke it with POST.").format(operation=name),
            headers={"Allow": ", ".join(operation.methods)},
        )
    return await operation.handler(OperationCall(request, policy, resource_type, resource_id))


@router.api_route("/{name:operation}", methods=_BOTH, name="operation-system")
async def system_operation(name: str, request: Request, policy: Policy) -> Response:
    return await _invoke(request, policy, name)


@router.api_route("/{resource_type:type_segment}/{name:operation}", methods=_BOTH, name="operation-type")
async def type_operation(resource_type: str, name: str, request: Request, policy: Policy) -> Response:
    return await _invoke(request, policy, name, resource_type)


@router.api_route("/{resource_type:type_segment}/{resource_id:segment}/{name:operation}", methods=_BOTH,
                  name="operation-instance")  # fmt: skip
async def instance_operation(
    resource_type: str, resource_id: str, name: str, request: Request, policy: Policy
) -> Response:
    return await _invoke(request, policy, name, resource_type, resource_id)


@definitions_router.api_route(DEFINITION_PATH, methods=["GET", "PUT", "PATCH", "DELETE"], name="operation-definition")
async def generated_definition(operation_id: str, request: Request, policy: Policy) -> Response:
    """Readable by anyone who may call the API, like the CapabilityStatement that points here; never written."""
    if request.method != "GET":
        raise generated_definition_refusal(operation_id)
    return FhirResponse(operation_definition(DEFINITIONS[operation_id], base_url(request)))
