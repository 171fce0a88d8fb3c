"""The one write path: stamp a new version and commit it against the version it replaces.

Optimistic concurrency: read the current version, build the next one, and let storage
commit it only if the current version is still the one read. With `If-Match` a lost race
is a 412; without it the write is retried on the new current version, so concurrent
updates produce consecutive versions with no gap and no lost write.

`next_version` refuses a version too big to store (stored_size.py) before anything is written:
the body alone before its index is extracted, then the body with its index.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..auth.policy import AccessPolicy
from ..errors import PreconditionFailed, StorageUnavailable, VersionConflict
from ..fhir_json import dumps
from ..i18n import _
from ..search.extract import extract_index
from ..search.plan import plan_filter
from ..storage import ConditionLock, PendingWrite, ResourceStore, StoredResource, WriteRefused
from .access import check_write, refused_write, write_permission
from .identity import format_instant, now
from .observers import commit_writes
from .results import WriteResult
from .rules import RefusedByRule
from .search import access_filter, current_meets
from .stored_size import check_stored_size

_MAX_ATTEMPTS = 200

BuildBody = Callable[[StoredResource | None], dict[str, Any] | None]
"""Given the current version (or None), return the next body, or None for a deletion."""


def stamp(body: dict[str, Any], resource_id: str, version_id: int, last_updated_text: str) -> dict[str, Any]:
    """The resource with the server-owned fields set: id, meta.versionId, meta.lastUpdated."""
    meta = dict(body.get("meta") or {})
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = last_updated_text
    stamped = {"resourceType": body["resourceType"], "id": resource_id, "meta": meta}
    stamped.update((k, v) for k, v in body.items() if k not in stamped)
    return stamped


def search_fields(resource: dict[str, Any] | None) -> dict[str, Any]:
    """The search index entries and keys, sort keys and compartments stored with a current version
    (a deletion, `resource` None: none; `next_version` gives it those of the version it deletes)."""
    if resource is None:
        return {"idx": [], "keys": [], "sort": {}, "compartments": []}
    index = extract_index(resource)
    return {"idx": index.entries, "keys": index.keys, "sort": index.sort, "compartments": index.compartments}


def _precondition_failed(reference: str, expected: int, current: StoredResource | None) -> PreconditionFailed:
    found = str(current.version_id) if current and not current.deleted else _("none")
    return PreconditionFailed(
        _("{reference}: If-Match asked for version {expected} but the current version is {found}.").format(
            reference=reference, expected=expected, found=found
        )
    )


def next_version(
    resource_type: str,
    resource_id: str,
    body: dict[str, Any] | None,
    current: StoredResource | None,
    method: str,
    must_match: dict[str, Any] | None = None,
) -> PendingWrite:
    """The version that follows `current` (None: there is none), holding `body` (None: a deletion).

    `must_match`: criteria the new version must meet once written (see `guard_write`)."""
    version_id = current.version_id + 1 if current else 1
    moment = now()
    if current is not None and moment <= current.last_updated:
        moment = current.last_updated + timedelta(milliseconds=1)
    stamped = None if body is None else stamp(body, resource_id, version_id, format_instant(moment))
    encoded = None if stamped is None else dumps(stamped)
    if encoded is not None:
        check_stored_size(resource_type, encoded, None)
    record = StoredResource(
        resource_type=resource_type,
        id=resource_id,
        version_id=version_id,
        last_updated=moment,
        deleted=body is None,
        body=encoded,
        method=method,
    )
    fields, entries = search_fields(stamped), None
    if encoded is not None:
        check_stored_size(resource_type, encoded, fields)
    if stamped is None and current is not None and current.body:
        # A deletion is found by no search, but keeps the compartments (patient-scoped history and reads
        # still see it as theirs) and, in history, the search entries of the version it deletes.
        deleted = extract_index(current.resource())
        fields["compartments"], entries = deleted.compartments, deleted.entries
    replaces = current.version_id if current else None
    return PendingWrite(record, replaces, fields, entries, must_match, replaced=current)


async def guard_write(
    store: ResourceStore,
    policy: AccessPolicy,
    method: str,
    resource_type: str,
    resource_id: str,
    current: StoredResource | None,
    body: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """Check that `policy` lets this write change `current` into `body` (None: a deletion).

    Compartments are checked on the resources (engine/access.py); under a granular scope the stored
    version must match the scope's query now, and the criteria the new version must meet once
    written are returned (None: none), for storage to check inside the write's transaction.
    Raises Forbidden (403).
    """
    check = check_write(policy, method, resource_type, resource_id, current, body)
    if check is None:
        return None
    clauses = await access_filter(store, policy, check.permission, resource_type)
    if check.current and not await current_meets(store, resource_type, resource_id, clauses):
        raise refused_write(policy, check.permission, resource_type, resource_id, stored=True)
    return plan_filter(resource_type, clauses).criteria if check.new else None


def check_if_match(reference: str, if_match: int | None, current: StoredResource | None) -> None:
    """Raise PreconditionFailed when `if_match` names a version other than the current one."""
    if if_match is not None and (current is None or current.deleted or current.version_id != if_match):
        raise _precondition_failed(reference, if_match, current)


async def commit_version(
    store: ResourceStore,
    policy: AccessPolicy,
    resource_type: str,
    resource_id: str,
    build: BuildBody,
    *,
    if_match: int | None,
    method: str,
    new_id: bool = False,
    lock: ConditionLock | None = None,
) -> WriteResult:
    """Write the next version of `resource_type/resource_id`, retrying lost races unless `if_match` is set.

    `new_id` says the id was just made up by the server, so there is no current version to read.
    With a `lock` (conditional create) a lost race is not retried here but raised as
    VersionConflict: the caller must search again before writing. Raises Forbidden when `policy`
    does not allow changing the current version into the new one (engine/access.py).
    """
    reference = f"{resource_type}/{resource_id}"
    for attempt in range(_MAX_ATTEMPTS):
        current = None if new_id and attempt == 0 else await store.get(resource_type, resource_id)
        check_if_match(reference, if_match, current)
        body = build(current)
        must_match = await guard_write(store, policy, method, resource_type, resource_id, current, body)
        pending = next_version(resource_type, resource_id, body, current, method, must_match)
        try:
            await commit_writes(store, [pending], policy=policy, locks=() if lock is None else (lock,))
        except RefusedByRule as exc:
            raise exc.error from None
        except WriteRefused:
            permission = write_permission(method, current)
            raise refused_write(policy, permission, resource_type, resource_id, stored=False) from None
        except VersionConflict:
            if lock is not None:
                raise
            if if_match is not None:  # a 412 if the version changed; a lost write rule's lock is retried
                check_if_match(reference, if_match, await store.get(resource_type, resource_id))
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
            continue
        return WriteResult(record=pending.record, created=current is None or current.deleted)
    raise StorageUnavailable(
        _("{reference} is being changed by too many requests at once; try again.").format(reference=reference)
    )
