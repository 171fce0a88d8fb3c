"""A bounded search of current resources under a caller's policy, for the billing operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..auth.policy import AccessPolicy
from ..engine import search_type
from ..search.registry import default_registry
from ..search.request import SearchRequest, parse_search_request
from ..storage import ResourceStore


async def find(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, criteria: Sequence[tuple[str, str]], limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` current resources matching `criteria` that `policy` may read."""
    request = parse_search_request(
        resource_type, criteria, default_registry(), default_count=limit, max_count=limit, strict=True
    )
    narrowed = SearchRequest(request.resource_type, request.filters, limit, total="none")
    return [record.resource() for record in (await search_type(store, policy, narrowed)).page.records]
