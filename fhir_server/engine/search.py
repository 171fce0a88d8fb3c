"""FHIR search interaction at type level. https://hl7.org/fhir/R4/http.html#search"""

from __future__ import annotations

from dataclasses import replace

from ..search.compile import compile_search
from ..search.request import SearchRequest
from ..storage import ResourceStore
from .identity import now
from .results import Page
from .validation import check_resource_type


async def search_type(store: ResourceStore, request: SearchRequest) -> Page:
    """One page of current resources matching `request`, in id order, with the total unless `_total=none`."""
    check_resource_type(request.resource_type)
    query = compile_search(request, now())
    total = None
    if request.total != "none" or request.summary_count:
        total = await store.count(replace(query, after=None))
    if request.summary_count or request.count == 0:
        return Page([], total, None)
    records = await store.find(query, request.count + 1)
    more = len(records) > request.count
    records = records[: request.count]
    return Page(records, total, records[-1].id if more and records else None)
