"""The storage contract the engine codes against. Nothing here knows about HTTP or the driver."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .records import StoredResource


@dataclass(frozen=True)
class HistoryQuery:
    """Which versions a history interaction asks for; newest first.

    `at` keeps the versions that were current at some moment of [at_start, at_end).
    `after` is the keyset cursor (last_updated, key) of the previous page's last entry.
    `criteria` is an access filter over the fields every version carries (`type`, `compartments`:
    the patient compartments of that version; a deletion keeps those of the version it deletes)
    and, on versions meeting `VERSION_SEARCHABLE`, `idx`: the search entries of that version (a
    deletion: of the version it deletes), so a granular scope's compiled query runs on them too.
    `version` picks one version (vread).
    """

    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    at_start: datetime | None = None
    at_end: datetime | None = None
    after: tuple[datetime, str] | None = None
    criteria: Mapping[str, Any] | None = None
    version: int | None = None


@dataclass(frozen=True)
class CurrentQuery:
    """A query over current (not deleted) resources of one type.

    `criteria` is a storage filter built by search/ from the typed search request; `ids`
    restricts the result to those logical ids (the `_id` parameter). Without `sort` the
    results come in id order and pages are cut by keyset (`after`: the last id seen), so
    they stay stable while others write; with `sort` (stored field paths such as
    `sort.birthdate` or `lastUpdated`, with 1 or -1) pages are cut by `offset`.
    """

    resource_type: str
    criteria: Mapping[str, Any]
    ids: tuple[str, ...] | None = None
    after: str | None = None
    sort: tuple[tuple[str, int], ...] = ()
    offset: int = 0
    driver: Mapping[str, Any] | None = None
    """Plain conditions an index can answer, implied by `criteria`: candidates are found with them first."""


@dataclass(frozen=True)
class PendingWrite:
    """One version to store in a multi-resource write: the record, the version it replaces, its search fields."""

    record: StoredResource
    replaces: int | None
    index: Mapping[str, Any]
    version_entries: Sequence[Mapping[str, Any]] | None = None
    """The search entries (`idx`) its history entry keeps; None: those of `index` (a deletion passes
    the entries of the version it deletes)."""
    must_match: Mapping[str, Any] | None = None
    """Criteria over current resources the new version must meet once written, checked inside the
    write's transaction (a granular scope's query); when it does not, nothing is written (WriteRefused)."""
    replaced: StoredResource | None = None
    """The version `replaces` names, when the writer read it already (write rules then need not read it again)."""


class WriteRefused(Exception):
    """A write's new version did not meet its `must_match` criteria; the transaction was aborted."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference


Combine = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
"""Makes fewer documents of several linked documents of one collection (see `LinkedDocument.combine`)."""


@dataclass(frozen=True)
class LinkedDocument:
    """A document for another collection, inserted in the same transaction as the versions it follows.

    Write observers (engine/observers.py) return these: an outbox entry, an audit record. The
    resource collections themselves are out of bounds.
    """

    collection: str
    document: Mapping[str, Any]
    if_absent: bool = False
    """Insert only if no document has this `_id` yet (an idempotency key: the same key twice is one document)."""
    combine: Combine | None = None
    """When several writes commit together (commit_group.py), the documents of one collection with the same
    `combine` go in as what it makes of them all: the audit records of a group as one pack."""


@dataclass(frozen=True)
class LinkedUpdate:
    """An update of the documents of another collection matching `match`, in the same transaction as the
    versions it follows (a reminder re-timed or cancelled with its appointment)."""

    collection: str
    match: Mapping[str, Any]
    update: Mapping[str, Any]


Linked = LinkedDocument | LinkedUpdate
"""What a write carries into its transaction besides its versions."""


@dataclass(frozen=True)
class ConditionLock:
    """Serializes conditional creates with the same criteria (see `ResourceStore.write_all`).

    `key` names the criteria; `seen` is the lock's counter read before searching (None: no lock yet).
    The lock is optimistic: nothing is held between that read and the commit, so a crashed writer
    leaves nothing behind but, at worst, its open database transaction, which the database aborts
    (MongoDB's transactionLifetimeLimitSeconds, 60 s by default).
    """

    key: str
    seen: int | None


class ResourceStore(Protocol):
    """Versioned FHIR resources. Every write is atomic and checked against the version it replaces."""

    async def get(self, resource_type: str, resource_id: str) -> StoredResource | None:
        """The current version (possibly a deletion), or None if the resource never existed."""
        ...

    async def get_version(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource | None:
        """One version from history, or None."""
        ...

    async def write(
        self,
        record: StoredResource,
        *,
        replaces: int | None,
        index: Mapping[str, Any] | None = None,
        lock: ConditionLock | None = None,
    ) -> None:
        """Store `record` as the new current version and add it to history, in one transaction.

        `replaces` is the version the write expects to be current (None: the resource must not
        exist yet). `index` holds the search fields stored with the current version. With a
        `lock`, the write is checked against it as in `write_all`.
        Raises VersionConflict when another write got there first.
        """
        ...

    async def write_all(
        self,
        writes: Sequence[PendingWrite],
        *,
        locks: Sequence[ConditionLock] = (),
        linked: Sequence[Linked] = (),
    ) -> None:
        """Store several versions in one transaction: all of them, or (VersionConflict) none.

        Each of the `locks` must still have the counter `seen` and is advanced in the same
        transaction, so of two conditional creates that both found no match only one commits. They
        are taken in key order, so two writes holding the same keys in any order collide on the
        first one they share rather than each taking one of them.

        `linked` documents are inserted in the same transaction (a duplicate `_id` among them is a
        VersionConflict too, unless the document is `if_absent`), so they exist exactly when the versions
        do; `if_absent` documents and `LinkedUpdate`s are applied after the plain inserts, in their order.
        """
        ...

    async def condition_counters(self, keys: Sequence[str]) -> dict[str, int]:
        """The counters of these ConditionLocks; a lock never taken is left out."""
        ...

    async def get_many(self, keys: Sequence[str], *, deleted: bool = False) -> list[StoredResource]:
        """Current resources by "Type/id" key (missing ones, and deleted ones unless `deleted`, are left out)."""
        ...

    async def find_ids(self, query: CurrentQuery, limit: int) -> list[str]:
        """The logical ids of the matches, for chained searches."""
        ...

    async def scan(self, resource_type: str, after: str | None, limit: int) -> list[StoredResource]:
        """Current, not deleted, resources of a type in id order after id `after` (for re-indexing)."""
        ...

    async def set_search_fields(self, record: StoredResource, index: Mapping[str, Any]) -> bool:
        """Replace the search fields of `record` if it is still the current version; False if it changed."""
        ...

    async def references_of(self, query: CurrentQuery, code: str | None, limit: int) -> list[str]:
        """The distinct references ("Type/id" or URLs) that parameter `code` (None: any) holds in the matches."""
        ...

    async def history(self, query: HistoryQuery, limit: int) -> list[StoredResource]: ...

    async def count_history(self, query: HistoryQuery) -> int: ...

    async def find(self, query: CurrentQuery, limit: int) -> list[StoredResource]: ...

    async def count(self, query: CurrentQuery) -> int: ...

    def stream(self, query: CurrentQuery, batch: int, time_ms: int) -> AsyncGenerator[list[StoredResource]]:
        """Every resource `find` would return over all its pages, in id order, through one server-side cursor,
        in lists of up to `batch` (memory holds one); `time_ms` caps the cursor's database time (0: none)."""
        ...

    def time_limit(self, milliseconds: int) -> AbstractContextManager[None]:
        """Within the block, every query together gets `milliseconds` of database time (0: no limit):
        each is sent with what is left as its `maxTimeMS`, and one that runs out raises TooCostly."""
        ...

    async def narrow(self, query: CurrentQuery) -> CurrentQuery:
        """The same query with its driver's index candidates looked up once (`ids`), so a count and
        a page of the same search do not each repeat that lookup."""
        ...

    async def find_compartment(
        self,
        compartments: Sequence[str] | None,
        types: Sequence[str] | None,
        since: datetime | None,
        after: str | None,
        limit: int,
        criteria: Mapping[str, Any] | None = None,
    ) -> list[StoredResource]:
        """Current resources of every type in any of the patient `compartments` ("Patient/123"), in key order.

        `compartments` None: in any patient's compartment. `types` None: all types. `since`: updated at or
        after it. `after` is the keyset cursor: the "Type/id" key of the previous page's last resource.
        `criteria`: a further filter they must meet (an access filter).
        """
        ...

    async def count_compartment(
        self,
        compartments: Sequence[str] | None,
        types: Sequence[str] | None,
        since: datetime | None,
        criteria: Mapping[str, Any] | None = None,
    ) -> int:
        """How many resources `find_compartment` would return over all pages."""
        ...

    async def adopt_search_layout(self, changed: datetime) -> bool:
        """Record this server's search-field layout as the database's (at `changed`); True when stored
        resources have another layout and need re-indexing (True for only one of several callers)."""
        ...

    async def search_layout_changed(self) -> datetime | None:
        """When the layout last changed on a database holding resources (None: never)."""
        ...

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers."""
        ...
