"""The reminders of an Appointment follow it in the same transaction, on every write path: booked ->
scheduled, cancelled (or deleted, or no longer booked) -> cancelled, moved -> the old ones cancelled
and new ones scheduled for the new start."""

from __future__ import annotations

from ..engine.rules import WriteContext, write_rule
from ..storage.reminders import COLLECTION, cancel_others, reminder_document, revive
from .config import current
from .planning import plan


@write_rule("appointment-reminders", ["Appointment"], ["create", "update", "patch", "delete"])
async def appointment_reminders(context: WriteContext) -> None:
    appointment = context.new
    reference = f"Appointment/{context.resource_id}"
    at = context.write.record.last_updated
    planned = plan(appointment, current()[1].for_appointment(appointment), at) if appointment else []
    documents = [reminder_document(reference, p.patient, p.rule, p.channel, p.start, p.due, at) for p in planned]
    kept = [str(document["_id"]) for document in documents]
    if context.current is not None or context.interaction != "create":
        context.add_update(COLLECTION, *cancel_others(reference, kept, at))
    if kept:
        context.add_update(COLLECTION, *revive(kept, at))
    for document in documents:
        context.add_document(COLLECTION, document, if_absent=True)
