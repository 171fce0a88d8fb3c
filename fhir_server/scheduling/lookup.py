"""Searches the workflow makes on the server's own authority (an invariant or a free time spans every patient)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..auth.policy import AccessPolicy
from ..engine import search_type
from ..search.registry import default_registry
from ..search.request import parse_search_request
from ..storage import ResourceStore

SCHEDULING = AccessPolicy.system("scheduling")
PAGE = 1000


async def each(
    store: ResourceStore, resource_type: str, criteria: Sequence[tuple[str, str]]
) -> AsyncIterator[dict[str, Any]]:
    """Every current resource matching search `criteria` (a `_sort` among them: in that order), page by page."""
    position = "_offset" if any(name == "_sort" for name, _value in criteria) else "_cursor"
    cursor: str | None = None
    while True:
        query = [*criteria, ("_count", str(PAGE)), ("_total", "none"), *(((position, cursor),) if cursor else ())]
        request = parse_search_request(
            resource_type, query, default_registry(), default_count=PAGE, max_count=PAGE, strict=True
        )
        result = await search_type(store, SCHEDULING, request)
        for record in result.page.records:
            yield record.resource()
        cursor = result.page.next_cursor
        if not cursor:
            return


async def find_all(
    store: ResourceStore, resource_type: str, criteria: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Every current resource matching search `criteria`."""
    return [resource async for resource in each(store, resource_type, criteria)]
