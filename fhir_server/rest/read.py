"""FHIR read and vread. https://hl7.org/fhir/R4/http.html#read"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..storage import StoredResource
from .access import Policy
from .context import store_of
from .paths import INSTANCE_PATH
from .preconditions import not_modified
from .responses import FhirResponse, version_headers

router = APIRouter()
well_formed_router = APIRouter()
"""The read of a well-formed `[type]/[id]`, tried before every other FHIR route (see paths.py)."""


def _resource_response(request: Request, record: StoredResource) -> Response:
    headers = version_headers(record)
    if not_modified(request, record):
        return Response(status_code=304, headers=headers)
    return FhirResponse(record.body, headers=headers)


@well_formed_router.get(INSTANCE_PATH, name="read")
@router.get("/{resource_type:type_segment}/{resource_id:segment}", name="read")
async def read(resource_type: str, resource_id: str, request: Request, policy: Policy) -> Response:
    record = await engine.read_resource(store_of(request), policy, resource_type, resource_id)
    return _resource_response(request, record)


@router.get("/{resource_type:type_segment}/{resource_id:segment}/_history/{version_id}", name="vread")
async def vread(resource_type: str, resource_id: str, version_id: str, request: Request, policy: Policy) -> Response:
    record = await engine.read_version(store_of(request), policy, resource_type, resource_id, version_id)
    return _resource_response(request, record)
