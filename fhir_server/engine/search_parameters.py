"""SearchParameter resources written at run time extend the search registry of every worker.

A SearchParameter is checked and registered before it is stored (a bad one is refused with
400), so the worker that accepted it can search on it at once. Every worker also re-reads
recently changed SearchParameter resources in the background (`keep_registry_fresh`), and
learns when the last `$reindex` finished, so results on a new parameter carry a warning
until existing resources have been re-indexed for it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ..errors import FhirError
from ..search.registry import SearchRegistry, default_registry
from ..storage import CurrentQuery, ResourceStore
from ..storage.jobs import MongoJobStore
from .identity import now

log = logging.getLogger(__name__)

REINDEX = "reindex"


def admit_search_parameter(resource: dict[str, Any], registry: SearchRegistry | None = None) -> None:
    """Register an incoming SearchParameter (unless retired). Raises InvalidRequest if it is unusable."""
    if resource.get("status") == "retired":
        return
    (registry or default_registry()).register(resource, defined_at=now())


async def load_search_parameters(
    store: ResourceStore, registry: SearchRegistry, since: datetime | None = None
) -> datetime | None:
    """Register the stored SearchParameters changed after `since`; return the newest change seen."""
    criteria: dict[str, Any] = {"lastUpdated": {"$gt": since}} if since else {}
    newest = since
    after = None
    while True:
        batch = await store.find(CurrentQuery("SearchParameter", criteria, after=after), 500)
        for record in batch:
            newest = record.last_updated if newest is None else max(newest, record.last_updated)
            resource = record.resource()
            if resource.get("status") == "retired":
                continue
            try:
                registry.register(resource, defined_at=record.last_updated)
            except FhirError as exc:
                log.warning("stored SearchParameter not usable", extra={"id": record.id, "reason": str(exc)})
        if len(batch) < 500:
            return newest
        after = batch[-1].id


async def keep_registry_fresh(
    store: ResourceStore, jobs: MongoJobStore, registry: SearchRegistry, interval: float = 2.0
) -> None:
    """Forever: pick up SearchParameters other workers stored, the last finished `$reindex` and layout change."""
    since = await load_search_parameters(store, registry)
    while True:
        await asyncio.sleep(interval)
        try:
            since = await load_search_parameters(store, registry, since)
            registry.layout_changed_at = await store.search_layout_changed()
            finished = await jobs.last_completed(REINDEX)
            if finished is not None:
                registry.reindexed_at = finished.created
        except FhirError as exc:
            log.warning("search registry refresh failed", extra={"reason": str(exc)})
