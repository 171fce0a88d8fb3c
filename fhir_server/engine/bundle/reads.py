"""What each Bundle entry produced, and the reads (GET) a batch or transaction asks for."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from ...auth.policy import AccessPolicy
from ...errors import FhirError
from ...search.registry import default_registry
from ...search.request import parse_search_request
from ...storage import ResourceStore, StoredResource
from ..read import read_resource, read_version
from ..search import SearchResult, search_type
from .entries import BundleEntry

PAGE_SIZE = 50


@dataclass
class EntryResult:
    """One entry's outcome: its HTTP status line and what goes in `response` (and `resource`)."""

    status: str
    record: StoredResource | None = None
    location: bool = False
    search: SearchResult | None = None
    outcome: FhirError | None = None


def failed(exc: FhirError) -> EntryResult:
    return EntryResult(f"{exc.status}", outcome=exc)


def _not_modified(entry: BundleEntry, record: StoredResource) -> bool:
    if entry.if_none_match is not None:
        return entry.if_none_match.strip().removeprefix("W/").strip('"') == str(record.version_id)
    if entry.if_modified_since is not None:
        try:
            return record.last_updated.replace(microsecond=0) <= parsedate_to_datetime(entry.if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


async def read_entry(store: ResourceStore, policy: AccessPolicy, entry: BundleEntry, base: str | None) -> EntryResult:
    """A read, vread or search entry; a failure is that entry's outcome, not the Bundle's."""
    try:
        if entry.resource_id is None:
            request = parse_search_request(
                entry.resource_type, entry.query, default_registry(), default_count=PAGE_SIZE, max_count=1000,
                strict=True,
            )  # fmt: skip
            return EntryResult("200 OK", search=await search_type(store, policy, request, base_url=base))
        if entry.version is not None:
            record = await read_version(store, policy, entry.resource_type, entry.resource_id, entry.version)
        else:
            record = await read_resource(store, policy, entry.resource_type, entry.resource_id)
        if _not_modified(entry, record):
            return EntryResult("304 Not Modified", record)
        return EntryResult("200 OK", record)
    except FhirError as exc:
        return failed(exc)
