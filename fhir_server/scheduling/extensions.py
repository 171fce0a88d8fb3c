"""The Schedule extensions that carry working hours, and reading them into an `Availability`.

R4's Schedule names who is scheduled (`actor`), the visit types (`serviceType`), the specialty and an
optional `planningHorizon`, but not when they work. These extensions add it (see the package docstring):

- `schedule-timezone` (valueCode, an IANA name such as `Europe/Berlin`; UTC when absent);
- `schedule-availability` (0..*): `rrule` (valueString, an RFC 5545 RRULE without DTSTART, daily or
  coarser), `start` and `end` (valueTime, local wall-clock times; an end before the start runs past
  midnight);
- `schedule-exception` (0..*): valuePeriod, a closed time (holiday, leave); a date without a time is a
  whole local day, both ends included;
- `schedule-slot-minutes` (valuePositiveInt, default 15);
- `schedule-overbooking` (valueUnsignedInt, default 0): how many bookings beyond the first one slot takes.

Every problem is an InvalidRequest naming the element as a FHIRPath expression (`Schedule.extension[2]...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, rrule, rrulestr

from ..errors import InvalidRequest
from ..i18n import _

BASE = "https://fhir-server.dev/fhir/StructureDefinition/"
TIMEZONE = BASE + "schedule-timezone"
AVAILABILITY = BASE + "schedule-availability"
EXCEPTION = BASE + "schedule-exception"
SLOT_MINUTES = BASE + "schedule-slot-minutes"
OVERBOOKING = BASE + "schedule-overbooking"
HOLD_EXPIRES = BASE + "appointment-hold-expires"
"""On a held (pending) Appointment: the instant the hold lapses."""

DEFAULT_SLOT_MINUTES = 15
_ANCHOR = date(2000, 1, 3)
"""DTSTART of a rule when the Schedule has no planningHorizon.start (a Monday, so INTERVAL=2 weeks are stable)."""


@dataclass(frozen=True)
class Hours:
    """One recurring stretch of working time: on the days of `rule`, from `start` to `end` local time."""

    rule: rrule
    start: time
    end: time


@dataclass(frozen=True)
class Availability:
    """A Schedule's working hours, read and checked."""

    zone: ZoneInfo
    hours: tuple[Hours, ...]
    closed: tuple[tuple[datetime, datetime], ...]
    slot_minutes: int
    overbooking: int


def overbooking(schedule: dict[str, Any]) -> int:
    """The extra bookings one slot of `schedule` takes (0 when the Schedule says nothing or nonsense)."""
    for extension in _list(schedule.get("extension")):
        if isinstance(extension, dict) and extension.get("url") == OVERBOOKING:
            value = extension.get("valueUnsignedInt")
            return value if isinstance(value, int) and value > 0 else 0
    return 0


def read_availability(schedule: dict[str, Any]) -> Availability:
    """The working hours of `schedule`; raises InvalidRequest naming the first malformed element."""
    extensions = [(i, e) for i, e in enumerate(_list(schedule.get("extension"))) if isinstance(e, dict)]
    zone = ZoneInfo("UTC")
    for index, extension in extensions:
        if extension.get("url") == TIMEZONE:
            zone = _zone(extension.get("valueCode"), f"Schedule.extension[{index}].valueCode")
    anchor = _anchor(schedule)
    hours, closed = [], []
    slot_minutes, extra = DEFAULT_SLOT_MINUTES, 0
    for index, extension in extensions:
        where = f"Schedule.extension[{index}]"
        url = extension.get("url")
        if url == AVAILABILITY:
            hours.append(_hours(extension, where, anchor))
        elif url == EXCEPTION:
            closed.append(_period(extension.get("valuePeriod"), f"{where}.valuePeriod", zone))
        elif url == SLOT_MINUTES:
            slot_minutes = _positive(extension.get("valuePositiveInt"), f"{where}.valuePositiveInt", 1, 24 * 60)
        elif url == OVERBOOKING:
            extra = _positive(extension.get("valueUnsignedInt"), f"{where}.valueUnsignedInt", 0, 1000)
    return Availability(zone, tuple(hours), tuple(closed), slot_minutes, extra)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _zone(name: Any, where: str) -> ZoneInfo:
    if isinstance(name, str) and name and ".." not in name and not name.startswith("/"):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise InvalidRequest(
        _("'{value}' is not a time zone name (an IANA name such as Europe/Berlin).").format(value=str(name)[:80]),
        expression=where,
    )


def _anchor(schedule: dict[str, Any]) -> date:
    start = (
        (schedule.get("planningHorizon") or {}).get("start")
        if isinstance(schedule.get("planningHorizon"), dict)
        else None
    )
    if isinstance(start, str) and len(start) >= 10:
        try:
            return date.fromisoformat(start[:10])
        except ValueError:
            pass
    return _ANCHOR


def _sub(extension: dict[str, Any], url: str) -> tuple[int, dict[str, Any]] | None:
    for index, part in enumerate(_list(extension.get("extension"))):
        if isinstance(part, dict) and part.get("url") == url:
            return index, part
    return None


def _hours(extension: dict[str, Any], where: str, anchor: date) -> Hours:
    found = _sub(extension, "rrule")
    if found is None:
        raise InvalidRequest(_("A working-hours extension needs an 'rrule'."), expression=f"{where}.extension")
    index, part = found
    rule = _rule(part.get("valueString"), f"{where}.extension[{index}].valueString", anchor)
    times = []
    for name in ("start", "end"):
        found = _sub(extension, name)
        if found is None:
            raise InvalidRequest(
                _("A working-hours extension needs a '{name}' time.").format(name=name), expression=f"{where}.extension"
            )
        index, part = found
        times.append(_time(part.get("valueTime"), f"{where}.extension[{index}].valueTime"))
    if times[0] == times[1]:
        raise InvalidRequest(
            _("Working hours must not start and end at the same time."), expression=f"{where}.extension"
        )
    return Hours(rule, times[0], times[1])


def _rule(text: Any, where: str, anchor: date) -> rrule:
    if isinstance(text, str) and text.strip() and "DTSTART" not in text.upper():
        try:
            rule = rrulestr(text.strip().removeprefix("RRULE:"), dtstart=datetime.combine(anchor, time()))
        except (ValueError, TypeError, KeyError, IndexError):
            rule = None
        if isinstance(rule, rrule):
            if rule._freq <= DAILY:  # noqa: SLF001  (no public accessor for FREQ)
                return rule
            raise InvalidRequest(
                _("The recurrence rule must repeat daily or less often; the times come from 'start' and 'end'."),
                expression=where,
            )
    raise InvalidRequest(
        _("'{value}' is not a recurrence rule (RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR).").format(
            value=str(text)[:120]
        ),
        expression=where,
    )


def _time(value: Any, where: str) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidRequest(_("'{value}' is not a time (hh:mm:ss).").format(value=str(value)[:40]), expression=where)


def _positive(value: Any, where: str, least: int, most: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and least <= value <= most:
        return value
    raise InvalidRequest(
        _("'{value}' must be a whole number from {least} to {most}.").format(
            value=str(value)[:40], least=least, most=most
        ),
        expression=where,
    )


def _period(value: Any, where: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    if not isinstance(value, dict) or not isinstance(value.get("start"), str) or not isinstance(value.get("end"), str):
        raise InvalidRequest(_("A closed period needs a start and an end."), expression=where)
    start = local_instant(value["start"], zone, f"{where}.start", end_of_day=False)
    end = local_instant(value["end"], zone, f"{where}.end", end_of_day=True)
    if end <= start:
        raise InvalidRequest(_("The end must come after the start."), expression=f"{where}.end")
    return start, end


def local_instant(text: str, zone: ZoneInfo, where: str, *, end_of_day: bool) -> datetime:
    """A FHIR date or dateTime as a UTC instant; a date (or a time without offset) is read in `zone`.

    A date alone stands for its whole day: its start, or with `end_of_day` the start of the next day.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
            return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            _("'{value}' is not a date or dateTime.").format(value=text[:40]), expression=where
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)
