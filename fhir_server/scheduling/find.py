"""`Appointment/$find`: the times when every actor a visit needs is free, as proposed Appointments.

The candidates are the Slots of the matching Schedules (their actors, visit type, specialty), in start
order; a Slot is proposed when none of its Schedule's actors, nor the requested location or patient, has
more holding appointments at that time than its Schedules allow (slot status is not trusted for this: a
plain REST booking is counted too). A requested location that is not on the Schedule must be free as
well: through a Slot of its own Schedule at the same time when it has one, else by its appointments.
Only free/busy is revealed: a proposal names no other patient's appointment.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import InvalidRequest, Issue, TooCostly
from ..i18n import _
from ..storage import ResourceStore
from .appointments import HOLDING, LONGEST, actors, format_instant, holds_time, instant, times
from .booking import existing, offers
from .extensions import overbooking
from .lookup import each, find_all
from .slots import SLOT_DAY, day_key

MAX_DAYS = 93
"""The widest window one $find looks at."""
_IN_ONE_SEARCH = 100
_AT_ONCE = 8
"""Searches one $find runs at the same time."""


@dataclass(frozen=True)
class FindRequest:
    start: datetime
    end: datetime
    practitioners: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    patient: str | None = None
    service_types: tuple[str, ...] = ()
    specialties: tuple[str, ...] = ()
    count: int = 20
    offset: int = 0


@dataclass
class Found:
    """One page of proposals (`more`: another page follows)."""

    proposals: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False


def _token(raw: str) -> set[tuple[str | None, str]]:
    out = set()
    for value in raw.split(","):
        system, sep, code = value.partition("|")
        out.add((system or None, code) if sep else (None, value))
    return out


def parse_find(query: list[tuple[str, str]], now: datetime, default_count: int, max_count: int) -> FindRequest:
    """The $find request of `query`; raises InvalidRequest naming the parameter."""
    values: dict[str, list[str]] = defaultdict(list)
    for name, value in query:
        values[name].append(value)
    for name in ("start", "end"):
        if not values.get(name):
            raise InvalidRequest(_("'{name}' is required.").format(name=name), expression=name)
    start = instant(values["start"][0] + ("" if len(values["start"][0]) > 10 else "T00:00:00Z"), "start")
    end = instant(values["end"][0] + ("" if len(values["end"][0]) > 10 else "T00:00:00Z"), "end")
    if end <= start:
        raise InvalidRequest(_("'end' must come after 'start'."), expression="end")
    if end - start > timedelta(days=MAX_DAYS):
        raise TooCostly(_("$find looks at most {days} days at once.").format(days=MAX_DAYS), expression="end")
    count = default_count
    if values.get("_count"):
        raw = values["_count"][0]
        if not raw.isdigit():
            raise InvalidRequest(_("'_count' must be a whole number."), expression="_count")
        count = min(int(raw), max_count)
    offset = int(values["_offset"][0]) if values.get("_offset") and values["_offset"][0].isdigit() else 0
    return FindRequest(
        start=max(start, now),
        end=end,
        practitioners=tuple(_references(values.get("practitioner", []), "Practitioner", "practitioner")),
        locations=tuple(_references(values.get("location", []), "Location", "location")),
        patient=next(iter(_references(values.get("patient", []), "Patient", "patient")), None),
        service_types=tuple(values.get("service-type", []) + values.get("visit-type", [])),
        specialties=tuple(values.get("specialty", [])),
        count=count,
        offset=offset,
    )


def _references(raw: list[str], default_type: str, name: str) -> list[str]:
    out = []
    for value in ",".join(raw).split(","):
        value = value.strip()
        if not value:
            continue
        reference = value if "/" in value else f"{default_type}/{value}"
        if not reference.split("/")[-2][:1].isupper():
            raise InvalidRequest(_("'{value}' is not a reference.").format(value=value[:80]), expression=name)
        out.append("/".join(reference.split("/")[-2:]))
    return out


async def _schedules(store: ResourceStore, request: FindRequest) -> list[dict[str, Any]]:
    """The Schedules whose Slots are candidates; raises InvalidRequest for an unknown actor or visit type.

    A named actor is read only when no Schedule names it (to tell "unknown" from "not scheduled"):
    one query less on the common path.
    """
    criteria = [("active", "true")]
    primary = request.practitioners or request.locations
    if primary:
        criteria.append(("actor", ",".join(primary)))
    for specialty in request.specialties:
        criteria.append(("specialty", specialty))
    schedules = await find_all(store, "Schedule", criteria)
    named = {a.get("reference") for s in schedules for a in s.get("actor") or [] if isinstance(a, dict)}
    for reference in request.practitioners:
        if reference not in named:
            await existing(store, reference, "practitioner")
    for reference in request.locations:
        if reference not in named:
            await existing(store, reference, "location")
    if request.patient is not None:
        await existing(store, request.patient, "patient")
    if request.service_types:
        wanted = set().union(*(_token(raw) for raw in request.service_types))
        offering = [s for s in schedules if offers(s, wanted)]
        if not offering and not any(offers(s, wanted) for s in await find_all(store, "Schedule", [("active", "true")])):
            text = _("No schedule offers this visit type.")
            raise InvalidRequest(text, issues=[Issue("error", "not-found", text, "service-type")])
        schedules = offering
    if len(schedules) > _IN_ONE_SEARCH:
        raise TooCostly(
            _("Too many schedules match; name a practitioner, location or visit type."), expression="practitioner"
        )
    return schedules


class _Busy:
    """The holding appointments of the involved actors over the window, and each actor's capacity."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
        self.capacity: dict[str, int] = defaultdict(lambda: 1)

    async def load(self, store: ResourceStore, references: set[str], start: datetime, end: datetime) -> None:
        """One search per actor (a comma-separated list of actors, an OR, cannot drive the index)."""
        now = datetime.now(UTC)

        async def one(reference: str) -> None:
            window = [
                ("actor", reference),
                ("status", ",".join(HOLDING)),
                ("date", f"lt{format_instant(end)}"),
                ("date", f"gt{format_instant(start - LONGEST)}"),
            ]
            async for appointment in each(store, "Appointment", window):
                span = times(appointment) if holds_time(appointment, now) else None
                if span is not None and reference in {a.reference for a in actors(appointment)}:
                    self.spans[reference].append(span)

        await asyncio.gather(*(one(reference) for reference in sorted(references)))

    def free(self, reference: str, start: datetime, end: datetime) -> bool:
        overlapping = sum(1 for s, e in self.spans.get(reference, ()) if s < end and start < e)
        return overlapping < self.capacity[reference]


def _proposal(
    slot: dict[str, Any], schedule: dict[str, Any], request: FindRequest, extra: list[tuple[str, dict[str, Any] | None]]
) -> dict[str, Any]:
    references = [a["reference"] for a in schedule.get("actor") or [] if isinstance(a, dict) and a.get("reference")]
    slots = [{"reference": f"Slot/{slot['id']}"}]
    for reference, other_slot in extra:
        references.append(reference)
        if other_slot is not None:
            slots.append({"reference": f"Slot/{other_slot['id']}"})
    if request.patient is not None:
        references.append(request.patient)
    proposal: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": "p" + hashlib.sha256("|".join([slot["id"], *references]).encode()).hexdigest()[:32],
        "status": "proposed",
        "start": slot["start"],
        "end": slot["end"],
        "slot": slots,
        "participant": [
            {"actor": {"reference": r}, "required": "required", "status": "needs-action"}
            for r in dict.fromkeys(references)
        ],
    }
    for key in ("serviceType", "specialty", "appointmentType"):
        if schedule.get(key):
            proposal[key] = schedule[key]
    return proposal


async def find_appointments(store: ResourceStore, request: FindRequest) -> Found:
    """One page of proposed Appointments for `request`, in start order."""
    schedules = await _schedules(store, request)
    found = Found()
    if not schedules:
        return found
    by_id = {s["id"]: s for s in schedules}
    location_schedules = (
        await find_all(store, "Schedule", [("active", "true"), ("actor", ",".join(request.locations))])
        if request.locations
        else []
    )
    involved = {
        a["reference"] for s in schedules for a in s.get("actor") or [] if isinstance(a, dict) and a.get("reference")
    }
    involved |= set(request.locations) | ({request.patient} if request.patient else set())
    busy = _Busy()
    _loaded, room_slots, slots = await asyncio.gather(
        busy.load(store, involved, request.start, request.end),
        _room_slots(store, location_schedules, request),
        _slots_in(store, list(by_id), request),
    )
    for schedule in [*schedules, *location_schedules]:
        for actor in schedule.get("actor") or []:
            reference = actor.get("reference") if isinstance(actor, dict) else None
            if reference:
                busy.capacity[reference] = max(busy.capacity[reference], 1 + overbooking(schedule))
    skipped, wanted = 0, request.offset
    for slot in slots:
        schedule = by_id[slot["schedule"]["reference"].split("/")[-1]]
        start, end = instant(slot["start"], "Slot.start"), instant(slot["end"], "Slot.end")
        if end > request.end:
            continue
        own = [a.get("reference") for a in schedule.get("actor") or [] if isinstance(a, dict)]
        if not all(busy.free(r, start, end) for r in own if r) or (
            request.patient and not busy.free(request.patient, start, end)
        ):
            continue
        extra = []
        if request.locations and not set(request.locations) & set(own):
            room = _free_room(request, room_slots, busy, slot, start, end)
            if room is None:
                continue
            extra.append(room)
        if skipped < wanted:
            skipped += 1
            continue
        if len(found.proposals) == request.count:
            found.more = True
            break
        found.proposals.append(_proposal(slot, schedule, request, extra))
    return found


_OFFERED = ("free", "busy", "busy-tentative")
"""Slot statuses that offer time (busy ones too: whether an actor is free is the appointments' to say).

Filtered here, not in the search: a `status` equality could drive the database index instead of the
day identifier, and nearly every Slot is free."""


async def _slots_in(store: ResourceStore, schedule_ids: list[str], request: FindRequest) -> list[dict[str, Any]]:
    """The offered Slots of `schedule_ids` starting in the window, in start order.

    They are found by their day identifier (slots.py), an equality the database index drives exactly,
    rather than by Schedule (every Slot of the Schedule, 90 days of them) and start range.
    """
    first, last = request.start.date(), (request.end - timedelta(microseconds=1)).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    gate = asyncio.Semaphore(_AT_ONCE)

    async def one_day(schedule_id: str, day: date) -> list[dict[str, Any]]:
        # one identifier value per search: a comma-separated list (an OR) cannot drive the index
        async with gate:
            return await find_all(store, "Slot", [("identifier", f"{SLOT_DAY}|{day_key(schedule_id, day)}")])

    days_found = await asyncio.gather(*(one_day(i, day) for i in schedule_ids for day in days))
    found = [
        slot
        for slots in days_found
        for slot in slots
        if slot.get("status") in _OFFERED and request.start <= instant(slot["start"], "Slot.start") < request.end
    ]
    return sorted(found, key=lambda slot: (slot["start"], slot["schedule"]["reference"]))


async def _room_slots(
    store: ResourceStore, schedules: list[dict[str, Any]], request: FindRequest
) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
    """Location → (start, end) → its Slot, for the requested locations that have Schedules."""
    out: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    if not schedules:
        return out
    owner = {
        s["id"]: [a["reference"] for a in s.get("actor") or [] if a.get("reference") in request.locations]
        for s in schedules
    }
    for slot in await _slots_in(store, list(owner), request):
        for location in owner.get(slot["schedule"]["reference"].split("/")[-1], []):
            out[location][(slot["start"], slot["end"])] = slot
    return out


def _free_room(
    request: FindRequest, room_slots: dict[str, dict[tuple[str, str], dict[str, Any]]], busy: _Busy,
    slot: dict[str, Any], start: datetime, end: datetime,
) -> tuple[str, dict[str, Any] | None] | None:  # fmt: skip
    """The first requested location free at the Slot's time (with its own Slot when it has a Schedule)."""
    for location in request.locations:
        if not busy.free(location, start, end):
            continue
        if location in room_slots:
            own = room_slots[location].get((slot["start"], slot["end"]))
            if own is not None:
                return location, own
            continue
        return location, None
    return None
