"""The scheduling write rules: sound working hours on a Schedule, and no double booking of anyone.

They run on every write path (REST create/update/patch, transaction and batch entries, imports, the
scheduling operations themselves), inside the write's commit (engine/rules/registry.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ..engine.rules.registry import WriteContext, write_rule
from ..errors import InvalidRequest, Unprocessable, VersionConflict
from ..i18n import _
from .appointments import FINAL, HOLDING, LONGEST, SCHEDULED_TYPES, Actor, actors, format_instant, holds_time, times
from .extensions import overbooking, read_availability

_SEEN = 200
"""Overlapping appointments read per actor: more than any overbooking allowance worth having."""


@write_rule("schedule-working-hours", ["Schedule"], ["create", "update", "patch"])
async def schedule_working_hours(context: WriteContext) -> None:
    """Refuse a Schedule whose working hours cannot be read (bad RRULE, time zone, times, periods)."""
    schedule = context.new
    if schedule is not None:
        read_availability(schedule)


@write_rule("appointment-no-double-booking", ["Appointment"], ["create", "update", "patch"])
async def no_double_booking(context: WriteContext) -> None:
    """Refuse an appointment that would overbook one of its actors beyond what their Schedule allows (409).

    One lock per actor and UTC day the appointment touches, taken before the searches it guards, so two
    bookings of one actor on one day are serialized across processes while other actors and days go on.
    """
    appointment = context.new
    if appointment is None:
        return
    _check_transition(context)
    span = times(appointment)
    now = datetime.now(UTC)
    if span is None or not holds_time(appointment, now):
        return
    start, end = span
    involved = actors(appointment)
    for actor in involved:
        for day in _days(start, end):
            await context.lock(f"booking/{actor.reference}/{day.isoformat()}")
    for actor in involved:
        await _check_actor(context, actor, start, end, now)


def _check_transition(context: WriteContext) -> None:
    """A cancelled, fulfilled or no-show appointment is over: it never holds time again."""
    before = context.current.resource() if context.current is not None and not context.current.deleted else None
    after = context.new or {}
    if before is not None and before.get("status") in FINAL and after.get("status") in HOLDING:
        raise Unprocessable(
            _("Appointment/{id} is {status}; book a new appointment instead.").format(
                id=context.resource_id, status=before.get("status")
            ),
            expression="Appointment.status",
        )


def _days(start: datetime, end: datetime) -> list[date]:
    last = (end - timedelta(microseconds=1)).date()
    return [start.date() + timedelta(days=n) for n in range((last - start.date()).days + 1)]


async def _capacity(context: WriteContext, actor: Actor) -> int:
    """How many holding appointments `actor` may have at once: 1, plus its Schedules' overbooking allowance."""
    if actor.resource_type not in SCHEDULED_TYPES:
        return 1
    schedules = await context.find("Schedule", [("actor", actor.reference), ("active", "true")], 20)
    return 1 + max((overbooking(record.resource()) for record in schedules), default=0)


async def _check_actor(context: WriteContext, actor: Actor, start: datetime, end: datetime, now: datetime) -> None:
    window = [
        ("actor", actor.reference),
        ("status", ",".join(HOLDING)),
        ("date", f"lt{format_instant(end)}"),
        ("date", f"gt{format_instant(start - LONGEST)}"),
    ]
    found = [r.resource() for r in await context.find("Appointment", window, _SEEN) if r.id != context.resource_id]
    found += [w.record.resource() for w in context.writes if w is not context.write and not w.record.deleted
              and w.record.resource_type == "Appointment" and w.record.id != context.resource_id]  # fmt: skip
    clashes = [other for other in found if _overlaps(other, actor, start, end, now)]
    if not clashes or len(clashes) < await _capacity(context, actor):
        return
    raise VersionConflict(
        _("{actor} is already booked at that time: Appointment/{other}.").format(
            actor=actor.reference, other=clashes[0].get("id")
        ),
        expression=actor.where,
    )


def _overlaps(other: dict, actor: Actor, start: datetime, end: datetime, now: datetime) -> bool:
    if not holds_time(other, now) or actor.reference not in {a.reference for a in actors(other)}:
        return False
    try:
        span = times(other)
    except InvalidRequest:  # stored before these rules with times they refuse: it holds no time
        return False
    return span is not None and span[0] < end and start < span[1]
