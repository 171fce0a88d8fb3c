"""FHIR update: PUT [base]/{type}/{id}. https://hl7.org/fhir/R4/http.html#update"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from .access import Policy
from .body import check_media_type, read_json
from .context import settings_of, store_of
from .preconditions import if_match_version
from .writes import write_response

router = APIRouter()


@router.put("/{resource_type:type_segment}/{resource_id:segment}", name="update")
async def update(resource_type: str, resource_id: str, request: Request, policy: Policy) -> Response:
    engine.check_resource_type(resource_type)
    check_media_type(request)
    body = await read_json(request, settings_of(request).max_body_bytes)
    result = await engine.update_resource(
        store_of(request), policy, resource_type, resource_id, body, if_match=if_match_version(request)
    )
    return write_response(request, result)
