"""Conditional create, update, patch and delete. https://hl7.org/fhir/R4/http.html#cond-update

The criteria are a search. Two conditional creates with the same criteria may both find
nothing; a ConditionLock named after the criteria is advanced in the create's transaction,
so only one of them commits and the other searches again and finds the first one's resource.

The criteria only see what the caller's policy lets the interaction's permission reach (a
patient-scoped token's conditional update never matches another patient's resource).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..auth.policy import AccessPolicy
from ..errors import InvalidRequest, PreconditionFailed, ResourceNotFound, StorageUnavailable, VersionConflict
from ..i18n import _
from ..search.registry import default_registry
from ..search.request import SearchRequest, parse_search_request
from ..storage import ConditionLock, ResourceStore, StoredResource
from .delete import delete_resource
from .identity import check_id, new_id
from .patch_resource import PatchFormat, patch_resource
from .results import WriteResult
from .search import search_type
from .update import update_resource
from .validation import check_incoming, check_resource_type
from .writing import commit_version

MAX_CONDITIONAL_DELETES = 100
_ATTEMPTS = 50


def _criteria(resource_type: str, query: Sequence[tuple[str, str]]) -> SearchRequest:
    """The criteria as a strict search: an unknown parameter must not silently widen the match."""
    request = parse_search_request(
        resource_type, query, default_registry(), default_count=2, max_count=MAX_CONDITIONAL_DELETES + 1, strict=True
    )
    if not request.filters:
        raise InvalidRequest(_("A conditional interaction needs search criteria."), expression=resource_type)
    return request


async def find_matches(
    store: ResourceStore,
    policy: AccessPolicy,
    resource_type: str,
    criteria: Sequence[tuple[str, str]],
    limit: int,
    permission: str = "s",
) -> list[StoredResource]:
    """Up to `limit` current resources matching conditional criteria (strict: unknown parameters are errors)."""
    return await _matches(store, policy, _criteria(resource_type, criteria), limit, permission)


async def _matches(
    store: ResourceStore, policy: AccessPolicy, request: SearchRequest, limit: int, permission: str
) -> list[StoredResource]:
    narrowed = SearchRequest(request.resource_type, request.filters, limit, total="none")
    return (await search_type(store, policy, narrowed, permission=permission)).page.records


def _too_many(resource_type: str, found: int) -> PreconditionFailed:
    return PreconditionFailed(
        _("The criteria match {count} {type} resources; they must match at most one.").format(
            count=found, type=resource_type
        )
    )


def _lock_key(request: SearchRequest) -> str:
    criteria = sorted((f.name, ",".join(f.values)) for f in request.filters)
    return hashlib.sha256(repr((request.resource_type, criteria)).encode()).hexdigest()


def condition_key(resource_type: str, criteria: Sequence[tuple[str, str]]) -> str:
    """The key of the ConditionLock of these criteria: the same for the same parameters in any order.

    Raises InvalidRequest like `find_matches` (strict criteria).
    """
    return _lock_key(_criteria(resource_type, criteria))


async def _create_unless_matched(
    store: ResourceStore,
    policy: AccessPolicy,
    request: SearchRequest,
    write: Callable[[ConditionLock], Awaitable[WriteResult]],
) -> WriteResult:
    key = _lock_key(request)
    for _attempt in range(_ATTEMPTS):
        seen = (await store.condition_counters([key])).get(key)
        matches = await _matches(store, policy, request, 2, "c")
        if len(matches) > 1:
            raise _too_many(request.resource_type, len(matches))
        if matches:
            return WriteResult(record=matches[0], created=False)
        try:
            return await write(ConditionLock(key, seen))
        except VersionConflict:
            continue
    raise StorageUnavailable(_("Too many concurrent conditional writes; try again."))


async def conditional_create(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, body: Any, criteria: Sequence[tuple[str, str]]
) -> WriteResult:
    """Create `body` unless the criteria (`If-None-Exist`) match: one match is returned (created False)."""
    check_resource_type(resource_type)
    policy.require("c", resource_type)
    resource = check_incoming(body, resource_type, None)
    request = _criteria(resource_type, criteria)

    async def write(lock: ConditionLock) -> WriteResult:
        return await commit_version(
            store,
            policy,
            resource_type,
            new_id(),
            lambda _c: resource,
            if_match=None,
            method="POST",
            new_id=True,
            lock=lock,
        )

    return await _create_unless_matched(store, policy, request, write)


async def conditional_update(
    store: ResourceStore,
    policy: AccessPolicy,
    resource_type: str,
    body: Any,
    criteria: Sequence[tuple[str, str]],
    if_match: int | None,
) -> WriteResult:
    """PUT [type]?criteria: update the one match, create when none matches, 412 when several do."""
    check_resource_type(resource_type)
    request = _criteria(resource_type, criteria)
    body_id = body.get("id") if isinstance(body, dict) else None
    matches = await _matches(store, policy, request, 2, "u" if policy.allows("u", resource_type) else "c")
    if len(matches) > 1:
        raise _too_many(resource_type, len(matches))
    if matches:
        target = matches[0].id
        if body_id is not None and body_id != target:
            raise InvalidRequest(
                _("The id in the body ('{body_id}') is not the id of the matching resource ('{id}').").format(
                    body_id=str(body_id)[:80], id=target
                ),
                expression=f"{resource_type}.id",
            )
        return await update_resource(store, policy, resource_type, target, {**body, "id": target}, if_match=if_match)
    resource_id = check_id(str(body_id)) if body_id is not None else new_id()
    resource = check_incoming({**body, "id": resource_id}, resource_type, resource_id)

    async def write(lock: ConditionLock) -> WriteResult:
        return await commit_version(
            store, policy, resource_type, resource_id, lambda _c: resource, if_match=None, method="PUT", lock=lock
        )

    return await _create_unless_matched(store, policy, request, write)


async def conditional_patch(
    store: ResourceStore,
    policy: AccessPolicy,
    resource_type: str,
    patch_format: PatchFormat,
    document: Any,
    criteria: Sequence[tuple[str, str]],
    if_match: int | None,
) -> WriteResult:
    """PATCH [type]?criteria: patch the one match; 404 when none, 412 when several match."""
    check_resource_type(resource_type)
    matches = await _matches(store, policy, _criteria(resource_type, criteria), 2, "u")
    if len(matches) > 1:
        raise _too_many(resource_type, len(matches))
    if not matches:
        raise ResourceNotFound(_("No {type} matches the criteria.").format(type=resource_type))
    return await patch_resource(store, policy, resource_type, matches[0].id, patch_format, document, if_match=if_match)


async def conditional_delete(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, criteria: Sequence[tuple[str, str]]
) -> list[WriteResult]:
    """DELETE [type]?criteria: delete every match (at most MAX_CONDITIONAL_DELETES; more is a 412)."""
    check_resource_type(resource_type)
    matches = await _matches(store, policy, _criteria(resource_type, criteria), MAX_CONDITIONAL_DELETES + 1, "d")
    if len(matches) > MAX_CONDITIONAL_DELETES:
        raise _too_many(resource_type, len(matches))
    results = []
    for record in matches:
        result = await delete_resource(store, policy, resource_type, record.id)
        if result is not None:
            results.append(result)
    return results
