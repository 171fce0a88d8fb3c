"""Search across types: GET [base]?_type=Patient,Observation&... https://hl7.org/fhir/R4/search.html#all

Answered at `[base]` and `[base]/`. `_type` is required (400 without it: a search across all
146 R4 types is not supported). Matches come type by type, in the order of `_type`; `next`
links page through all of them (see engine/system_search.py).

FastAPI refuses an empty route path on a router included without a prefix, so the route's
path is an optional slash, matched by the `optslash` convertor registered here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from .. import engine
from .bundles import searchset_bundle
from .context import base_url, settings_of, store_of
from .preconditions import strict_handling
from .responses import FhirResponse
from .search import _shape

router = APIRouter()


class _OptionalSlash(Convertor[str]):
    """Matches "" or "/": the FHIR base with or without its trailing slash."""

    regex = "/?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("optslash", _OptionalSlash())


@router.get("{slash:optslash}", name="search-system")
async def search_system(request: Request) -> Response:
    settings = settings_of(request)
    system_request = engine.parse_system_search(
        list(request.query_params.multi_items()),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=strict_handling(request),
    )
    base = base_url(request)
    result = await engine.search_system(store_of(request), system_request, base_url=base)
    bundle = searchset_bundle(
        base,
        base,
        system_request.echoed,
        ("_cursor", system_request.cursor, result.page.next_cursor),
        result.page,
        included=result.included,
        warnings=result.warnings,
        shape=_shape(system_request.requests[0]),
    )
    return FhirResponse(bundle)
