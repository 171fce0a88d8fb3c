"""FHIR search: GET [base]/{type}?..., POST [base]/{type}/_search and compartment searches
(GET [base]/Patient/{id}/{type}). https://hl7.org/fhir/R4/http.html#search

Unknown parameters are refused unless the client sends `Prefer: handling=lenient`; every search
runs within the settings' limits (search/limits.py) and stops when its client goes away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

import profiles.summary

from .. import engine
from ..auth.policy import AccessPolicy
from ..config import Settings
from ..errors import ResourceNotFound
from ..fhir_json import dumps, loads
from ..i18n import _
from ..search import SearchRequest, parse_search_request
from ..search.limits import SearchLimits
from ..search.registry import default_registry
from .access import Policy
from .body import check_media_type, read_bytes
from .bundles import searchset_bundle
from .context import base_url, settings_of, store_of
from .disconnect import unless_disconnected
from .preconditions import lenient_handling
from .responses import FhirResponse

router = APIRouter()


def _shape(request: SearchRequest) -> Callable[[bytes], bytes] | None:
    """How `_summary` / `_elements` rewrite each resource; None keeps the stored bytes as they are."""
    if request.elements:
        rewrite = partial(profiles.summary.select_elements, elements=request.elements)
    elif request.summary in ("true", "text", "data"):
        rewrite = partial(profiles.summary.summarize, mode=request.summary)
    else:
        return None
    return lambda body: dumps(rewrite(loads(body)))


def search_limits(settings: Settings) -> SearchLimits:
    """The bounds every search through the API runs within (README "Search limits")."""
    return SearchLimits(
        values=settings.search_max_values,
        parameters=settings.search_max_parameters,
        has_depth=settings.search_max_has_depth,
        chain_depth=settings.search_max_chain_depth,
        includes=settings.search_max_includes,
        iterate_rounds=settings.search_max_iterate_rounds,
        time_ms=settings.search_time_limit_ms,
    )


async def _search(
    request: Request,
    policy: AccessPolicy,
    resource_type: str,
    query: Sequence[tuple[str, str]],
    compartment: str | None = None,
) -> Response:
    return await unless_disconnected(request, _answer(request, policy, resource_type, query, compartment))


async def _answer(
    request: Request,
    policy: AccessPolicy,
    resource_type: str,
    query: Sequence[tuple[str, str]],
    compartment: str | None,
) -> Response:
    engine.check_resource_type(resource_type)
    settings = settings_of(request)
    search_request = parse_search_request(
        resource_type,
        query,
        default_registry(),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=not lenient_handling(request),
        limits=search_limits(settings),
    )
    base = base_url(request)
    result = await engine.search_type(store_of(request), policy, search_request, compartment=compartment, base_url=base)
    previous = last = None
    if search_request.sort:
        offset, count, total = search_request.offset, search_request.count, result.page.total
        paging = ("_offset", str(offset) if offset else None, result.page.next_cursor)
        previous = str(max(offset - count, 0)) if offset and count else None
        last = str((total - 1) // count * count) if total and count else None
    else:
        paging = ("_cursor", search_request.cursor, result.page.next_cursor)
    self_url = f"{base}/{compartment}/{resource_type}" if compartment else f"{base}/{resource_type}"
    bundle = searchset_bundle(
        base,
        self_url,
        search_request.echoed,
        paging,
        result.page,
        included=result.included,
        warnings=result.warnings,
        shape=_shape(search_request),
        previous=previous,
        last=last,
    )
    return FhirResponse(bundle)


@router.get("/{resource_type:type_segment}", name="search-type")
async def search_get(resource_type: str, request: Request, policy: Policy) -> Response:
    return await _search(request, policy, resource_type, list(request.query_params.multi_items()))


@router.post("/{resource_type:type_segment}/_search", name="search-type-post")
async def search_post(resource_type: str, request: Request, policy: Policy) -> Response:
    """Form-encoded parameters in the body, plus any in the URL, mean the same as a GET."""
    engine.check_resource_type(resource_type)
    check_media_type(request, ("application/x-www-form-urlencoded",))
    raw = await read_bytes(request, settings_of(request).max_body_bytes)
    form = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    query = [*request.query_params.multi_items(), *form]
    return await _search(request, policy, resource_type, query)


@router.get(
    "/{compartment_type:type_segment}/{compartment_id:segment}/{resource_type:type_segment}", name="search-compartment"
)
async def search_compartment(
    compartment_type: str, compartment_id: str, resource_type: str, request: Request, policy: Policy
) -> Response:
    """Resources of `resource_type` in the compartment (R4 compartmentdefinition.html); the Patient compartment."""
    engine.check_resource_type(compartment_type)
    engine.check_resource_type(resource_type)
    members = resource_type == "Patient" or default_registry().compartment_parameters(resource_type)
    if compartment_type != "Patient" or not members:
        raise ResourceNotFound(
            _("{type} resources are not in the {compartment} compartment.").format(
                type=resource_type, compartment=compartment_type
            )
        )
    compartment = f"{compartment_type}/{compartment_id}"
    return await _search(request, policy, resource_type, list(request.query_params.multi_items()), compartment)
