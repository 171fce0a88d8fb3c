"""FHIR patch: PATCH [base]/{type}/{id}, as JSON Patch or FHIRPath Patch. https://hl7.org/fhir/R4/http.html#patch"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..engine import PatchFormat
from ..formats.negotiation import XML_MEDIA_TYPES
from .access import Policy
from .body import check_media_type, read_json
from .context import settings_of, store_of
from .preconditions import if_match_version
from .writes import write_response

router = APIRouter()

PATCH_FORMATS = {
    "application/json-patch+json": PatchFormat.JSON_PATCH,
    "application/fhir+json": PatchFormat.FHIRPATH_PATCH,
    "application/json": PatchFormat.FHIRPATH_PATCH,
    **dict.fromkeys(XML_MEDIA_TYPES, PatchFormat.FHIRPATH_PATCH),
}


@router.patch("/{resource_type:type_segment}/{resource_id:segment}", name="patch")
async def patch(resource_type: str, resource_id: str, request: Request, policy: Policy) -> Response:
    engine.check_resource_type(resource_type)
    patch_format = PATCH_FORMATS[check_media_type(request, PATCH_FORMATS)]
    document = await read_json(request, settings_of(request).max_body_bytes)
    result = await engine.patch_resource(
        store_of(request),
        policy,
        resource_type,
        resource_id,
        patch_format,
        document,
        if_match=if_match_version(request),
    )
    return write_response(request, result)
