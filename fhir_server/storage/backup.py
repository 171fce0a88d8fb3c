"""Storage-level bulk reads and writes for backup and restore.

Restoring is not an ordinary write: it must keep every version's id, number, timestamp and
method, which the engine's write path (rightly) never does. So the backup store reads and
inserts the stored documents as they are; `engine/backup.py` decides what goes where.
Bodies still pass through the codec: a backup holds plain FHIR JSON whatever the stored format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from bson import json_util
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient

from .audit import AUDIT_COLLECTION, AUDIT_INBOX
from .codec import BodyCodec, PlainCodec
from .imports import IMPORT_RECORDS
from .mongo import mongo_errors


@dataclass(frozen=True)
class _Registered:
    written_at: str | None
    reset: dict[str, Any]


_KEPT = _Registered(None, {})

SERVER_STATE: dict[str, _Registered] = {
    "conditions": _KEPT,
    AUDIT_INBOX: _KEPT,  # before the log: a record sealed while the backup runs is then in both, not in neither
    AUDIT_COLLECTION: _KEPT,
    "audit_chain": _Registered(None, {"sealer": None, "leaseUntil": None}),  # a restored server seals at once
    "auth_users": _KEPT,
    "auth_clients": _KEPT,
    "auth_keys": _KEPT,
    IMPORT_RECORDS: _Registered("at", {}),
}
"""The server's own state that a backup keeps, besides the versions: conditional-create counters, the
audit log (its inbox of records waiting to be sealed too) and its chain head, user accounts (password
hashes as stored), registered clients (secret hashes as stored), the public halves of the OAuth
signing keys (id tokens issued before verify after a restore), and what `fhir-server import`
finished (a record belongs to the versions it wrote, so it is kept with them). SearchParameters,
ValueSets and the like are resources, in the history."""

LEFT_OUT = frozenset(
    {
        "meta",  # the search layout: a restore recomputes every search field, and records the layout anew
        "jobs",  # bulk export/import jobs and the export files: transient, clients ask again
        "export_chunks",
        "auth_key_secrets",  # private signing keys: a backup cannot sign; a restored server makes a new key
        "auth_tokens",  # access and refresh tokens: a restore ends every grant, apps authorize again
        "auth_sessions",  # sign-in sessions, authorization requests and codes, launch contexts: minutes long
        "auth_requests",
        "auth_codes",
        "auth_launches",
        "auth_jtis",  # client-assertion replay cache: only until each assertion expires
        "auth_lockouts",  # failed sign-in counters: they expire
        "prescriber_key_secrets",  # prescribers' private keys: a restored server makes new ones on first signing
    }
)
"""Collections a backup leaves out on purpose; any other collection it does not keep is reported."""

_REGISTERED: dict[str, _Registered] = {}
"""Adapters' state collections, in the order registered."""


def register_state_collection(
    name: str, *, written_at: str | None = None, reset: Mapping[str, Any] | None = None
) -> None:
    """Have backups keep an adapter's collection `name` (call at import; registering again is harmless).

    The engine knows nothing of adapters, so each one that keeps state next to the resources (the HL7 v2
    outbox) names its collection here. With `written_at`, a document whose field is later than the backup
    instant is left out, like the versions after it: it belongs to a write the backup does not hold.
    `reset` gives fields the value they are backed up with (a worker's lease means nothing after a restore).
    A process restores only the collections registered in it: a backup holding others is refused.
    """
    if name in SERVER_STATE or name in LEFT_OUT or name in ("resources", "history"):
        raise ValueError(f"{name} is not an adapter's collection")
    _REGISTERED[name] = _Registered(written_at, dict(reset or {}))


def state_collections() -> tuple[str, ...]:
    """Every collection a backup keeps besides the versions: the server's, then those adapters registered."""
    return (*SERVER_STATE, *_REGISTERED)


_BATCH = 1000


class MongoBackupStore:
    """Bulk access to `history`, `resources` and the state collections of one database."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str, codec: BodyCodec | None = None) -> None:
        self._db = client[database]
        self._history = self._db["history"]
        self._resources = self._db["resources"]
        self._codec = codec or PlainCodec()

    def _plain(self, doc: dict[str, Any]) -> dict[str, Any]:
        body = doc.get("body")
        doc["body"] = self._codec.decode(body) if body is not None else None
        return doc

    def _stored(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(doc)
        body = out.get("body")
        out["body"] = self._codec.encode(body) if body is not None else None
        return out

    async def versions_until(self, moment: datetime) -> AsyncIterator[dict[str, Any]]:
        """Every history document with `lastUpdated <= moment`, body decoded to JSON bytes, with `replacedAt`:
        when the next version replaced it, None if none did by `moment`.

        Ordered by type, id, then version newest first (the `instance_versions` index), so the
        first document of each resource is its latest version, and each next one was replaced by
        the one before it. (Versions stored before this stamped `replacedAt` themselves; it is set
        here all the same.)
        """
        order = [("type", ASCENDING), ("id", ASCENDING), ("version", DESCENDING)]
        newer: tuple[str, str] | None = None
        newer_at: datetime | None = None
        async with mongo_errors("history"):
            cursor = (
                self._history.find({"lastUpdated": {"$lte": moment}})
                .sort(order)
                .hint("instance_versions")
                .batch_size(_BATCH)
            )
            async for doc in cursor:
                resource = (doc["type"], doc["id"])
                doc["replacedAt"] = newer_at if resource == newer else None
                newer, newer_at = resource, doc["lastUpdated"]
                yield self._plain(doc)

    async def count_versions_until(self, moment: datetime) -> int:
        async with mongo_errors("history"):
            return await self._history.count_documents({"lastUpdated": {"$lte": moment}})

    async def resource_types(self) -> list[str]:
        """The resource types that have a current version (deleted or not), sorted."""
        async with mongo_errors("resources"):
            return sorted(await self._resources.distinct("type"))

    async def state(self, moment: datetime) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(collection, document) for every state document, as canonical extended JSON: exact for every BSON type.

        Documents of a registered collection written after `moment` are left out.
        """
        for name in state_collections():
            registered = SERVER_STATE.get(name) or _REGISTERED[name]
            field = registered.written_at
            query = {"$or": [{field: {"$lte": moment}}, {field: None}]} if field else {}
            async with mongo_errors(name):
                async for doc in self._db[name].find(query).sort("_id", ASCENDING).batch_size(_BATCH):
                    doc.update(registered.reset)
                    yield name, orjson.loads(json_util.dumps(doc, json_options=json_util.CANONICAL_JSON_OPTIONS))

    async def drop_sealed_waiting(self) -> None:
        """Remove from the restored audit inbox the records its log holds already (by id, or in a pack's `ids`).

        A backup reads the inbox before the log, so a record the sealer moved in between is in both. A
        waiting pack that keeps its events' ids (a group commit's) is held once the log holds its events.
        The pack ids are not indexed; restoring is the one time they are looked up."""
        inbox, log = self._db[AUDIT_INBOX], self._db[AUDIT_COLLECTION]
        async with mongo_errors("restore"):
            waiting = {doc["_id"]: doc.get("ids") or [doc["_id"]] async for doc in inbox.find({}, {"ids": 1})}
            if not waiting:
                return
            events = [event for ids in waiting.values() for event in ids]
            held = {doc["_id"] async for doc in log.find({"_id": {"$in": list(waiting)}}, {"_id": 1})}
            async for pack in log.find({"ids": {"$in": events}}, {"ids": 1}):
                held.update(pack["ids"])
            dropped = [rid for rid, ids in waiting.items() if rid in held or all(event in held for event in ids)]
            await inbox.delete_many({"_id": {"$in": dropped}})

    async def not_kept(self) -> list[str]:
        """Collections of the database that a backup neither keeps nor leaves out on purpose (sorted)."""
        known = {"resources", "history", *state_collections(), *LEFT_OUT}
        async with mongo_errors("backup"):
            names = await self._db.list_collection_names()
        return sorted(name for name in names if name not in known and not name.startswith("system."))

    async def is_empty(self) -> bool:
        """True when the database holds no resource, no version and no state."""
        async with mongo_errors("restore"):
            for collection in (self._resources, self._history, *(self._db[n] for n in state_collections())):
                if await collection.find_one({}, {"_id": 1}) is not None:
                    return False
        return True

    async def insert_versions(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Insert history documents as they are (`body`: JSON bytes, encoded here)."""
        if batch:
            async with mongo_errors("history"):
                await self._history.insert_many([self._stored(doc) for doc in batch], ordered=False)

    async def insert_current(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Insert current-version documents (with their search fields) as they are."""
        if batch:
            async with mongo_errors("resources"):
                await self._resources.insert_many([self._stored(doc) for doc in batch], ordered=False)

    async def insert_state(self, batch: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Insert state documents given as (collection, extended JSON document)."""
        by_collection: dict[str, list[Any]] = {}
        for name, doc in batch:
            if name not in state_collections():
                raise ValueError(name)
            by_collection.setdefault(name, []).append(json_util.loads(orjson.dumps(doc)))
        for name, docs in by_collection.items():
            async with mongo_errors(name):
                await self._db[name].insert_many(docs, ordered=False)
