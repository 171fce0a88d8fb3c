"""What the materialized views are built from, read through the engine with the reports' own access.

The rows are shared by every caller of a report, so they are read with a trusted policy; who may see
them is decided when a report is run (access.py). The first build reads every current resource of
the view's type (keyset paging, flat memory per page); later refreshes read the type's history since
the last one (`_since`), which also lists deletions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from ..auth.policy import AccessPolicy
from ..engine import HistoryRequest, history, search_type
from ..search.registry import default_registry
from ..search.request import parse_search_request
from ..storage import ResourceStore, StoredResource

READER = AccessPolicy.system("reports")
PAGE = 1000


async def current(store: ResourceStore, resource_type: str) -> AsyncIterator[StoredResource]:
    """Every current resource of `resource_type`, in id order."""
    request = parse_search_request(
        resource_type, [("_count", str(PAGE)), ("_total", "none")], default_registry(),
        default_count=PAGE, max_count=PAGE, strict=True,
    )  # fmt: skip
    while True:
        result = await search_type(store, READER, request)
        for record in result.page.records:
            yield record
        if result.page.next_cursor is None:
            return
        request = replace(request, cursor=result.page.next_cursor)


async def latest_changes(
    store: ResourceStore, resource_type: str, since: datetime, most: int
) -> dict[str, StoredResource] | None:
    """The newest version (possibly a deletion) of each resource of the type changed since `since`;
    None when more than `most` versions were written since (reading them all would cost more than a rebuild)."""
    newest: dict[str, StoredResource] = {}
    cursor: str | None = None
    while True:
        page = await history(store, READER, HistoryRequest(resource_type, None, since, None, PAGE, cursor, ()))
        if page.total is not None and page.total > most:
            return None
        for record in page.records:
            newest.setdefault(record.id, record)
        if page.next_cursor is None:
            return newest
        cursor = page.next_cursor
