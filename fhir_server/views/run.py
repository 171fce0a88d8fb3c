"""A view over the stored resources of its type, under the caller's access, as an async generator.

The resources are read through the engine's search planning: the caller's access clauses
(engine/access.py: a patient token reaches only its compartment, a user scope only what its role
may read, a type it may not read is a 403 before any row), `patient` and `_since` are ANDed into one
storage query, walked in id order through ONE server-side cursor read `BATCH` resources at a time
(memory holds one batch whatever the number of rows). One cursor rather than a query per page: on
the embedded database each query has a large fixed cost (seconds under load), a getMore does not.
The cursor's database time is capped at `DATABASE_TIME_MS` (`maxTimeMS`; over it the run stops
with TooCostly).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from ..auth.policy import AccessPolicy
from ..engine.search import access_filter, planned_query
from ..storage import ResourceStore
from .definition import View, compile_view
from .rows import compiled_rows

BATCH = 2000
"""Resources read per getMore: memory holds one batch (about 4 MB of ~2 KB resources), whatever the row count."""

DATABASE_TIME_MS = 600_000
"""Database time one view run may take (`maxTimeMS` of its cursor): ten minutes, millions of resources."""


async def run_view(
    store: ResourceStore,
    policy: AccessPolicy,
    view: dict[str, Any] | View,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    patients: Sequence[str] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """The rows of `view` over the stored current resources of its type that `policy` may read.

    `since`: only resources updated at or after it. `limit`: at most this many rows. `patients`:
    only resources in these patients' compartments (ids, "Patient/" optional; an empty list: none).
    Raises InvalidView for a broken view and Forbidden (403) when the caller may not read the type,
    both before the first row; ViewRuntimeError (422) where a resource cannot be turned into rows.
    """
    compiled = view if isinstance(view, View) else compile_view(view)
    clauses = list(await access_filter(store, policy, "r", compiled.resource))
    if since is not None:
        clauses.append({"lastUpdated": {"$gte": since}})
    if patients is not None:
        clauses.append({"compartments": {"$in": [f"Patient/{p.removeprefix('Patient/')}" for p in patients]}})
    query = planned_query(compiled.resource, clauses)
    if limit is not None and limit < 1:
        return
    produced = 0
    batches = store.stream(query, BATCH, DATABASE_TIME_MS)
    try:
        async for records in batches:
            for row in compiled_rows(compiled, [record.resource() for record in records if record.body is not None]):
                yield row
                produced += 1
                if limit is not None and produced >= limit:
                    return
    finally:
        await batches.aclose()
