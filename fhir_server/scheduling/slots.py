"""Slot generation: each Schedule's free Slots over a rolling horizon, idempotently.

A Slot's id is derived from its Schedule and start (`slot_id`), so generating twice writes nothing new
and two processes generating at once write the same resources. Changing a Schedule's hours regenerates
the FREE future Slots only: a Slot that is no longer within the hours is deleted when nothing holds it,
and otherwise kept as it is and reported. The report is a Task per such Slot (`outside-working-hours`,
focus the Appointment, owner the Schedule's first actor), written once, so staff can move or cancel the
booking; nothing booked is ever deleted. Writes are conditional on the version read (`ifMatch`), so a
Slot booked meanwhile makes the chunk fail and the next round see it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..engine import read_resource
from ..engine.bundle.transaction import process_transaction
from ..errors import FhirError, InvalidRequest, ResourceDeleted, ResourceNotFound
from ..i18n import _
from ..storage import ResourceStore
from .appointments import HOLDING, format_instant, instant, relative
from .availability import working_times
from .extensions import BASE, local_instant, read_availability
from .lookup import SCHEDULING, find_all

TASK_CODES = BASE.replace("StructureDefinition", "CodeSystem") + "scheduling-task"
SLOT_DAY = BASE.replace("StructureDefinition", "NamingSystem") + "slot-day"
"""Slot.identifier system: `{schedule id}/{UTC date of the start}`, so $find finds a day's Slots by an exact match."""
OUTSIDE_HOURS = "outside-working-hours"
_CHUNK = 200
_IN_ONE_SEARCH = 100


@dataclass
class SlotReport:
    """What one generation did: Slots written and removed, and the bookings left outside the hours."""

    written: int = 0
    removed: int = 0
    outside: list[str] = field(default_factory=list)
    """`Appointment/id` (or `Slot/id` when nothing names it) of each held Slot outside the hours."""
    failed: bool = False


def slot_id(schedule_id: str, start: datetime) -> str:
    """The id of `schedule_id`'s Slot starting at `start`: the same every time it is generated."""
    return "s" + hashlib.sha256(f"{schedule_id}|{format_instant(start)}".encode()).hexdigest()[:40]


def day_key(schedule_id: str, day: date) -> str:
    """The slot-day identifier value of `schedule_id`'s Slots starting on UTC date `day`."""
    return f"{schedule_id}/{day.isoformat()}"


def _slot(schedule: dict[str, Any], start: datetime, end: datetime, status: str) -> dict[str, Any]:
    slot: dict[str, Any] = {
        "resourceType": "Slot",
        "id": slot_id(schedule["id"], start),
        "identifier": [{"system": SLOT_DAY, "value": day_key(schedule["id"], start.astimezone(UTC).date())}],
        "schedule": {"reference": f"Schedule/{schedule['id']}"},
        "status": status,
        "start": format_instant(start),
        "end": format_instant(end),
    }
    for key in ("serviceType", "specialty", "serviceCategory", "appointmentType"):
        if schedule.get(key):
            slot[key] = schedule[key]
    return slot


def _same(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return {k: v for k, v in stored.items() if k != "meta"} == wanted


def _version(resource: dict[str, Any]) -> str:
    return f'W/"{resource.get("meta", {}).get("versionId", "")}"'


async def generate_slots(
    store: ResourceStore, schedule: dict[str, Any], now: datetime, horizon_days: int
) -> SlotReport:
    """Bring the future Slots of `schedule` in line with its hours up to `horizon_days` ahead (see the module)."""
    report = SlotReport()
    start = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    existing = {
        slot["id"]: slot
        for slot in await find_all(
            store, "Slot", [("schedule", f"Schedule/{schedule['id']}"), ("start", f"ge{format_instant(start)}")]
        )
    }
    end = start + timedelta(days=horizon_days)
    end = max([end, *(instant(s["start"], "Slot.start") + timedelta(minutes=1) for s in existing.values())])
    horizon_end = (schedule.get("planningHorizon") or {}).get("end")
    wanted: dict[str, dict[str, Any]] = {}
    if schedule.get("active", True):
        availability = read_availability(schedule)
        if isinstance(horizon_end, str):
            where = "Schedule.planningHorizon.end"
            end = min(end, local_instant(horizon_end, availability.zone, where, end_of_day=True))
        for slot_start, slot_end in working_times(availability, start, end):
            slot = _slot(schedule, slot_start, slot_end, "free")
            wanted[slot["id"]] = slot
    entries: list[dict[str, Any]] = []
    for identifier, slot in wanted.items():
        stored = existing.get(identifier)
        if stored is not None:
            slot["status"] = stored.get("status", "free")
            if _same(stored, slot):
                continue
        request = {"method": "PUT", "url": f"Slot/{identifier}"}
        if stored is not None:
            request["ifMatch"] = _version(stored)
        entries.append({"resource": slot, "request": request})
    stale = [slot for identifier, slot in existing.items() if identifier not in wanted]
    held = await _held(store, stale)
    for slot in stale:
        if slot.get("status") == "free" and slot["id"] not in held:
            entries.append({"request": {"method": "DELETE", "url": f"Slot/{slot['id']}", "ifMatch": _version(slot)}})
        else:
            report.outside.append(held.get(slot["id"], f"Slot/{slot['id']}"))
    for offset in range(0, len(entries), _CHUNK):
        chunk = entries[offset : offset + _CHUNK]
        try:
            await process_transaction(store, SCHEDULING, chunk, None)
        except FhirError:
            report.failed = True  # a Slot changed since it was read (booked): the next round sees it
            continue
        report.removed += sum(1 for entry in chunk if entry["request"]["method"] == "DELETE")
        report.written += sum(1 for entry in chunk if entry["request"]["method"] == "PUT")
    for reference in report.outside:
        await _report_outside(store, schedule, reference)
    return report


async def _held(store: ResourceStore, slots: list[dict[str, Any]]) -> dict[str, str]:
    """Slot id → `Appointment/id` of the appointment holding it, for the `slots` some appointment holds."""
    held: dict[str, str] = {}
    ids = [slot["id"] for slot in slots]
    for offset in range(0, len(ids), _IN_ONE_SEARCH):
        references = ",".join(f"Slot/{i}" for i in ids[offset : offset + _IN_ONE_SEARCH])
        for appointment in await find_all(store, "Appointment", [("slot", references), ("status", ",".join(HOLDING))]):
            for slot in appointment.get("slot") or []:
                reference = relative(slot.get("reference")) if isinstance(slot, dict) else None
                if reference is not None:
                    held[reference.split("/", 1)[1]] = f"Appointment/{appointment['id']}"
    return held


async def _report_outside(store: ResourceStore, schedule: dict[str, Any], reference: str) -> None:
    """The Task telling staff that `reference` lies outside `schedule`'s hours (written once)."""
    task_id = "ooh-" + hashlib.sha256(f"{schedule['id']}|{reference}".encode()).hexdigest()[:40]
    try:
        await read_resource(store, SCHEDULING, "Task", task_id)
        return
    except (ResourceNotFound, ResourceDeleted):
        pass
    text = _("A booking lies outside the new working hours of its schedule: move or cancel it.")
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "status": "requested",
        "intent": "proposal",
        "code": {"coding": [{"system": TASK_CODES, "code": OUTSIDE_HOURS}], "text": text},
        "description": text,
        "focus": {"reference": reference},
        "basedOn": [{"reference": f"Schedule/{schedule['id']}"}],
        "authoredOn": format_instant(datetime.now(UTC)),
    }
    owner = next(iter(schedule.get("actor") or []), None)
    if isinstance(owner, dict) and owner.get("reference"):
        task["owner"] = {"reference": owner["reference"]}
    await process_transaction(
        store, SCHEDULING, [{"resource": task, "request": {"method": "PUT", "url": f"Task/{task_id}"}}], None
    )


async def generate_all(store: ResourceStore, now: datetime, horizon_days: int) -> SlotReport:
    """One round over every Schedule (a Schedule whose hours cannot be read is skipped)."""
    total = SlotReport()
    for schedule in await find_all(store, "Schedule", []):
        try:
            report = await generate_slots(store, schedule, now, horizon_days)
        except InvalidRequest:
            continue
        total.written += report.written
        total.removed += report.removed
        total.outside += report.outside
        total.failed = total.failed or report.failed
    return total
