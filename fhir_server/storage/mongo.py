"""ResourceStore on MongoDB through PyMongo's native async driver.

Two collections: `resources` holds the current version of every resource (deletions
included, flagged), `history` holds every version ever written. A write changes both in
one transaction, guarded by the version it replaces, so concurrent writers cannot lose
or duplicate a version. No pymongo exception leaves this module (see `mongo_errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from ..errors import StorageUnavailable, VersionConflict
from ..i18n import _
from .codec import BodyCodec, PlainCodec
from .records import StoredResource
from .store import ConditionLock, CurrentQuery, HistoryQuery

_WRITE_CONFLICT = 112


@asynccontextmanager
async def mongo_errors(reference: str) -> AsyncIterator[None]:
    """Turn driver errors into FhirError before they leave storage/."""
    try:
        yield
    except DuplicateKeyError as exc:
        raise VersionConflict(_("{reference} was changed by another request.").format(reference=reference)) from exc
    except OperationFailure as exc:
        if exc.code == _WRITE_CONFLICT or exc.has_error_label("TransientTransactionError"):
            raise VersionConflict(_("{reference} was changed by another request.").format(reference=reference)) from exc
        raise
    except ConnectionFailure as exc:
        raise StorageUnavailable(_("The database did not answer.")) from exc


_NO_SEARCH_FIELDS = {"idx": 0, "sort": 0, "compartments": 0}
"""Reads need the body, not the search fields stored beside it."""

_INDEXED_ENTRY_KEYS = ("c", "v", "e", "lo", "hi", "n", "r", "u", "cn")
"""Index entry keys (see search/definitions.py) that get a compound multikey index with the type and code."""


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
        self._codec = codec or PlainCodec()

    @classmethod
    def connect(cls, uri: str, database: str, codec: BodyCodec | None = None) -> MongoResourceStore:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, tz_aware=True, tzinfo=UTC, serverSelectionTimeoutMS=10000
        )
        return cls(client, database, codec)

    async def close(self) -> None:
        await self.client.close()

    async def ensure_indexes(self) -> None:
        """Create the indexes the queries rely on; safe to run at every start."""
        async with mongo_errors("indexes"):
            await self._resources.create_index([("type", ASCENDING), ("lastUpdated", ASCENDING)], name="type_updated")
            await self._resources.create_index([("compartments", ASCENDING), ("type", ASCENDING)], name="compartments")
            await self._resources.create_index([("compartments", ASCENDING), ("_id", ASCENDING)], name="compartment_keys")
            for key in _INDEXED_ENTRY_KEYS:
                await self._resources.create_index(
                    [("type", ASCENDING), ("idx.p", ASCENDING), (f"idx.{key}", ASCENDING)], name=f"idx_{key}"
                )
            await self._history.create_index(
                [("type", ASCENDING), ("id", ASCENDING), ("version", DESCENDING)], name="instance_versions"
            )
            await self._history.create_index([("type", ASCENDING), ("lastUpdated", DESCENDING)], name="type_updated")
            await self._history.create_index([("lastUpdated", DESCENDING)], name="updated")

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
            doc = await self._resources.find_one({"_id": _key(resource_type, resource_id)}, _NO_SEARCH_FIELDS)
        return self._record(doc) if doc else None

    async def get_version(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource | None:
        async with mongo_errors(_key(resource_type, resource_id)):
            doc = await self._history.find_one({"_id": f"{_key(resource_type, resource_id)}/{version_id}"})
        return self._record(doc) if doc else None

    async def write(
        self,
        record: StoredResource,
        *,
        replaces: int | None,
        index: Mapping[str, Any] | None = None,
        lock: ConditionLock | None = None,
    ) -> None:
        key = record.reference
        fields = {
            "type": record.resource_type,
            "id": record.id,
            "version": record.version_id,
            "lastUpdated": record.last_updated,
            "deleted": record.deleted,
            "body": self._codec.encode(record.body) if record.body is not None else None,
            "method": record.method,
        }
        async with mongo_errors(key), self.client.start_session() as session:  # noqa: SIM117 - needs `session`
            async with await session.start_transaction():
                if lock is not None:
                    await self._take(lock, key, session)
                current = {**fields, **(index or {})}
                if replaces is None:
                    await self._resources.insert_one({"_id": key, **current}, session=session)
                else:
                    result = await self._resources.update_one(
                        {"_id": key, "version": replaces}, {"$set": current}, session=session
                    )
                    if result.matched_count != 1:
                        raise VersionConflict(_("{reference} was changed by another request.").format(reference=key))
                    await self._history.update_one(
                        {"_id": f"{key}/{replaces}"}, {"$set": {"replacedAt": record.last_updated}}, session=session
                    )
                await self._history.insert_one({"_id": f"{key}/{record.version_id}", **fields}, session=session)

    async def _take(self, lock: ConditionLock, reference: str, session: AsyncClientSession) -> None:
        if lock.seen is None:
            await self._conditions.insert_one({"_id": lock.key, "n": 1}, session=session)
            return
        taken = await self._conditions.update_one(
            {"_id": lock.key, "n": lock.seen}, {"$inc": {"n": 1}}, session=session
        )
        if taken.matched_count != 1:
            raise VersionConflict(_("{reference} was changed by another request.").format(reference=reference))

    async def condition_counter(self, key: str) -> int | None:
        async with mongo_errors("conditions"):
            doc = await self._conditions.find_one({"_id": key})
        return int(doc["n"]) if doc else None

    async def get_many(self, keys: Sequence[str]) -> list[StoredResource]:
        if not keys:
            return []
        async with mongo_errors("resources"):
            cursor = self._resources.find({"_id": {"$in": list(keys)}, "deleted": False}, _NO_SEARCH_FIELDS)
            return [self._record(doc) async for doc in cursor]

    async def find_ids(self, query: CurrentQuery, limit: int) -> list[str]:
        async with mongo_errors(query.resource_type):
            cursor = self._resources.find(self._current_filter(query), {"id": 1}).limit(limit)
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
            cursor = self._resources.find(self._current_filter(query), {"idx": 1}).limit(limit)
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
        updated: dict[str, Any] = {}
        if query.since:
            updated["$gte"] = query.since
        if query.at_end:
            updated["$lt"] = query.at_end
        if query.at_start:
            flt["$or"] = [{"replacedAt": None}, {"replacedAt": {"$gt": query.at_start}}]
        if updated:
            flt["lastUpdated"] = updated
        return flt

    async def history(self, query: HistoryQuery, limit: int) -> list[StoredResource]:
        flt = self._history_filter(query)
        if query.after:
            at, key = query.after
            page = {"$or": [{"lastUpdated": {"$lt": at}}, {"lastUpdated": at, "_id": {"$lt": key}}]}
            flt = {"$and": [flt, page]} if flt else page
        async with mongo_errors("history"):
            cursor = self._history.find(flt).sort([("lastUpdated", DESCENDING), ("_id", DESCENDING)]).limit(limit)
            return [self._record(doc) async for doc in cursor]

    async def count_history(self, query: HistoryQuery) -> int:
        async with mongo_errors("history"):
            return await self._history.count_documents(self._history_filter(query))

    @staticmethod
    def _current_filter(query: CurrentQuery) -> dict[str, Any]:
        flt: dict[str, Any] = {"type": query.resource_type, "deleted": False, **query.criteria}
        if query.ids is not None:
            flt["_id"] = {"$in": [_key(query.resource_type, i) for i in query.ids]}
        return flt

    async def find(self, query: CurrentQuery, limit: int) -> list[StoredResource]:
        flt = self._current_filter(query)
        if query.sort:
            order = [*query.sort, ("_id", ASCENDING)]
        else:
            order = [("_id", ASCENDING)]
            if query.after:
                flt = {"$and": [flt, {"_id": {"$gt": _key(query.resource_type, query.after)}}]}
        async with mongo_errors(query.resource_type):
            cursor = self._resources.find(flt, _NO_SEARCH_FIELDS).sort(order).skip(query.offset).limit(limit)
            return [self._record(doc) async for doc in cursor]

    async def count(self, query: CurrentQuery) -> int:
        async with mongo_errors(query.resource_type):
            return await self._resources.count_documents(self._current_filter(query))

    @staticmethod
    def _compartment_filter(
        compartments: Sequence[str] | None, types: Sequence[str] | None, since: datetime | None
    ) -> dict[str, Any]:
        flt: dict[str, Any] = {"deleted": False}
        if compartments is None:
            flt["compartments.0"] = {"$exists": True}
        else:
            flt["compartments"] = {"$in": list(compartments)}
        if types is not None:
            flt["type"] = {"$in": list(types)}
        if since is not None:
            flt["lastUpdated"] = {"$gte": since}
        return flt

    async def find_compartment(
        self,
        compartments: Sequence[str] | None,
        types: Sequence[str] | None,
        since: datetime | None,
        after: str | None,
        limit: int,
    ) -> list[StoredResource]:
        flt = self._compartment_filter(compartments, types, since)
        if after is not None:
            flt["_id"] = {"$gt": after}
        async with mongo_errors("compartment"):
            cursor = self._resources.find(flt, _NO_SEARCH_FIELDS).sort([("_id", ASCENDING)]).limit(limit)
            return [self._record(doc) async for doc in cursor]

    async def count_compartment(
        self, compartments: Sequence[str] | None, types: Sequence[str] | None, since: datetime | None
    ) -> int:
        async with mongo_errors("compartment"):
            return await self._resources.count_documents(self._compartment_filter(compartments, types, since))
