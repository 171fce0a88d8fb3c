"""Reading resources for the stock operations and duties: current versions by search criteria or reference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine.search import search_type
from ...search.registry import default_registry
from ...search.request import SearchRequest, parse_search_request
from ...storage import ResourceStore


async def find(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, criteria: Sequence[tuple[str, str]], limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` current resources `policy` may search matching `criteria` (as in a search URL)."""
    request = parse_search_request(
        resource_type, criteria, default_registry(), default_count=limit, max_count=limit, strict=True
    )
    narrowed = SearchRequest(request.resource_type, request.filters, limit, total="none")
    return [record.resource() for record in (await search_type(store, policy, narrowed)).page.records]


async def current(store: ResourceStore, reference: str | None) -> dict[str, Any] | None:
    """The current version of `reference` ("Type/id"), None when it does not exist or is deleted."""
    kind, _slash, resource_id = (reference or "").partition("/")
    if not kind or not resource_id:
        return None
    stored = await store.get(kind, resource_id)
    return None if stored is None or stored.deleted else stored.resource()
