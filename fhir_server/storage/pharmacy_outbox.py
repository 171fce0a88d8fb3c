"""The pharmacy outbox: MongoDB collection `pharmacy_outbox`, one entry per signed prescription sent to an
external pharmacy (keyed by the MedicationRequest reference: a prescription is transmitted once).

The entry is inserted by the prescribing write rule in the transaction of the signed version, so it exists
exactly when the signed prescription does. The sender duty (medications/prescribing/transmission.py, one
leased process at a time) takes due entries: `queued` -> `sent` (the pharmacy created the Task; its URL
kept in `remoteTask`) or `retrying` (pharmacy unreachable or 5xx: due again after a doubling backoff) or
`failed` (the pharmacy refused it with a 4xx). Sent entries are polled for the Task's status until it ends
(`done`). Every change is appended to `events`. Backups keep the collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .backup import register_state_collection
from .mongo import MongoResourceStore, mongo_errors

COLLECTION = "pharmacy_outbox"
QUEUED, SENT, RETRYING, FAILED, DONE = "queued", "sent", "retrying", "failed", "done"
DUE = (QUEUED, RETRYING, SENT)
_EVENTS_KEPT = 50
ASCENDING = 1

register_state_collection(COLLECTION, written_at="created")


@dataclass
class PharmacyEntry:
    """One prescription on its way to a pharmacy, and where it stands."""

    id: str
    request: str
    version: int
    pharmacy: str
    address: str
    headers: list[str]
    status: str
    created: datetime
    due: datetime
    tries: int
    remote_task: str | None
    task_status: str | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PharmacyEntry:
        return cls(
            id=doc["_id"], request=doc["request"], version=doc["version"], pharmacy=doc["pharmacy"],
            address=doc["address"], headers=list(doc.get("headers", [])), status=doc["status"],
            created=doc["created"], due=doc["dueAt"], tries=doc.get("tries", 0), remote_task=doc.get("remoteTask"),
            task_status=doc.get("taskStatus"),
        )  # fmt: skip


def entry_document(
    request: str, version: int, pharmacy: str, address: str, headers: list[str], created: datetime
) -> dict[str, Any]:
    """A new entry for the signed version `version` of `request`, due at once."""
    return {
        "_id": request, "request": request, "version": version, "pharmacy": pharmacy, "address": address,
        "headers": headers, "status": QUEUED, "created": created, "dueAt": created, "tries": 0,
        "remoteTask": None, "taskStatus": None, "events": [{"at": created, "status": QUEUED}],
    }  # fmt: skip


class PharmacyOutbox:
    """The `pharmacy_outbox` collection of the server's database."""

    def __init__(self, store: MongoResourceStore) -> None:
        self._entries = store.client[store.database_name][COLLECTION]

    async def ensure_indexes(self) -> None:
        """The due index; also creates the collection the write transactions insert into."""
        async with mongo_errors(COLLECTION):
            await self._entries.create_index([("status", ASCENDING), ("dueAt", ASCENDING)], name="due")

    async def get(self, request: str) -> PharmacyEntry | None:
        async with mongo_errors(COLLECTION):
            doc = await self._entries.find_one({"_id": request})
        return PharmacyEntry.from_doc(doc) if doc else None

    async def due(self, now: datetime, limit: int) -> list[PharmacyEntry]:
        """Entries to send or poll now, due longest first."""
        async with mongo_errors(COLLECTION):
            cursor = self._entries.find({"status": {"$in": list(DUE)}, "dueAt": {"$lte": now}})
            return [PharmacyEntry.from_doc(doc) async for doc in cursor.sort("dueAt", ASCENDING).limit(limit)]

    async def record(
        self,
        entry: PharmacyEntry,
        status: str,
        now: datetime,
        due: datetime,
        *,
        note: str | None = None,
        remote_task: str | None = None,
        task_status: str | None = None,
    ) -> None:
        """Move `entry` to `status`, due again at `due`, with a log event (a retry counts a try)."""
        fields: dict[str, Any] = {"status": status, "dueAt": due, "updated": now}
        if remote_task is not None:
            fields["remoteTask"] = remote_task
        if task_status is not None:
            fields["taskStatus"] = task_status
        if note is not None:
            fields["error"] = note
        event = {"at": now, "status": status, **({"note": note} if note else {})}
        update: dict[str, Any] = {"$set": fields, "$push": {"events": {"$each": [event], "$slice": -_EVENTS_KEPT}}}
        if status == RETRYING:
            update["$inc"] = {"tries": 1}
        async with mongo_errors(COLLECTION):
            await self._entries.update_one({"_id": entry.id}, update)
        entry.status, entry.due = status, due
        entry.remote_task = remote_task or entry.remote_task
        entry.task_status = task_status or entry.task_status

    async def postpone(self, entry: PharmacyEntry, due: datetime) -> None:
        """Look at `entry` again at `due`, without a log event (a poll that found nothing new)."""
        async with mongo_errors(COLLECTION):
            await self._entries.update_one({"_id": entry.id}, {"$set": {"dueAt": due}})
        entry.due = due
