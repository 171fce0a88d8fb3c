"""Conditional update, patch and delete: PUT, PATCH and DELETE on [base]/{type}?criteria.
https://hl7.org/fhir/R4/http.html#cond-update"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from .access import Policy
from .body import check_media_type, read_json
from .context import settings_of, store_of
from .patch import PATCH_FORMATS
from .preconditions import if_match_version
from .writes import write_response

router = APIRouter()


def _criteria(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


@router.put("/{resource_type:type_segment}", name="conditional-update")
async def conditional_update(resource_type: str, request: Request, policy: Policy) -> Response:
    engine.check_resource_type(resource_type)
    check_media_type(request)
    body = await read_json(request, settings_of(request).max_body_bytes)
    result = await engine.conditional_update(
        store_of(request), policy, resource_type, body, _criteria(request), if_match_version(request)
    )
    return write_response(request, result)


@router.patch("/{resource_type:type_segment}", name="conditional-patch")
async def conditional_patch(resource_type: str, request: Request, policy: Policy) -> Response:
    engine.check_resource_type(resource_type)
    patch_format = PATCH_FORMATS[check_media_type(request, PATCH_FORMATS)]
    document = await read_json(request, settings_of(request).max_body_bytes)
    result = await engine.conditional_patch(
        store_of(request), policy, resource_type, patch_format, document, _criteria(request), if_match_version(request)
    )
    return write_response(request, result)


@router.delete("/{resource_type:type_segment}", name="conditional-delete")
async def conditional_delete(resource_type: str, request: Request, policy: Policy) -> Response:
    """204 whatever matched (R4: deleting nothing is a success); 412 when too many match."""
    await engine.conditional_delete(store_of(request), policy, resource_type, _criteria(request))
    return Response(status_code=204)
