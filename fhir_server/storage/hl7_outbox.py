"""The order outbox, which is also the log of every HL7 v2 message sent: MongoDB collection `hl7_outbox`.

One entry per ServiceRequest version that needs a message to a lab (ORC-1 `NW` a new order, `XO` a
change, `HD` a hold, `RL` its release, `CA` the cancellation), keyed `ServiceRequest/<id>/<version>`
and inserted by the write observer in the transaction of that version, so an order exists exactly
when its ServiceRequest version does. The observer's control is what the version asks for; the
sender settles the one sent when the entry's turn comes (see `sequence.py`) and stores it here.

Status: `queued` -> `sent` (the connection is open and the message goes out) -> `acknowledged`
(AA), `retrying` (lab unreachable, no ACK, or an ACK for another message: due again after a
backoff, re-sent with the same MSH-10), `failed` (AE/AR, or an order that cannot be built: a Task
flags it) or `withdrawn` (replaced by a later version, or cancelled, before it ever left; or nothing
left to tell the lab). Each change is appended to `events`. Workers claim due entries with a lease
(one findOneAndUpdate with an expiry), so several server processes send each message once, and a dead worker's entry is
picked up again when its lease runs out.

Backups keep the collection (registered below): a restore gives back the pending orders with the
messages and MSH-10s already built, so nothing is lost or sent under a new control id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import leases
from .backup import register_state_collection
from .mongo import MongoResourceStore, mongo_errors

COLLECTION = "hl7_outbox"
QUEUED, SENT, ACKNOWLEDGED, RETRYING, FAILED, WITHDRAWN = (
    "queued", "sent", "acknowledged", "retrying", "failed", "withdrawn",
)  # fmt: skip
STATUSES = (QUEUED, SENT, ACKNOWLEDGED, RETRYING, FAILED, WITHDRAWN)
PENDING = (QUEUED, SENT, RETRYING)
NEW_ORDER, CHANGE, HOLD, RELEASE, CANCEL = "NW", "XO", "HD", "RL", "CA"
"""ORC-1 order control codes (HL7 table 0119)."""
_EVENTS_KEPT = 50
ASCENDING, DESCENDING = 1, -1

# `created` is the instant of the entry's version; a lease belongs to a process of the backed-up server
register_state_collection(COLLECTION, written_at="created", reset=leases.RELEASED)


@dataclass
class OutboxEntry:
    """One outbound message and where it stands."""

    id: str
    service_request: str
    version: int
    control: str
    lab: str
    status: str
    created: datetime
    due: datetime
    tries: int = 0
    transmissions: int = 0
    control_id: str | None = None
    message: str | None = None
    placer: dict[str, Any] | None = None
    ack: str | None = None
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OutboxEntry:
        return cls(
            id=doc["_id"], service_request=doc["serviceRequest"], version=doc["version"], control=doc["control"],
            lab=doc["lab"], status=doc["status"], created=doc["created"], due=doc["dueAt"], tries=doc.get("tries", 0),
            transmissions=doc.get("transmissions", 0), control_id=doc.get("controlId"), message=doc.get("message"),
            placer=doc.get("placer"), ack=doc.get("ack"), error=doc.get("error"), events=list(doc.get("events", [])),
        )  # fmt: skip


def entry_document(service_request: str, version: int, control: str, lab: str, created: datetime) -> dict[str, Any]:
    """A new outbox entry, due at once."""
    return {
        "_id": f"{service_request}/{version}", "serviceRequest": service_request, "version": version,
        "control": control, "lab": lab, "status": QUEUED, "created": created, "dueAt": created, "tries": 0,
        "transmissions": 0, "leaseUntil": None, "worker": None, "controlId": None, "message": None, "placer": None,
        "ack": None, "error": None, "events": [{"at": created, "status": QUEUED}],
    }  # fmt: skip


class OutboxStore:
    """The `hl7_outbox` collection of the server's database."""

    def __init__(self, store: MongoResourceStore) -> None:
        self._entries = store.client[store.database_name][COLLECTION]
        self._leases = leases.Leases(self._entries)

    async def ensure_indexes(self) -> None:
        """The claim, per-order and listing indexes; safe at every start (and creates the collection, which
        the write transactions then insert into)."""
        async with mongo_errors(COLLECTION):
            await self._entries.create_index([("status", ASCENDING), ("dueAt", ASCENDING)], name="due")
            await self._entries.create_index([("serviceRequest", ASCENDING), ("version", ASCENDING)], name="order")
            await self._entries.create_index([("created", DESCENDING)], name="created")

    async def of_order(self, service_request: str) -> list[OutboxEntry]:
        """Every entry of one ServiceRequest ("ServiceRequest/id"), oldest version first."""
        async with mongo_errors(COLLECTION):
            cursor = self._entries.find({"serviceRequest": service_request}).sort("version", ASCENDING)
            return [OutboxEntry.from_doc(doc) async for doc in cursor]

    async def get(self, entry_id: str) -> OutboxEntry | None:
        async with mongo_errors(COLLECTION):
            doc = await self._entries.find_one({"_id": entry_id})
        return OutboxEntry.from_doc(doc) if doc else None

    async def claim(self, worker: str, now: datetime, lease: timedelta) -> OutboxEntry | None:
        """Take the entry due longest, unless another worker holds its lease."""
        doc = await self._leases.claim(
            {"status": {"$in": list(PENDING)}, "dueAt": {"$lte": now}},
            worker,
            now,
            duration=lease,
            sort=[("dueAt", ASCENDING)],
        )
        return OutboxEntry.from_doc(doc) if doc else None

    async def prepare(
        self, entry: OutboxEntry, worker: str, control: str, control_id: str, message: str, placer: dict[str, Any]
    ) -> bool:
        """Store the message built for an entry and its settled ORC-1 (once: every re-send is this text, with
        this MSH-10)."""
        async with mongo_errors(COLLECTION):
            result = await self._entries.update_one(
                {"_id": entry.id, "worker": worker, "message": None},
                {"$set": {"control": control, "controlId": control_id, "message": message, "placer": placer}},
            )
        if result.modified_count == 1:
            entry.control, entry.control_id, entry.message, entry.placer = control, control_id, message, placer
        return result.modified_count == 1

    async def record(
        self,
        entry: OutboxEntry,
        worker: str,
        status: str,
        now: datetime,
        *,
        note: str | None = None,
        due: datetime | None = None,
        ack: str | None = None,
        keep_lease: bool = False,
    ) -> bool:
        """Move a claimed entry to `status` (with a log event); False when the lease was lost to another worker.

        `sent` counts a transmission; `retrying` counts a try and is due again at `due`.
        """
        fields: dict[str, Any] = {"status": status, "updated": now}
        if not keep_lease:
            fields.update(leases.RELEASED)
        if due is not None:
            fields["dueAt"] = due
        if ack is not None:
            fields["ack"] = ack
        if status in (FAILED, RETRYING) or note is not None:
            fields["error"] = note
        counters = {"transmissions": 1} if status == SENT else {"tries": 1} if status == RETRYING else {}
        event = {"at": now, "status": status, **({"note": note} if note else {})}
        update: dict[str, Any] = {"$set": fields, "$push": {"events": {"$each": [event], "$slice": -_EVENTS_KEPT}}}
        if counters:
            update["$inc"] = counters
        async with mongo_errors(COLLECTION):
            result = await self._entries.update_one({"_id": entry.id, "worker": worker}, update)
        if result.matched_count == 1:
            entry.status = status
            entry.transmissions += counters.get("transmissions", 0)
            entry.tries += counters.get("tries", 0)
        return result.matched_count == 1

    async def postpone(self, entry: OutboxEntry, worker: str, due: datetime) -> bool:
        """Give a claimed entry back, due again at `due`, without a log event (waiting for an earlier message)."""
        return await self._leases.release({"_id": entry.id}, worker, also={"dueAt": due})

    async def withdraw(self, entry_id: str, now: datetime, note: str) -> bool:
        """Withdraw a message that never left (pending, never transmitted, not held by a worker)."""
        async with mongo_errors(COLLECTION):
            result = await self._entries.update_one(
                {"_id": entry_id, "status": {"$in": [QUEUED, RETRYING]}, "transmissions": 0, **leases.free(now)},
                {"$set": {"status": WITHDRAWN, "updated": now, "error": note, **leases.RELEASED},
                 "$push": {"events": {"at": now, "status": WITHDRAWN, "note": note}}},
            )  # fmt: skip
        return result.modified_count == 1

    async def list(
        self,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        service_request: str | None = None,
        limit: int = 100,
    ) -> list[OutboxEntry]:
        """Messages newest first, by status, creation time (since inclusive, until exclusive) or ServiceRequest."""
        query: dict[str, Any] = {}
        if status:
            query["status"] = status
        if service_request:
            query["serviceRequest"] = service_request
        if since or until:
            query["created"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        async with mongo_errors(COLLECTION):
            docs = await self._entries.find(query).sort("created", DESCENDING).limit(limit).to_list()
        return [OutboxEntry.from_doc(doc) for doc in docs]

    async def counts(self) -> dict[str, int]:
        """How many entries are in each status."""
        async with mongo_errors(COLLECTION):
            return {s: await self._entries.count_documents({"status": s}) for s in STATUSES}
