"""One round of the `send-reminders` duty: due reminders become messages (or a Communication not-done),
and reminders whose message settled get their Communication.

Each step is a conditional move of the reminder's status, so a round run twice, or by a process that
took the duty over half way, neither sends twice (the message's idempotency key is the reminder's)
nor records twice (the Communication's id is derived from the reminder's key and written with PUT).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import Settings
from ..engine.identity import now
from ..engine.update import update_resource
from ..i18n import _
from ..messaging import queue_message
from ..storage.database import Database
from ..storage.message_outbox import FAILED as MESSAGE_FAILED
from ..storage.message_outbox import SENT as MESSAGE_SENT
from ..storage.message_outbox import Message
from ..storage.reminders import CANCELLED, FAILED, NOT_SENT, QUEUED, SCHEDULED, SENT, Reminder
from .contact import address, language, opted_out, time_zone
from .content import Facts, languages, render
from .planning import REMINDED, patient_of, start_of
from .reading import REMINDERS, current

IDENTIFIER = "urn:fhir-server:reminder"
NOT_DONE = "http://terminology.hl7.org/CodeSystem/communication-not-done-reason"
MEDIUM = {"email": "EMAILWRIT", "sms": "SMSWRIT"}
BATCH = 500
AT_ONCE = 16


@dataclass
class RoundReport:
    queued: int = 0
    not_sent: int = 0
    cancelled: int = 0
    recorded: int = 0


def message_key(reminder: Reminder) -> str:
    return f"reminder/{reminder.key}"


def communication_id(reminder: Reminder) -> str:
    return "reminder-" + hashlib.sha256(reminder.key.encode()).hexdigest()[:48]


async def remind(database: Database, settings: Settings, limit: int = BATCH) -> RoundReport:
    """Dispatch the due reminders, then record the ones whose message settled (`AT_ONCE` at a time: each
    step waits mostly on the database)."""
    report = RoundReport()
    due = await database.reminders.due(now(), limit)
    await _each(due, lambda reminder: _dispatch(database, settings, reminder, report))
    queued = await database.reminders.queued(limit)
    messages = await database.message_outbox.statuses([message_key(r) for r in queued])

    async def settle(reminder: Reminder) -> None:
        message = messages.get(message_key(reminder))
        if message is None:  # the round that queued it stopped between the two steps: queue it again
            await _queue(database, settings, reminder)
        elif message.status in (MESSAGE_SENT, MESSAGE_FAILED):
            await _record_outcome(database, reminder, message, report)

    await _each(queued, settle)
    return report


async def _each(reminders: list[Reminder], step: Callable[[Reminder], Awaitable[None]]) -> None:
    for first in range(0, len(reminders), AT_ONCE):
        await asyncio.gather(*(step(reminder) for reminder in reminders[first : first + AT_ONCE]))


async def _facts(database: Database, settings: Settings, appointment: dict[str, Any]) -> Facts | None:
    patient = patient_of(appointment)
    actors = [p.get("actor", {}).get("reference", "") for p in appointment.get("participant", [])]
    practitioner = next((a for a in actors if a.startswith("Practitioner/")), None)
    location = next((a for a in actors if a.startswith("Location/")), None)
    keys = [k for k in (patient, practitioner, location) if k]
    found = await current(database.resources, keys)
    if patient not in found:
        return None
    place = found.get(location or "")
    phones = [t["value"] for t in (place or {}).get("telecom", []) if t.get("system") == "phone" and t.get("value")]
    return Facts(appointment, found[patient], found.get(practitioner or ""), place,
                 phones[0] if phones else settings.reminder_phone)  # fmt: skip


async def _current(database: Database, reminder: Reminder) -> dict[str, Any] | None:
    """The appointment as it is now, if the reminder still fits it (booked, same start, still to come)."""
    appointment = (await current(database.resources, [reminder.appointment])).get(reminder.appointment)
    if appointment is None or appointment.get("status") not in REMINDED or start_of(appointment) != reminder.start:
        return None
    return appointment if reminder.start > now() else None


async def _dispatch(database: Database, settings: Settings, reminder: Reminder, report: RoundReport) -> None:
    appointment = await _current(database, reminder)
    facts = await _facts(database, settings, appointment) if appointment else None
    if appointment is None or facts is None:
        if await database.reminders.move(reminder, SCHEDULED, CANCELLED, now()):
            report.cancelled += 1
        return
    reason = _refusal(facts, reminder.channel)
    if reason is not None:
        await _record(database, reminder, "not-done", reason=reason)
        if await database.reminders.move(reminder, SCHEDULED, NOT_SENT, now()):
            report.not_sent += 1
        return
    if await database.reminders.move(reminder, SCHEDULED, QUEUED, now(), message=message_key(reminder)):
        await _queue(database, settings, reminder, facts)
        report.queued += 1


def _refusal(facts: Facts, channel: str) -> tuple[str, str] | None:
    """Why a reminder cannot go out (a communication-not-done-reason code and words), or None."""
    if opted_out(facts.patient, channel):
        return "patient-objection", _("The patient opted out of reminders.")
    if address(facts.patient, channel, now()) is None:
        if channel == "sms":
            return "invalid-phone-number", _("The patient has no mobile number.")
        return "recipient-unavailable", _("The patient has no email address.")
    return None


async def _queue(database: Database, settings: Settings, reminder: Reminder, facts: Facts | None = None) -> None:
    """Queue the reminder's message (again: a no-op once queued)."""
    if facts is None:
        appointment = await _current(database, reminder)
        facts = await _facts(database, settings, appointment) if appointment else None
    to = address(facts.patient, reminder.channel, now()) if facts else None
    if facts is None or to is None:  # changed since it was queued: not sent after all
        await database.reminders.move(reminder, QUEUED, CANCELLED, now())
        return
    overrides = settings.reminder_templates_dir
    lang = language(facts.patient, languages(overrides), settings.reminder_language)
    zone = time_zone((facts.patient, facts.location), settings.reminder_time_zone)
    content = render(facts, lang, zone, overrides, reminder.channel, now())
    await queue_message(database, key=message_key(reminder), channel=reminder.channel, to=to,
                        subject=content.subject, text=content.text, attachments=content.attachments,
                        sender=settings.smtp_from)  # fmt: skip


async def _record_outcome(database: Database, reminder: Reminder, message: Message, report: RoundReport) -> None:
    if message.status == MESSAGE_SENT:
        await _record(database, reminder, "completed", message=message)
    else:
        reason = ("system-error", _("The message could not be delivered: {error}").format(error=message.error))
        await _record(database, reminder, "not-done", reason=reason, message=message)
    if await database.reminders.move(reminder, QUEUED, SENT if message.status == MESSAGE_SENT else FAILED, now()):
        report.recorded += 1


async def _record(
    database: Database, reminder: Reminder, status: str, *,
    reason: tuple[str, str] | None = None, message: Message | None = None,
) -> None:  # fmt: skip
    """The reminder as a Communication about the Appointment and its Patient (PUT: written once, whatever
    the number of rounds)."""
    patient = reminder.patient
    body: dict[str, Any] = {
        "resourceType": "Communication", "id": communication_id(reminder),
        "identifier": [{"system": IDENTIFIER, "value": reminder.key}], "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/communication-category",
                                  "code": "reminder"}]}],
        "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                                "code": MEDIUM[reminder.channel]}]}],
        "about": [{"reference": reminder.appointment}],
    }  # fmt: skip
    if patient:
        body["subject"] = {"reference": patient}
        body["recipient"] = [{"reference": patient}]
    if reason is not None:
        body["statusReason"] = {"coding": [{"system": NOT_DONE, "code": reason[0]}], "text": reason[1]}
    if message is not None and message.status == MESSAGE_SENT and message.sent is not None:
        body["sent"] = _instant(message.sent)
        body["payload"] = [{"contentString": "\n\n".join(p for p in (message.subject, message.text) if p)}]
    await update_resource(database.resources, REMINDERS, "Communication", communication_id(reminder), body)


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
