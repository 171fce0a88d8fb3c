"""Search across types: GET [base]?_type=Patient,Observation&... https://hl7.org/fhir/R4/search.html#all

Answered at `[base]` and `[base]/`, as type searches are: unknown parameters refused unless
`Prefer: handling=lenient`, within the search limits, stopped when the client goes away.
`_type` is required (400 without it: a search across all 146 R4 types is not supported). Matches
come type by type, in the order of `_type`; `next` links page through all of them (see
engine/system_search.py).

The route path is `paths.BASE_PATH` (an optional slash): FastAPI refuses an empty one here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..auth.policy import AccessPolicy
from .access import Policy
from .bundles import cursor_searchset
from .context import base_url, settings_of, store_of
from .disconnect import unless_disconnected
from .paths import BASE_PATH
from .preconditions import lenient_handling
from .responses import FhirResponse
from .search import _shape, search_limits

router = APIRouter()


@router.get(BASE_PATH, name="search-system")
async def search_system(request: Request, policy: Policy) -> Response:
    return await unless_disconnected(request, _answer(request, policy))


async def _answer(request: Request, policy: AccessPolicy) -> Response:
    settings = settings_of(request)
    system_request = engine.parse_system_search(
        list(request.query_params.multi_items()),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=not lenient_handling(request),
        limits=search_limits(settings),
    )
    base = base_url(request)
    result = await engine.search_system(store_of(request), policy, system_request, base_url=base)
    shape = _shape(system_request.requests[0])
    bundle = cursor_searchset(base, base, system_request.echoed, system_request.cursor, result, shape=shape)
    return FhirResponse(bundle)
