"""FHIR read and vread. https://hl7.org/fhir/R4/http.html#read

Well-formed reads are answered before routing, by direct_read.py with the same functions; these
routes answer the rest (an id the engine will refuse, a type that is no resource type ...)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..storage import StoredResource
from .access import Policy
from .context import store_of
from .preconditions import not_modified
from .responses import FhirResponse, version_headers

router = APIRouter()


def resource_response(request: Request, record: StoredResource) -> Response:
    """The version with its ETag and Last-Modified, or a 304 when the client's copy is current."""
    headers = version_headers(record)
    if not_modified(request, record):
        return Response(status_code=304, headers=headers)
    return FhirResponse(record.body, headers=headers)


@router.get("/{resource_type:type_segment}/{resource_id:segment}", name="read")
async def read(resource_type: str, resource_id: str, request: Request, policy: Policy) -> Response:
    record = await engine.read_resource(store_of(request), policy, resource_type, resource_id)
    return resource_response(request, record)


@router.get("/{resource_type:type_segment}/{resource_id:segment}/_history/{version_id}", name="vread")
async def vread(resource_type: str, resource_id: str, version_id: str, request: Request, policy: Policy) -> Response:
    record = await engine.read_version(store_of(request), policy, resource_type, resource_id, version_id)
    return resource_response(request, record)
