"""Appointment reminders: MongoDB collection `reminders`, one document per appointment × rule × channel × start.

The Appointment write rule (reminders/rules.py) inserts them in the write's transaction (if absent:
the `_id` is the idempotency key) and cancels, in the same transaction, the scheduled ones the new
version no longer plans (cancelled, or moved: the new start is a new key). Status: `scheduled` ->
`queued` (its message is in the outbox) -> `sent` / `failed` (its Communication is written), or
`not-sent` (opted out, no address: a Communication not-done), or `cancelled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient

from . import leases
from .backup import register_state_collection
from .mongo import aware, mongo_errors

COLLECTION = "reminders"
SCHEDULED, QUEUED, SENT, FAILED, NOT_SENT, CANCELLED = "scheduled", "queued", "sent", "failed", "not-sent", "cancelled"
ASCENDING = 1

register_state_collection(COLLECTION, written_at="created", reset=leases.RELEASED)


@dataclass(frozen=True)
class Reminder:
    """One planned reminder and where it stands."""

    key: str
    appointment: str
    rule: str
    channel: str
    start: datetime
    due: datetime
    status: str
    patient: str | None = None
    message: str | None = None
    communication: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Reminder:
        return cls(
            key=doc["_id"], appointment=doc["appointment"], rule=doc["rule"], channel=doc["channel"],
            start=aware(doc["start"]), due=aware(doc["dueAt"]), status=doc["status"], patient=doc.get("patient"),
            message=doc.get("message"), communication=doc.get("communication"),
        )  # fmt: skip


def reminder_key(appointment: str, rule: str, channel: str, start: datetime) -> str:
    return f"{appointment}|{rule}|{channel}|{start.isoformat()}"


def reminder_document(
    appointment: str, patient: str, rule: str, channel: str, start: datetime, due: datetime, created: datetime
) -> dict[str, Any]:
    """A scheduled reminder (inserted if absent) of `appointment` for `patient`."""
    return {
        "_id": reminder_key(appointment, rule, channel, start), "appointment": appointment, "patient": patient,
        "rule": rule,
        "channel": channel, "start": start, "dueAt": due, "status": SCHEDULED, "created": created,
        "message": None, "communication": None,
    }  # fmt: skip


def cancel_others(appointment: str, kept: list[str], at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The update (match, change) cancelling the appointment's scheduled reminders not in `kept`."""
    return (
        {"appointment": appointment, "status": SCHEDULED, "_id": {"$nin": kept}},
        {"$set": {"status": CANCELLED, "updated": at}},
    )


def revive(kept: list[str], at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The update (match, change) scheduling again the reminders of `kept` cancelled earlier (an appointment
    cancelled then booked again at the same time)."""
    return {"_id": {"$in": kept}, "status": CANCELLED}, {"$set": {"status": SCHEDULED, "updated": at}}


class ReminderStore:
    """The `reminders` collection of the server's database."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._reminders = client[database][COLLECTION]

    async def ensure_indexes(self) -> None:
        """The due and per-appointment indexes; creates the collection the write transactions write into."""
        async with mongo_errors(COLLECTION):
            await self._reminders.create_index([("status", ASCENDING), ("dueAt", ASCENDING)], name="due")
            await self._reminders.create_index([("appointment", ASCENDING)], name="appointment")

    async def due(self, now: datetime, limit: int) -> list[Reminder]:
        """Scheduled reminders due by `now`, longest due first."""
        async with mongo_errors(COLLECTION):
            cursor = self._reminders.find({"status": SCHEDULED, "dueAt": {"$lte": now}}).sort("dueAt", ASCENDING)
            return [Reminder.from_doc(doc) for doc in await cursor.limit(limit).to_list()]

    async def queued(self, limit: int) -> list[Reminder]:
        """Reminders whose message is in the outbox, oldest due first."""
        async with mongo_errors(COLLECTION):
            cursor = self._reminders.find({"status": QUEUED}).sort("dueAt", ASCENDING)
            return [Reminder.from_doc(doc) for doc in await cursor.limit(limit).to_list()]

    async def of_appointment(self, appointment: str) -> list[Reminder]:
        async with mongo_errors(COLLECTION):
            docs = await self._reminders.find({"appointment": appointment}).sort("dueAt", ASCENDING).to_list()
        return [Reminder.from_doc(doc) for doc in docs]

    async def move(self, reminder: Reminder, from_status: str, status: str, at: datetime, **fields: Any) -> bool:
        """Move a reminder from `from_status` to `status` (setting `fields`); False when it was not in `from_status`
        (cancelled meanwhile by its appointment's write, or moved by an earlier round)."""
        async with mongo_errors(COLLECTION):
            result = await self._reminders.update_one(
                {"_id": reminder.key, "status": from_status}, {"$set": {"status": status, "updated": at, **fields}}
            )
        return result.modified_count == 1
