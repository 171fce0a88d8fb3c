"""FHIR read and vread interactions. https://hl7.org/fhir/R4/http.html#read

A resource the caller's policy does not reach (another patient's, or outside a granular
scope's query) is answered like one that does not exist (404), so a token cannot probe which
ids exist; a type or interaction the token has no scope for at all is a 403.
"""

from __future__ import annotations

from ..auth.policy import EVERYTHING, AccessPolicy
from ..errors import InvalidRequest, ResourceDeleted, ResourceNotFound
from ..i18n import _
from ..storage import HistoryQuery, ResourceStore, StoredResource
from .access import type_criteria, version_compartments
from .identity import check_id
from .search import current_meets, search_planner
from .validation import check_resource_type


def _etag(record: StoredResource) -> dict[str, str]:
    return {"ETag": f'W/"{record.version_id}"'}


async def visible(store: ResourceStore, policy: AccessPolicy, record: StoredResource, *, past: bool = False) -> bool:
    """Whether `policy` lets its caller read this version: its compartments (a deletion: those of the
    body it deleted) must fit a scope, and a granular scope's query must match it: the current resource,
    or (`past`: a version from history that is no longer current) the search entries that version keeps."""
    reaches = policy.reaches("r", record.resource_type)
    if reaches == EVERYTHING:
        return True
    body = record.resource() if not record.deleted else None
    if record.deleted and record.version_id > 1:
        previous = await store.get_version(record.resource_type, record.id, record.version_id - 1)
        body = previous.resource() if previous is not None else None
    compartments = version_compartments(record, body)
    fitting = [reach for reach in reaches if reach.compartment is None or reach.compartment in compartments]
    if not fitting or any(not reach.query for reach in fitting):
        return bool(fitting)
    if past:
        latest = await store.get(record.resource_type, record.id)
        past = latest is None or latest.version_id != record.version_id
    planner = search_planner(store, policy)
    if past:
        criteria = await type_criteria(policy, "r", [record.resource_type], planner.clauses)
        found = HistoryQuery(record.resource_type, record.id, criteria=criteria, version=record.version_id)
        return await store.count_history(found) > 0
    access = await planner.access("r", record.resource_type)
    return await current_meets(store, record.resource_type, record.id, access)


def _not_found(resource_type: str, resource_id: str) -> ResourceNotFound:
    return ResourceNotFound(_("{type}/{id} was not found.").format(type=resource_type, id=resource_id))


async def read_resource(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, resource_id: str
) -> StoredResource:
    """The current version. Raises Forbidden (403), ResourceNotFound (404) or ResourceDeleted (410)."""
    check_resource_type(resource_type)
    check_id(resource_id)
    policy.require("r", resource_type)
    record = await store.get(resource_type, resource_id)
    if record is None or not await visible(store, policy, record):
        raise _not_found(resource_type, resource_id)
    if record.deleted:
        raise ResourceDeleted(
            _("{type}/{id} was deleted.").format(type=resource_type, id=resource_id), headers=_etag(record)
        )
    return record


async def read_version(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, resource_id: str, version: str
) -> StoredResource:
    """One version from history. Raises Forbidden (403), ResourceNotFound (404) or ResourceDeleted (410)."""
    check_resource_type(resource_type)
    check_id(resource_id)
    if not version.isdigit() or len(version) > 18:
        raise InvalidRequest(_("'{version}' is not a version id of this server.").format(version=version[:40]))
    policy.require("r", resource_type)
    record = await store.get_version(resource_type, resource_id, int(version))
    if record is None or not await visible(store, policy, record, past=True):
        raise ResourceNotFound(
            _("{type}/{id} has no version {version}.").format(type=resource_type, id=resource_id, version=version)
        )
    if record.deleted:
        raise ResourceDeleted(
            _("Version {version} of {type}/{id} is a deletion.").format(
                type=resource_type, id=resource_id, version=version
            ),
            headers=_etag(record),
        )
    return record
