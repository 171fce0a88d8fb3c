"""FHIR batch: each entry on its own, with its own status or OperationOutcome. https://hl7.org/fhir/R4/http.html#transaction"""

from __future__ import annotations

from typing import Any

from ...auth.policy import AccessPolicy
from ...errors import FhirError
from ...storage import ResourceStore
from ..conditional import conditional_create, conditional_delete, conditional_patch, conditional_update
from ..create import create_resource
from ..delete import delete_resource
from ..patch_resource import patch_resource
from ..results import WriteResult
from ..update import update_resource
from .entries import BundleEntry, parse_entry
from .reads import EntryResult, failed, read_entry


def _written(result: WriteResult) -> EntryResult:
    return EntryResult("201 Created" if result.created else "200 OK", result.record, location=True)


async def _write(store: ResourceStore, policy: AccessPolicy, entry: BundleEntry) -> EntryResult:
    kind, resource_id = entry.resource_type, entry.resource_id
    if entry.method == "POST":
        if entry.if_none_exist:
            return _written(await conditional_create(store, policy, kind, entry.resource, entry.if_none_exist))
        return _written(await create_resource(store, policy, kind, entry.resource))
    if entry.method == "PUT":
        if resource_id is None:
            return _written(
                await conditional_update(store, policy, kind, entry.resource, entry.criteria or [], entry.if_match)
            )
        return _written(
            await update_resource(store, policy, kind, resource_id, entry.resource, if_match=entry.if_match)
        )
    if entry.method == "PATCH":
        patch_format, document = entry.patch_document()
        if resource_id is None:
            return _written(
                await conditional_patch(
                    store, policy, kind, patch_format, document, entry.criteria or [], entry.if_match
                )
            )
        return _written(
            await patch_resource(store, policy, kind, resource_id, patch_format, document, if_match=entry.if_match)
        )
    if resource_id is None:
        await conditional_delete(store, policy, kind, entry.criteria or [])
        return EntryResult("204 No Content")
    deleted = await delete_resource(store, policy, kind, resource_id, if_match=entry.if_match)
    return EntryResult("204 No Content", deleted.record if deleted else None)


async def process_batch(
    store: ResourceStore, policy: AccessPolicy, raw_entries: list[Any], base: str | None
) -> list[EntryResult]:
    """Run each entry independently, in order; a failure is reported in that entry only."""
    results = []
    for index, raw in enumerate(raw_entries):
        try:
            entry = parse_entry(index, raw, base)
            if entry.method in ("GET", "HEAD"):
                results.append(await read_entry(store, policy, entry, base))
            else:
                results.append(await _write(store, policy, entry))
        except FhirError as exc:
            results.append(failed(exc))
    return results
