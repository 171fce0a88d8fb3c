"""ResourceStore on MongoDB through PyMongo's native async driver.

Two collections: `resources` holds the current version of every resource (deletions
included, flagged), `history` holds every version ever written. A write changes both in
one transaction, guarded by the version it replaces, so concurrent writers cannot lose
or duplicate a version. No pymongo exception leaves this module (see `mongo_errors`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
)

from ..errors import StorageUnavailable, TooCostly, VersionConflict
from ..i18n import _
from .codec import DECIMAL_TYPES, BodyCodec, PlainCodec
from .commit_group import CommitGroup, WriteCall
from .filters import flatten
from .point_reads import PointReads
from .records import StoredResource
from .store import (
    Combine,
    ConditionLock,
    CurrentQuery,
    HistoryQuery,
    Linked,
    LinkedDocument,
    LinkedUpdate,
    PendingWrite,
    WriteRefused,
)

_WRITE_CONFLICT = 112
_DUPLICATE_KEY = 11000


_TIME_LIMITED: ContextVar[bool] = ContextVar("time_limited", default=False)
"""Whether the queries under way run under `time_limit` (a network timeout then means the limit ran out)."""


def _out_of_time() -> TooCostly:
    return TooCostly(
        _("The search took longer than this server allows; narrow it down (fewer values, a shorter chain).")
    )


@contextmanager
def time_limit(milliseconds: int) -> Iterator[None]:
    """Operations in the block share a deadline (PyMongo's client-side operation timeout): each command is
    sent with the time left as `maxTimeMS`, so the database stops it there too (code 50, ExecutionTimeout)."""
    if milliseconds <= 0:
        yield
        return
    token = _TIME_LIMITED.set(True)
    try:
        with pymongo.timeout(milliseconds / 1000):
            yield
    finally:
        _TIME_LIMITED.reset(token)


def _time_limited(_key: str) -> bool:
    """Whether a read is bound to its caller's time limit (`time_limit`): it then goes alone, in its context."""
    return _TIME_LIMITED.get()


@asynccontextmanager
async def mongo_errors(reference: str) -> AsyncIterator[None]:
    """Turn driver errors into FhirError before they leave storage/."""
    try:
        yield
    except ExecutionTimeout as exc:
        raise _out_of_time() from exc
    except NetworkTimeout as exc:
        if _TIME_LIMITED.get():
            raise _out_of_time() from exc
        raise StorageUnavailable(_("The database did not answer.")) from exc
    except DuplicateKeyError as exc:
        raise VersionConflict(_("{reference} was changed by another request.").format(reference=reference)) from exc
    except BulkWriteError as exc:
        if any(error.get("code") == _DUPLICATE_KEY for error in exc.details.get("writeErrors", ())):
            raise VersionConflict(_("{reference} was changed by another request.").format(reference=reference)) from exc
        raise
    except OperationFailure as exc:
        if exc.code == _WRITE_CONFLICT or exc.has_error_label("TransientTransactionError"):
            raise VersionConflict(_("{reference} was changed by another request.").format(reference=reference)) from exc
        raise
    except ConnectionFailure as exc:
        raise StorageUnavailable(_("The database did not answer.")) from exc


def aware(moment: datetime) -> datetime:
    """`moment` in UTC even when read by a client that was not opened with tz_aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_RECORD_FIELDS = {"type": 1, "id": 1, "version": 1, "lastUpdated": 1, "deleted": 1, "body": 1, "method": 1}
"""What a read needs: the body and its version, not the search fields stored beside it. Named rather than
excluded: SecantusDB copies a document to drop fields from it, so excluding the search fields cost the
database about a third more per read than naming these."""
_VERSION_FIELDS = {"type": 1, "id": 1, "version": 1}
"""What names a version's next one (`_current_during`)."""
_COUNT_BATCH = 1000
"""Versions looked at together when counting a history `_at` (one lookup of their next versions each)."""

SEARCH_LAYOUT = 4
"""The layout of the stored search fields: 1 was `idx` under compound multikey indexes, 2 adds the
flat `keys` under one index (search/keys.py), 3 the (patient, status) pair keys, 4 keys shared
between parameters (`SHARED_KEYS`). A database stored under another layout is re-indexed."""

ENTRY_LAYOUT = 2
"""The layout of the `idx` entries that history versions keep (layouts 3 and 4 changed only `keys`, which
history has not)."""

VERSION_SEARCHABLE = {"searchLayout": ENTRY_LAYOUT}
"""What a history entry meets when its `idx` holds search entries of this layout: entries written
before versions kept them (or under another layout) meet no granular scope's query (fail closed)."""

_KEYS_INDEX = "search_keys"
_COMPARTMENT_INDEX = "compartment_id"
_TYPE_INDEX = "type"
_OBSOLETE_ENTRY_KEYS = ("c", "v", "e", "lo", "hi", "n", "r", "u", "cn")
_OBSOLETE_INDEXES = {
    "resources": ("compartments", "type_updated", *(f"idx_{key}" for key in _OBSOLETE_ENTRY_KEYS)),
}
"""Indexes of earlier layouts: dropped at start, as every one of them slows every write."""

_MAX_CANDIDATES = 20_000
"""Beyond this many index candidates a query checks every resource of its type instead."""


def _both(conditions: Mapping[str, Any], keys: list[str]) -> list[str]:
    """Keys allowed both by an `_id` condition already present (an `$in`) and by `keys`."""
    allowed = conditions.get("$in")
    return keys if allowed is None else sorted(set(keys) & set(allowed))


_OWN_COLLECTIONS = frozenset({"resources", "history", "conditions"})


def _by_collection(linked: Sequence[Linked]) -> tuple[dict[str, list[dict[str, Any]]], list[Linked]]:
    """Plain linked documents grouped for one insert per collection (several with the same `combine`
    as what it makes of them), and the rest (if-absent inserts, updates) in their order; the store's own
    collections are refused."""
    grouped: dict[tuple[str, Combine | None], list[dict[str, Any]]] = {}
    ordered: list[Linked] = []
    for item in linked:
        if item.collection in _OWN_COLLECTIONS or not item.collection:
            raise ValueError(f"a linked document may not go into {item.collection!r}")
        if isinstance(item, LinkedDocument) and not item.if_absent:
            grouped.setdefault((item.collection, item.combine), []).append(dict(item.document))
        else:
            ordered.append(item)
    by_collection: dict[str, list[dict[str, Any]]] = {}
    for (collection, combine), documents in grouped.items():
        made = combine(documents) if combine is not None and len(documents) > 1 else documents
        by_collection.setdefault(collection, []).extend(made)
    return by_collection, ordered


def connect_client(uri: str) -> AsyncMongoClient[dict[str, Any]]:
    """A client whose every write, transactions included, is acknowledged only once a majority has journaled it.

    `w: "majority", j: true` is the client's default write concern, which sessions and transactions
    inherit; it overrides a `w` or `journal` in the URI, so an acknowledged write survives the crash
    of the primary and of any minority of the replica set.
    """
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=10000,
        type_registry=DECIMAL_TYPES,
        w="majority",
        journal=True,
    )


def _key(resource_type: str, resource_id: str) -> str:
    return f"{resource_type}/{resource_id}"


class MongoResourceStore:
    """Resources and their history in one MongoDB database."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str, codec: BodyCodec | None = None) -> None:
        self.client = client
        self.database_name = database
        self._db = client[database]
        self._resources = self._db["resources"]
        self._history = self._db["history"]
        self._conditions = self._db["conditions"]
        self._meta = self._db["meta"]
        self._codec = codec or PlainCodec()
        self._group = CommitGroup(self._commit)
        self._current = PointReads(self._resources, _RECORD_FIELDS, _time_limited)
        self._versions = PointReads(self._history, _RECORD_FIELDS, _time_limited)

    @classmethod
    def connect(cls, uri: str, database: str, codec: BodyCodec | None = None) -> MongoResourceStore:
        return cls(connect_client(uri), database, codec)

    async def close(self) -> None:
        await self._group.close()
        await self._current.close()
        await self._versions.close()
        await self.client.close()

    async def ensure_indexes(self) -> None:
        """Create the indexes the queries rely on and drop those of earlier layouts; safe to run at every start.

        A database without resources is recorded as of this layout, so that whatever writes first
        (a server, `fhir-server import`, a restore) leaves nothing for `adopt_search_layout` to redo.

        Each index costs every write, so there are few: the search keys, a patient's compartment in key
        order (`$everything`), and the type. A type's resources are a range of keys ("Type/id"), but
        SecantusDB answers a range of `_id` with a scan of the whole collection (and a find told to use
        `_id_` with a sorted read of all of it): without the `type` index, every walk of a type (a search
        with no indexed clause, the SearchParameters each worker re-reads every two seconds) read every
        resource of every type. History is looked up by resource (versions in order, for backups too),
        by type and time, or by time.
        """
        async with mongo_errors("indexes"):
            for collection, names in _OBSOLETE_INDEXES.items():
                existing = await self._db[collection].index_information()
                for name in names:
                    if name in existing:
                        await self._db[collection].drop_index(name)
            await self._resources.create_index([("keys", ASCENDING)], name=_KEYS_INDEX)
            await self._resources.create_index(
                [("compartments", ASCENDING), ("_id", ASCENDING)], name=_COMPARTMENT_INDEX
            )
            await self._resources.create_index([("type", ASCENDING)], name=_TYPE_INDEX)
            await self._history.create_index(
                [("type", ASCENDING), ("id", ASCENDING), ("version", DESCENDING)], name="instance_versions"
            )
            await self._history.create_index([("type", ASCENDING), ("lastUpdated", DESCENDING)], name="type_updated")
            await self._history.create_index([("lastUpdated", DESCENDING)], name="updated")
            await self._history.create_index(
                [("compartments", ASCENDING), ("lastUpdated", DESCENDING)], name="compartment_updated"
            )
            if await self._resources.find_one({}, {"_id": 1}) is None:  # nothing stored: nothing to re-index
                await self._meta.update_one(
                    {"_id": "search_layout"}, {"$set": {"version": SEARCH_LAYOUT, "changed": None}}, upsert=True
                )

    async def adopt_search_layout(self, changed: datetime) -> bool:
        """Record SEARCH_LAYOUT as the layout of the stored search fields, at `changed`.

        Returns True when resources were stored under another layout and so need their search
        fields re-extracted; only one of several workers starting at once gets True.
        """
        async with mongo_errors("meta"):
            found = await self._meta.find_one({"_id": "search_layout"})
            if found is not None and found.get("version") == SEARCH_LAYOUT:
                return False
            stored = await self._resources.find_one({}, {"_id": 1}) is not None
            update = {"version": SEARCH_LAYOUT, "changed": changed if stored else None}
            if found is None:
                try:
                    await self._meta.insert_one({"_id": "search_layout", **update})
                except DuplicateKeyError:
                    return False
                return stored
            taken = await self._meta.update_one(
                {"_id": "search_layout", "version": found.get("version")}, {"$set": update}
            )
            return stored and taken.modified_count == 1

    async def search_layout_changed(self) -> datetime | None:
        """When the search layout last changed on a database holding resources (None: never)."""
        async with mongo_errors("meta"):
            found = await self._meta.find_one({"_id": "search_layout"})
        return found.get("changed") if found else None

    async def ping(self) -> None:
        try:
            await self.client.admin.command("ping")
        except PyMongoError as exc:
            raise StorageUnavailable(_("The database did not answer.")) from exc

    async def drop_everything(self) -> None:
        """Remove all resources and history (tests and the restore command use this)."""
        await self._resources.delete_many({})
        await self._history.delete_many({})

    def _record(self, doc: Mapping[str, Any]) -> StoredResource:
        body = doc.get("body")
        return StoredResource(
            resource_type=doc["type"],
            id=doc["id"],
            version_id=doc["version"],
            last_updated=doc["lastUpdated"],
            deleted=doc["deleted"],
            body=self._codec.decode(body) if body is not None else None,
            method=doc.get("method", "PUT"),
        )

    async def get(self, resource_type: str, resource_id: str) -> StoredResource | None:
        async with mongo_errors(_key(resource_type, resource_id)):
            doc = await self._current.get(_key(resource_type, resource_id))
        return self._record(doc) if doc else None

    async def get_version(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource | None:
        async with mongo_errors(_key(resource_type, resource_id)):
            doc = await self._versions.get(f"{_key(resource_type, resource_id)}/{version_id}")
        return self._record(doc) if doc else None

    async def write(
        self,
        record: StoredResource,
        *,
        replaces: int | None,
        index: Mapping[str, Any] | None = None,
        lock: ConditionLock | None = None,
    ) -> None:
        await self.write_all([PendingWrite(record, replaces, index or {})], locks=() if lock is None else (lock,))

    def _fields(self, record: StoredResource) -> dict[str, Any]:
        return {
            "type": record.resource_type,
            "id": record.id,
            "version": record.version_id,
            "lastUpdated": record.last_updated,
            "deleted": record.deleted,
            "body": self._codec.encode(record.body) if record.body is not None else None,
            "method": record.method,
        }

    async def write_all(
        self,
        writes: Sequence[PendingWrite],
        *,
        locks: Sequence[ConditionLock] = (),
        linked: Sequence[Linked] = (),
    ) -> None:
        if writes:
            await self._group.write(WriteCall(writes, locks, linked))

    async def _commit(self, call: WriteCall) -> None:
        """Commit one call, or several merged (commit_group.py), in one transaction."""
        writes, locks = call.writes, call.locks
        by_collection, ordered = _by_collection(call.linked)
        first = writes[0].record.reference
        new = [w for w in writes if w.replaces is None]
        changed = [w for w in writes if w.replaces is not None]
        async with mongo_errors(first), self.client.start_session() as session:  # noqa: SIM117 - needs `session`
            async with await session.start_transaction():
                for lock in sorted(locks, key=lambda held: held.key):
                    await self._take(lock, first, session)
                if new:
                    await self._resources.insert_many(
                        [{"_id": w.record.reference, **self._fields(w.record), **w.index} for w in new],
                        session=session,
                    )
                if changed:
                    await self._replace_current(changed, session)
                await self._history.insert_many([self._version(w) for w in writes], session=session)
                for write in writes:
                    if write.must_match is not None:
                        await self._check_written(write, session)
                for name, documents in by_collection.items():
                    await self._db[name].insert_many(documents, session=session)
                for item in ordered:
                    await self._apply(item, session)

    async def _apply(self, item: Linked, session: AsyncClientSession) -> None:
        """An if-absent insert (an upsert that only sets on insert) or an update, in the write's transaction."""
        collection = self._db[item.collection]
        if isinstance(item, LinkedUpdate):
            await collection.update_many(dict(item.match), dict(item.update), session=session)
            return
        document = dict(item.document)
        key = document.pop("_id")
        await collection.update_one({"_id": key}, {"$setOnInsert": document}, upsert=True, session=session)

    async def _check_written(self, write: PendingWrite, session: AsyncClientSession) -> None:
        """Raise WriteRefused (aborting the transaction) unless the version just written meets `must_match`."""
        assert write.must_match is not None
        record = write.record
        query = CurrentQuery(record.resource_type, write.must_match, ids=(record.id,))
        flt = await self._current_filter(query)
        if flt is None or await self._resources.count_documents(flt, session=session) != 1:
            raise WriteRefused(record.reference)

    def _version(self, write: PendingWrite) -> dict[str, Any]:
        """A history entry: the version, its patient compartments and its search entries (what
        patient-scoped and granular history filter on)."""
        compartments = write.index.get("compartments", [])
        entries = write.version_entries if write.version_entries is not None else write.index.get("idx", [])
        return {"_id": f"{write.record.reference}/{write.record.version_id}", **self._fields(write.record),
                "compartments": compartments, "idx": list(entries), **VERSION_SEARCHABLE}  # fmt: skip

    async def _replace_current(self, writes: Sequence[PendingWrite], session: AsyncClientSession) -> None:
        """Replace current versions guarded by the version each write replaces.

        A current version's document is its fields and its search fields, all of them new, so it is
        replaced rather than `$set`: the embedded database then logs the new document as it is instead
        of working out what changed (7 % of its work per update).
        The replaced version's history entry is left as it is: when it stopped being current is the
        next version's `lastUpdated` (see `_current_during`). Stamping it cost the embedded database
        a rewrite of the whole entry and its index entries, a quarter of an update's throughput."""
        current = [
            ReplaceOne({"_id": w.record.reference, "version": w.replaces}, {**self._fields(w.record), **w.index})
            for w in writes
        ]
        result = await self._resources.bulk_write(current, ordered=True, session=session)
        if result.matched_count != len(writes):
            raise VersionConflict(
                _("{reference} was changed by another request.").format(reference=writes[0].record.reference)
            )

    async def _take(self, lock: ConditionLock, reference: str, session: AsyncClientSession) -> None:
        if lock.seen is None:
            await self._conditions.insert_one({"_id": lock.key, "n": 1}, session=session)
            return
        taken = await self._conditions.update_one(
            {"_id": lock.key, "n": lock.seen}, {"$inc": {"n": 1}}, session=session
        )
        if taken.matched_count != 1:
            raise VersionConflict(_("{reference} was changed by another request.").format(reference=reference))

    async def condition_counters(self, keys: Sequence[str]) -> dict[str, int]:
        if not keys:
            return {}
        async with mongo_errors("conditions"):
            found = self._conditions.find({"_id": {"$in": list(keys)}} if len(keys) > 1 else {"_id": keys[0]})
            return {doc["_id"]: int(doc["n"]) async for doc in found}

    async def get_many(self, keys: Sequence[str], *, deleted: bool = False) -> list[StoredResource]:
        if not keys:
            return []
        flt: dict[str, Any] = {"_id": {"$in": list(keys)}}
        if not deleted:
            flt["deleted"] = False
        async with mongo_errors("resources"):
            cursor = self._resources.find(flt, _RECORD_FIELDS)
            return [self._record(doc) async for doc in cursor]

    async def find_ids(self, query: CurrentQuery, limit: int) -> list[str]:
        async with mongo_errors(query.resource_type):
            if (flt := await self._current_filter(query)) is None:
                return []
            cursor = self._resources.find(flt, {"id": 1}).limit(limit)
            return [doc["id"] async for doc in cursor]

    async def scan(self, resource_type: str, after: str | None, limit: int) -> list[StoredResource]:
        return await self.find(CurrentQuery(resource_type, {}, after=after), limit)

    async def set_search_fields(self, record: StoredResource, index: Mapping[str, Any]) -> bool:
        async with mongo_errors(record.reference):
            result = await self._resources.update_one(
                {"_id": record.reference, "version": record.version_id}, {"$set": dict(index)}
            )
        return result.matched_count == 1

    async def references_of(self, query: CurrentQuery, code: str | None, limit: int) -> list[str]:
        found: dict[str, None] = {}
        async with mongo_errors(query.resource_type):
            if (flt := await self._current_filter(query)) is None:
                return []
            cursor = self._resources.find(flt, {"idx": 1}).limit(limit)
            async for doc in cursor:
                for entry in doc.get("idx", ()):
                    if "r" in entry and (code is None or entry["p"] == code):
                        found[entry["r"]] = None
        return list(found)

    @staticmethod
    def _history_filter(query: HistoryQuery) -> dict[str, Any]:
        flt: dict[str, Any] = {}
        if query.resource_type:
            flt["type"] = query.resource_type
        if query.resource_id:
            flt["id"] = query.resource_id
        if query.version is not None:
            flt["version"] = query.version
        updated: dict[str, Any] = {}
        if query.since:
            updated["$gte"] = query.since
        if query.at_end:
            updated["$lt"] = query.at_end
        if updated:
            flt["lastUpdated"] = updated
        if query.criteria:
            flt = {"$and": [flt, dict(query.criteria)]} if flt else dict(query.criteria)
        return flt

    async def history(self, query: HistoryQuery, limit: int) -> list[StoredResource]:
        flt = self._history_filter(query)
        found: list[dict[str, Any]] = []
        after = query.after
        async with mongo_errors("history"):
            while len(found) < limit:
                page = flt
                if after:
                    at, key = after
                    later = {"$or": [{"lastUpdated": {"$lt": at}}, {"lastUpdated": at, "_id": {"$lt": key}}]}
                    page = {"$and": [flt, later]} if flt else later
                cursor = (
                    self._history.find(page, _RECORD_FIELDS)
                    .sort([("lastUpdated", DESCENDING), ("_id", DESCENDING)])
                    .limit(limit)
                )
                docs = await cursor.to_list()
                found += docs if query.at_start is None else await self._current_during(docs, query.at_start)
                if query.at_start is None or len(docs) < limit:
                    break
                after = (docs[-1]["lastUpdated"], docs[-1]["_id"])  # every one of them was not current: read on
        return [self._record(doc) for doc in found[:limit]]

    async def count_history(self, query: HistoryQuery) -> int:
        flt = self._history_filter(query)
        async with mongo_errors("history"):
            if query.at_start is None:
                return await self._history.count_documents(flt)
            counted = 0
            batch: list[dict[str, Any]] = []
            async for doc in self._history.find(flt, _VERSION_FIELDS).batch_size(_COUNT_BATCH):
                batch.append(doc)
                if len(batch) == _COUNT_BATCH:
                    counted += len(await self._current_during(batch, query.at_start))
                    batch = []
            return counted + len(await self._current_during(batch, query.at_start))

    async def _current_during(self, versions: list[dict[str, Any]], start: datetime) -> list[dict[str, Any]]:
        """Those of `versions` still current at `start` or later: the latest of their resource, or replaced by a
        next version (`version + 1`: versions are numbered without gaps) written after `start`."""
        if not versions:
            return []
        nexts = [f"{doc['type']}/{doc['id']}/{doc['version'] + 1}" for doc in versions]
        replaced = {
            doc["_id"]: aware(doc["lastUpdated"])
            async for doc in self._history.find({"_id": {"$in": nexts}}, {"lastUpdated": 1})
        }
        start = aware(start)
        return [
            doc for doc, next_ in zip(versions, nexts, strict=True) if next_ not in replaced or replaced[next_] > start
        ]

    @staticmethod
    def candidates_filter(query: CurrentQuery) -> dict[str, Any]:
        """The filter that finds a query's candidates from its driver.

        Search keys name their type, so they stand alone (SecantusDB scans the collection rather than
        use the index for `type` and `keys` together; told to use it, it is slower still); a
        compartment does not.
        """
        assert query.driver is not None
        return dict(query.driver) if "keys" in query.driver else {"type": query.resource_type, **query.driver}

    def time_limit(self, milliseconds: int) -> AbstractContextManager[None]:
        return time_limit(milliseconds)

    async def narrow(self, query: CurrentQuery) -> CurrentQuery:
        prefix = f"{query.resource_type}/"
        if query.driver is None or "_id" in query.driver:
            return query
        async with mongo_errors(query.resource_type):
            candidates = self._resources.find(self.candidates_filter(query), {"_id": 1}).limit(_MAX_CANDIDATES + 1)
            found = [doc["_id"].removeprefix(prefix) async for doc in candidates]
        if len(found) > _MAX_CANDIDATES:
            return replace(query, driver=None)
        ids = found if query.ids is None else sorted(set(query.ids) & set(found))
        return replace(query, ids=tuple(ids), driver=None)

    async def _current_filter(self, query: CurrentQuery) -> dict[str, Any] | None:
        """The filter over current resources, `_id` first: when the driver narrows the candidates
        through an index, they are looked up by key and the full criteria only check them; else the
        type's range of keys is walked. None when no resource can match (no candidate is left):
        the caller skips the query, which SecantusDB would answer with a whole-collection scan when
        the criteria hold an `$and` or `$nor`, even under `_id: {$in: []}` (see filters.py)."""
        query = await self.narrow(query)
        criteria = dict(query.criteria)
        conditions: dict[str, Any] = dict(criteria.pop("_id", None) or {})
        keys = [_key(query.resource_type, i) for i in query.ids] if query.ids is not None else None
        if keys is not None:
            conditions = {"$in": keys} if not conditions else {**conditions, "$in": _both(conditions, keys)}
        if query.after and not query.sort:
            conditions["$gt"] = _key(query.resource_type, query.after)
        if conditions.get("$in") == []:
            return None
        if "$in" not in conditions:  # keys are "Type/id": walk the type's own range of the key index
            conditions.setdefault("$gte", f"{query.resource_type}/")
            conditions.setdefault("$lt", f"{query.resource_type}0")
        flt: dict[str, Any] = {"_id": conditions} if conditions else {}
        flt.update({"type": query.resource_type, "deleted": False, **criteria})
        return flatten(flt)

    async def find(self, query: CurrentQuery, limit: int) -> list[StoredResource]:
        order = [*query.sort, ("_id", ASCENDING)] if query.sort else [("_id", ASCENDING)]
        async with mongo_errors(query.resource_type):
            if (flt := await self._current_filter(query)) is None:
                return []
            cursor = self._resources.find(flt, _RECORD_FIELDS).sort(order).skip(query.offset).limit(limit)
            return [self._record(doc) async for doc in cursor]

    async def stream(self, query: CurrentQuery, batch: int, time_ms: int) -> AsyncGenerator[list[StoredResource]]:
        # One cursor for the whole walk: each query on the embedded database has a large fixed cost,
        # which a getMore of the same cursor does not pay again. The next batch is asked for before
        # this one is handed out, so the database works while the caller does (two batches in
        # memory). `maxTimeMS` bounds the cursor's database time (cumulative over its getMores in MongoDB).
        async with mongo_errors(query.resource_type):
            if (flt := await self._current_filter(query)) is None:
                return
            cursor = self._resources.find(flt, _RECORD_FIELDS, batch_size=batch).sort("_id", ASCENDING)
            if time_ms > 0:
                cursor = cursor.max_time_ms(time_ms)
            following = asyncio.ensure_future(cursor.to_list(batch))
            try:
                while documents := await following:
                    following = asyncio.ensure_future(cursor.to_list(batch))
                    await asyncio.sleep(0)  # the getMore goes out now: the database reads while this batch is used
                    yield [self._record(doc) for doc in documents]
            finally:
                if following.cancel():  # still under way: the caller stopped early
                    with suppress(asyncio.CancelledError):
                        await following
                await cursor.close()

    async def count(self, query: CurrentQuery) -> int:
        async with mongo_errors(query.resource_type):
            flt = await self._current_filter(replace(query, after=None))
            return 0 if flt is None else await self._resources.count_documents(flt)

    @staticmethod
    def _compartment_filter(
        compartments: Sequence[str] | None,
        types: Sequence[str] | None,
        since: datetime | None,
        criteria: Mapping[str, Any] | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        flt: dict[str, Any] = {"deleted": False}
        if after is not None:
            flt["_id"] = {"$gt": after}
        if compartments is None:
            flt["compartments.0"] = {"$exists": True}
        else:
            flt["compartments"] = {"$in": list(compartments)}
        if types is not None:
            flt["type"] = {"$in": list(types)}
        if since is not None:
            flt["lastUpdated"] = {"$gte": since}
        if criteria:
            flt["$and"] = [dict(criteria)]
        return flatten(flt)

    async def find_compartment(
        self,
        compartments: Sequence[str] | None,
        types: Sequence[str] | None,
        since: datetime | None,
        after: str | None,
        limit: int,
        criteria: Mapping[str, Any] | None = None,
    ) -> list[StoredResource]:
        flt = self._compartment_filter(compartments, types, since, criteria, after)
        # One patient or a few: the (compartments, _id) index. Not hinted: SecantusDB answers a hinted find
        # by reading the whole collection (1.3 s instead of 11 ms for one patient among 10,000 resources).
        async with mongo_errors("compartment"):
            cursor = self._resources.find(flt, _RECORD_FIELDS).sort([("_id", ASCENDING)]).limit(limit)
            return [self._record(doc) async for doc in cursor]

    async def count_compartment(
        self,
        compartments: Sequence[str] | None,
        types: Sequence[str] | None,
        since: datetime | None,
        criteria: Mapping[str, Any] | None = None,
    ) -> int:
        flt = self._compartment_filter(compartments, types, since, criteria)
        async with mongo_errors("compartment"):
            return await self._resources.count_documents(flt)
