"""FHIR delete: DELETE [base]/{type}/{id}. https://hl7.org/fhir/R4/http.html#delete"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from .access import Policy
from .context import store_of
from .preconditions import if_match_version

router = APIRouter()


@router.delete("/{resource_type:type_segment}/{resource_id:segment}", name="delete")
async def delete(resource_type: str, resource_id: str, request: Request, policy: Policy) -> Response:
    """204 whether or not there was anything to delete (R4); the ETag names the deletion's version."""
    result = await engine.delete_resource(
        store_of(request), policy, resource_type, resource_id, if_match=if_match_version(request)
    )
    headers = {"ETag": f'W/"{result.record.version_id}"'} if result else None
    return Response(status_code=204, headers=headers)
