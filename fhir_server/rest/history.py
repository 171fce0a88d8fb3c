"""FHIR history at system, type and instance level. https://hl7.org/fhir/R4/http.html#history"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..auth.policy import AccessPolicy
from .access import Policy
from .bundles import history_bundle
from .context import base_url, settings_of, store_of
from .preconditions import lenient_handling
from .responses import FhirResponse

router = APIRouter()


async def _history(
    request: Request, policy: AccessPolicy, resource_type: str | None, resource_id: str | None
) -> Response:
    settings = settings_of(request)
    history_request = engine.parse_history_request(
        resource_type,
        resource_id,
        list(request.query_params.multi_items()),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=not lenient_handling(request),
    )
    page = await engine.history(store_of(request), policy, history_request)
    base = base_url(request)
    path = "/".join(p for p in (resource_type, resource_id, "_history") if p)
    bundle = history_bundle(base, f"{base}/{path}", history_request.echoed, history_request.cursor, page)
    return FhirResponse(bundle)


@router.get("/_history", name="history-system")
async def history_system(request: Request, policy: Policy) -> Response:
    return await _history(request, policy, None, None)


@router.get("/{resource_type:type_segment}/_history", name="history-type")
async def history_type(resource_type: str, request: Request, policy: Policy) -> Response:
    return await _history(request, policy, resource_type, None)


@router.get("/{resource_type:type_segment}/{resource_id:segment}/_history", name="history-instance")
async def history_instance(resource_type: str, resource_id: str, request: Request, policy: Policy) -> Response:
    return await _history(request, policy, resource_type, resource_id)
