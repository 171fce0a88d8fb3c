"""The outbox of messages for people (email, SMS): MongoDB collection `message_outbox`.

One document per message, its `_id` the caller's idempotency key: queueing the same key twice
(in a write's transaction, `LinkedDocument(if_absent=True)`, or here with `queue`) leaves one
message. Status: `queued` -> `sending` (an attempt is recorded, with its count, BEFORE the message
is handed to the channel) -> `sent`, or `retrying` (channel down or a temporary refusal: due again
after a backoff) -> ... -> `failed` (a permanent refusal, or out of tries). A sender claims a due
message with a lease (`leases.py`); one whose sender died while `sending` is claimed again when its
lease runs out and sent again with the same Message-ID / idempotency key (see messaging/__init__.py
for the guarantee).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from . import leases
from .backup import register_state_collection
from .mongo import aware, mongo_errors

COLLECTION = "message_outbox"
QUEUED, SENDING, SENT, RETRYING, FAILED = "queued", "sending", "sent", "retrying", "failed"
STATUSES = (QUEUED, SENDING, SENT, RETRYING, FAILED)
PENDING = (QUEUED, SENDING, RETRYING)
ASCENDING = 1
_EVENTS_KEPT = 20

register_state_collection(COLLECTION, written_at="created", reset=leases.RELEASED)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (an email attachment)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Message:
    """One outbound message and where it stands."""

    key: str
    channel: str
    to: str
    subject: str
    text: str
    html: str | None
    attachments: list[Attachment]
    message_id: str
    status: str
    created: datetime
    due: datetime
    attempts: int = 0
    error: str | None = None
    sent: datetime | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Message:
        files = [Attachment(a["filename"], a["contentType"], bytes(a["data"])) for a in doc.get("attachments", [])]
        return cls(
            key=doc["_id"], channel=doc["channel"], to=doc["to"], subject=doc.get("subject", ""), text=doc["text"],
            html=doc.get("html"), attachments=files, message_id=doc["messageId"], status=doc["status"],
            created=aware(doc["created"]), due=aware(doc["dueAt"]), attempts=doc.get("attempts", 0),
            error=doc.get("error"), sent=aware(doc["sentAt"]) if doc.get("sentAt") else None,
        )  # fmt: skip


def message_document(
    key: str,
    channel: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    attachments: list[Attachment],
    message_id: str,
    created: datetime,
) -> dict[str, Any]:
    """A new message, due at once."""
    files = [{"filename": a.filename, "contentType": a.content_type, "data": a.data} for a in attachments]
    return {
        "_id": key, "channel": channel, "to": to, "subject": subject, "text": text, "html": html,
        "attachments": files, "messageId": message_id, "status": QUEUED, "created": created, "dueAt": created,
        "attempts": 0, "worker": None, "leaseUntil": None, "error": None, "sentAt": None,
        "events": [{"at": created, "status": QUEUED}],
    }  # fmt: skip


class MessageOutbox:
    """The `message_outbox` collection of the server's database."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._messages = client[database][COLLECTION]
        self._leases = leases.Leases(self._messages)

    async def ensure_indexes(self) -> None:
        """The claim index (the `_id` is the idempotency key); creates the collection the write transactions
        insert into."""
        async with mongo_errors(COLLECTION):
            await self._messages.create_index(
                [("status", ASCENDING), ("channel", ASCENDING), ("dueAt", ASCENDING)], name="due"
            )

    async def queue(self, document: dict[str, Any]) -> bool:
        """Queue a message built by `message_document` unless its key is queued already; True when new."""
        fields = dict(document)
        key = fields.pop("_id")
        async with mongo_errors(COLLECTION):
            result = await self._messages.update_one({"_id": key}, {"$setOnInsert": fields}, upsert=True)
        return result.upserted_id is not None

    async def get(self, key: str) -> Message | None:
        async with mongo_errors(COLLECTION):
            doc = await self._messages.find_one({"_id": key})
        return Message.from_doc(doc) if doc else None

    async def statuses(self, keys: list[str]) -> dict[str, Message]:
        """The messages of these keys (missing ones left out)."""
        async with mongo_errors(COLLECTION):
            docs = await self._messages.find({"_id": {"$in": keys}}, {"attachments": 0}).to_list()
        return {doc["_id"]: Message.from_doc(doc) for doc in docs}

    async def claim(self, channel: str, worker: str, now: datetime, lease: timedelta, limit: int) -> list[Message]:
        """Take up to `limit` of the `channel`'s messages due longest, recording an attempt on each (status
        `sending`, one more attempt) before any of them leaves. A message another sender took between the
        look and the take is left to it (the take is conditioned on a free lease)."""
        due = {"status": {"$in": list(PENDING)}, "channel": channel, "dueAt": {"$lte": now}}
        available = {"$and": [due, leases.free(now)]}
        claim = uuid.uuid4().hex
        async with mongo_errors(COLLECTION):
            found = await self._messages.find(available, {"_id": 1}).sort("dueAt", ASCENDING).limit(limit).to_list()
            if not found:
                return []
            await self._messages.update_many(
                {"$and": [{"_id": {"$in": [doc["_id"] for doc in found]}}, available]},
                {"$set": {"status": SENDING, "worker": worker, "leaseUntil": now + lease, "claim": claim},
                 "$inc": {"attempts": 1},
                 "$push": {"events": {"$each": [{"at": now, "status": SENDING}], "$slice": -_EVENTS_KEPT}}},
            )  # fmt: skip
            docs = await self._messages.find({"claim": claim, "worker": worker}).sort("dueAt", ASCENDING).to_list()
        return [Message.from_doc(doc) for doc in docs]

    async def give_back(self, messages: list[Message], worker: str) -> None:
        """Release claimed messages that were never tried (their channel went down first): the attempt is undone."""
        if not messages:
            return
        async with mongo_errors(COLLECTION):
            await self._messages.update_many(
                {"_id": {"$in": [m.key for m in messages]}, "worker": worker, "status": SENDING},
                {"$set": {"status": RETRYING, **leases.RELEASED}, "$inc": {"attempts": -1}},
            )

    async def settle(
        self, message: Message, worker: str, status: str, now: datetime, *, due: datetime | None = None,
        error: str | None = None,
    ) -> bool:  # fmt: skip
        """Record the outcome of an attempt (`sent`, `retrying` due again at `due`, `failed`) and release the
        lease; False when the lease was lost to another sender."""
        fields: dict[str, Any] = {"status": status, "error": error, **leases.RELEASED}
        if due is not None:
            fields["dueAt"] = due
        if status == SENT:
            fields["sentAt"] = now
        event = {"at": now, "status": status, **({"note": error} if error else {})}
        async with mongo_errors(COLLECTION):
            result = await self._messages.update_one(
                {"_id": message.key, "worker": worker},
                {"$set": fields, "$push": {"events": {"$each": [event], "$slice": -_EVENTS_KEPT}}},
            )
        return result.matched_count == 1

    async def counts(self) -> dict[str, int]:
        """How many messages are in each status."""
        async with mongo_errors(COLLECTION):
            return {s: await self._messages.count_documents({"status": s}) for s in STATUSES}
