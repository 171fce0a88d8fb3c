"""Reads the prescribing workflow makes: current resources by reference or by search criteria, with a
policy given by the caller (a write rule and the safety checks see every resource of the patient)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine.read import read_resource
from ...engine.search import search_type
from ...errors import InvalidRequest, ResourceDeleted, ResourceNotFound
from ...search.registry import default_registry
from ...search.request import SearchRequest, parse_search_request
from ...storage import ResourceStore

WORKFLOW = AccessPolicy.system("prescribing")
"""The workflow's own reads: an invariant or a safety check covers every record, not only those the caller sees."""


async def read_reference(
    store: ResourceStore, reference: str, policy: AccessPolicy = WORKFLOW
) -> dict[str, Any] | None:
    """The current resource a relative reference ("Type/id") names; None when there is none or it is malformed."""
    resource_type, _sep, resource_id = reference.partition("/")
    if not resource_type or not resource_id or "/" in resource_id:
        return None
    try:
        return (await read_resource(store, policy, resource_type, resource_id)).resource()
    except (ResourceNotFound, ResourceDeleted, InvalidRequest):
        return None


async def find(
    store: ResourceStore,
    resource_type: str,
    criteria: Sequence[tuple[str, str]],
    limit: int = 100,
    policy: AccessPolicy = WORKFLOW,
) -> list[dict[str, Any]]:
    """Up to `limit` current resources matching search `criteria` (indexed search parameters)."""
    request = parse_search_request(
        resource_type, criteria, default_registry(), default_count=limit, max_count=limit, strict=True
    )
    narrowed = SearchRequest(request.resource_type, request.filters, limit, total="none")
    return [record.resource() for record in (await search_type(store, policy, narrowed)).page.records]
