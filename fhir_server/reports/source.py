"""What the materialized views are built from, read through the engine with the reports' own access.

The rows are shared by every caller of a report, so they are read with a trusted policy; who may see
them is decided when a report is run (access.py). The first build reads every current resource of
the view's type (one cursor, flat memory per batch); later refreshes read the type's history since
the last one (`_since`), which also lists deletions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from ..auth.policy import AccessPolicy
from ..engine import HistoryRequest, history
from ..engine.search import access_filter, planned_query
from ..storage import ResourceStore, StoredResource

READER = AccessPolicy.system("reports")
PAGE = 500


async def current(store: ResourceStore, resource_type: str) -> AsyncIterator[StoredResource]:
    """Every current resource of `resource_type`, in id order, through one server-side cursor (as
    views/run.py reads them; flat memory per batch): no database time limit, which is meant for one
    client page, not a scan."""
    query = planned_query(resource_type, list(await access_filter(store, READER, "r", resource_type)))
    async for records in store.stream(query, PAGE, 0):
        for record in records:
            if record.body is not None:
                yield record


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
