"""FHIR search at type level: GET [base]/{type}?... and POST [base]/{type}/_search. https://hl7.org/fhir/R4/http.html#search"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..search import SearchRequest, parse_search_request
from .body import check_media_type, read_bytes
from .bundles import searchset_bundle
from .context import base_url, settings_of, store_of
from .preconditions import strict_handling
from .responses import FhirResponse

router = APIRouter()


def _echoed(request: SearchRequest) -> list[tuple[str, str]]:
    """The parameters that took effect, for the self link (search.html#selflink)."""
    params = [(f.code if not f.modifier else f"{f.code}:{f.modifier}", ",".join(f.values)) for f in request.filters]
    if request.summary_count:
        params.append(("_summary", "count"))
    if request.total != "accurate":
        params.append(("_total", request.total))
    params.append(("_count", str(request.count)))
    return params


async def _search(request: Request, resource_type: str, query: Sequence[tuple[str, str]]) -> Response:
    engine.check_resource_type(resource_type)
    settings = settings_of(request)
    search_request = parse_search_request(
        resource_type,
        query,
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=strict_handling(request),
    )
    page = await engine.search_type(store_of(request), search_request)
    base = base_url(request)
    bundle = searchset_bundle(base, f"{base}/{resource_type}", _echoed(search_request), search_request.cursor, page)
    return FhirResponse(bundle)


@router.get("/{resource_type}", name="search-type")
async def search_get(resource_type: str, request: Request) -> Response:
    return await _search(request, resource_type, list(request.query_params.multi_items()))


@router.post("/{resource_type}/_search", name="search-type-post")
async def search_post(resource_type: str, request: Request) -> Response:
    """Form-encoded parameters in the body, plus any in the URL, mean the same as a GET."""
    engine.check_resource_type(resource_type)
    check_media_type(request, ("application/x-www-form-urlencoded",))
    raw = await read_bytes(request, settings_of(request).max_body_bytes)
    form = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    query = [*request.query_params.multi_items(), *form]
    return await _search(request, resource_type, query)
