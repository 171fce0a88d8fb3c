"""Every HL7 v2 message received, in MongoDB collection `hl7_messages`.

A message is stored (raw text, received time, MSH-3/4/9/10) before any positive ACK; its
status then goes received -> processed or error, with the ACKs sent, the error text, the
warnings (W problems also sent as ERR segments, e.g. local codes without a LOINC mapping) and
the resources it produced (their versions, the message's Provenance among them). Messages
accepted for processing carry `dedup` = MSH-3 + MSH-10 under a unique (sparse) index: a
retransmission finds the original and gets its ACKs again.
Rejected messages are kept without that key, so a corrected resend is not mistaken for a copy.
An accepted message is stored leased to the process that received it (`leases.py`); a `received`
message whose lease is free is claimed by a resend or by the recovery duty and processed there.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..errors import VersionConflict
from . import leases
from .backup import register_state_collection
from .mongo import MongoResourceStore, mongo_errors
from .records import now

RECEIVED, PROCESSED, ERROR = "received", "processed", "error"
STATUSES = (RECEIVED, PROCESSED, ERROR)
COLLECTION = "hl7_messages"

# Backups keep the message log (retransmissions are still recognised); a lease means nothing after a restore,
# so a message still `received` there is taken up by the recovery duty.
register_state_collection(COLLECTION, reset=leases.RELEASED)


class MessageHeader(Protocol):
    """The MSH fields a stored message is listed and recognised by (the adapter's parsed header)."""

    @property
    def sending_app(self) -> str: ...
    @property
    def sending_facility(self) -> str: ...
    @property
    def message_type(self) -> str: ...
    @property
    def control_id(self) -> str: ...


class MessageWarning(Protocol):
    """A warning of a processing attempt (the adapter's ERR problem)."""

    @property
    def code(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass
class MessageRecord:
    """One stored message, as the visibility queries return it."""

    id: str
    received: datetime
    status: str
    raw: str
    sending_app: str
    sending_facility: str
    message_type: str
    control_id: str
    acks: list[str] = field(default_factory=list)
    error: str | None = None
    resources: list[str] = field(default_factory=list)
    charset: str = ""
    attempts: int = 0
    warnings: list[dict[str, str]] = field(default_factory=list)
    """`{code, location, text}` of each warning of the last processing."""
    updated: datetime | None = None
    worker: str | None = None
    """The process holding the message's lease (see `leases.py`), while it is `received`."""
    claims: int = 0
    """How often it was taken over from a process that died holding it."""

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> MessageRecord:
        return cls(
            id=doc["_id"], received=doc["received"], status=doc["status"], raw=doc["raw"],
            sending_app=doc.get("sendingApp", ""), sending_facility=doc.get("sendingFacility", ""),
            message_type=doc.get("messageType", ""), control_id=doc.get("controlId", ""),
            acks=list(doc.get("acks", [])), error=doc.get("error"), resources=list(doc.get("resources", [])),
            charset=doc.get("charset", ""), attempts=doc.get("attempts", 0), warnings=list(doc.get("warnings", [])),
            updated=doc.get("updated"), worker=doc.get("worker"), claims=doc.get("claims", 0),
        )  # fmt: skip


class MessageStore:
    """The `hl7_messages` collection of the server's database."""

    def __init__(self, store: MongoResourceStore) -> None:
        self._messages = store.client[store.database_name][COLLECTION]
        self._leases = leases.Leases(self._messages)

    async def ensure_indexes(self) -> None:
        """The duplicate key, and the indexes of the status/time listings; safe at every start."""
        async with mongo_errors(COLLECTION):
            await self._messages.create_index(
                [("dedup.app", 1), ("dedup.control", 1)], name="dedup", unique=True, sparse=True
            )
            await self._messages.create_index([("status", 1), ("received", -1)], name="status_received")
            await self._messages.create_index([("received", -1)], name="received")

    async def add(
        self,
        raw: str,
        header: MessageHeader | None,
        charset: str,
        *,
        accepted: bool,
        status: str = RECEIVED,
        worker: str | None = None,
        **extra: Any,
    ) -> tuple[str, MessageRecord | None]:
        """Store a message durably (an accepted one leased to `worker`, who processes it next); return its
        id, or the original's record when it is a duplicate."""
        app, facility, kind, control = (
            (header.sending_app, header.sending_facility, header.message_type, header.control_id)
            if header is not None
            else ("", "", "", "")
        )
        doc: dict[str, Any] = {
            "_id": str(uuid.uuid4()), "received": now(), "status": status, "raw": raw, "charset": charset,
            "sendingApp": app, "sendingFacility": facility, "messageType": kind,
            "controlId": control, "acks": [], "error": None, "resources": [], "attempts": 0, **extra,
        }  # fmt: skip
        if accepted:
            doc["dedup"] = {"app": app, "control": control}
            doc.update(leases.held(worker, doc["received"]) if worker else leases.RELEASED)
        try:
            async with mongo_errors(COLLECTION):
                await self._messages.insert_one(doc)
        except VersionConflict:
            original = await self.find_original(app, control)
            if original is None:
                raise
            return original.id, original
        return doc["_id"], None

    async def find_original(self, sending_app: str, control_id: str) -> MessageRecord | None:
        async with mongo_errors(COLLECTION):
            doc = await self._messages.find_one({"dedup.app": sending_app, "dedup.control": control_id})
        return MessageRecord.from_doc(doc) if doc else None

    async def get(self, message_id: str) -> MessageRecord | None:
        async with mongo_errors(COLLECTION):
            doc = await self._messages.find_one({"_id": message_id})
        return MessageRecord.from_doc(doc) if doc else None

    async def add_ack(self, message_id: str, ack: str) -> None:
        """Remember an ACK before it is sent, so a duplicate can be answered with it."""
        async with mongo_errors(COLLECTION):
            await self._messages.update_one({"_id": message_id}, {"$push": {"acks": ack}})

    async def finish(
        self,
        message_id: str,
        status: str,
        *,
        error: str | None = None,
        resources: Sequence[str] = (),
        warnings: Sequence[MessageWarning] = (),
        ack: str | None = None,
    ) -> None:
        """Record the outcome of a processing attempt (it replaces the previous attempt's) and the ACK about
        to be sent for it, in one write."""
        notes = [{"code": w.code, "location": w.location, "text": w.text} for w in warnings]
        change: dict[str, Any] = {
            "$set": {
                "status": status,
                "error": error,
                "resources": list(resources),
                "warnings": notes,
                "updated": now(),
                **leases.RELEASED,
            },
            "$inc": {"attempts": 1},
        }
        if ack is not None:
            change["$push"] = {"acks": ack}
        async with mongo_errors(COLLECTION):
            await self._messages.update_one({"_id": message_id}, change)

    async def claim(self, original: MessageRecord, worker: str, at: datetime) -> MessageRecord | None:
        """Take a `received` message whose lease is free at `at` (see `leases.free`) for `worker`; None when
        it is processed, or leased to a live process."""
        gone = [original.worker] if original.worker and leases.is_gone(original.worker) else []
        return await self._claim({"_id": original.id, "status": RECEIVED}, worker, at, gone)

    async def claim_next(self, worker: str, at: datetime) -> MessageRecord | None:
        """Take the oldest `received` message whose lease is free at `at`, for `worker`."""
        async with mongo_errors(COLLECTION):
            holders = await self._messages.distinct("worker", {"status": RECEIVED, "leaseUntil": {"$gte": at}})
        gone = [h for h in holders if leases.is_gone(h)]
        return await self._claim({"status": RECEIVED}, worker, at, gone)

    async def _claim(
        self, condition: dict[str, Any], worker: str, at: datetime, gone: list[str]
    ) -> MessageRecord | None:
        doc = await self._leases.claim(condition, worker, at, gone=gone, sort=[("received", 1)], inc={"claims": 1})
        return MessageRecord.from_doc(doc) if doc else None

    async def renew(self, message_id: str, worker: str) -> bool:
        """Extend `worker`'s lease on a message it is processing; False when the lease is no longer its."""
        return await self._leases.renew({"_id": message_id, "status": RECEIVED}, worker, now())

    async def failed_ids(self) -> list[str]:
        """The ids of every message in status `error`, oldest first (what `mllp reprocess --failed` reruns)."""
        async with mongo_errors(COLLECTION):
            docs = await self._messages.find({"status": ERROR}, {"_id": 1}).sort("received", 1).to_list()
        return [doc["_id"] for doc in docs]

    async def list(
        self,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        *,
        sending_app: str | None = None,
        control_id: str | None = None,
    ) -> list[MessageRecord]:
        """Messages newest first, optionally by status, received time (since inclusive, until exclusive),
        sending application (MSH-3) and control id (MSH-10)."""
        query: dict[str, Any] = {}
        if status:
            query["status"] = status
        if sending_app:
            query["sendingApp"] = sending_app
        if control_id:
            query["controlId"] = control_id
        if since or until:
            query["received"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        async with mongo_errors(COLLECTION):
            docs = await self._messages.find(query).sort("received", -1).limit(limit).to_list()
        return [MessageRecord.from_doc(doc) for doc in docs]

    async def counts(self) -> dict[str, int]:
        """How many messages are in each status."""
        return {s: await self._messages.count_documents({"status": s}) for s in STATUSES}
