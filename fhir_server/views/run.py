"""A view over the stored resources of its type, under the caller's access, as an async generator.

The resources are read through the engine's search planning: the caller's access clauses
(engine/access.py: a patient token reaches only its compartment, a user scope only what its role
may read, a type it may not read is a 403 before any row) are ANDed into one storage query, walked
in id order one page at a time, so memory holds one page whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..auth.policy import AccessPolicy
from ..engine.search import access_filter, planned_query
from ..storage import ResourceStore
from .definition import View, compile_view
from .rows import compiled_rows

PAGE = 500


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
    produced = 0
    after: str | None = None
    while limit is None or produced < limit:
        records = await store.find(replace(query, after=after), PAGE)
        resources = [record.resource() for record in records if record.body is not None]
        for row in compiled_rows(compiled, resources):
            yield row
            produced += 1
            if limit is not None and produced >= limit:
                return
        if len(records) < PAGE:
            return
        after = records[-1].id
