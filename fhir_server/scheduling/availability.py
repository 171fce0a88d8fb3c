"""Working hours expanded into slot times, in the Schedule's own time zone.

Each day a rule falls on is found on the local calendar (dateutil rrule over naive local dates), and
its start and end are made aware in the Schedule's zone that day, so a 09:00 start stays 09:00 local
across a daylight-saving change (its UTC instant moves by the hour instead). Slots are then cut in
absolute time, `slot_minutes` each, and dropped where they touch a closed period.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

from dateutil.rrule import DAILY, WEEKLY, rrule

from .extensions import Availability, Hours


def _near(rule: rrule, first: datetime) -> rrule:
    """The same rule with DTSTART moved forward by whole periods to just before `first`.

    dateutil walks every occurrence from DTSTART; a daily rule anchored in 2000 would take thousands of
    steps per expansion. Moving DTSTART by whole intervals keeps the phase of INTERVAL=n; a rule with
    COUNT, or coarser than weekly, is left as it is (few steps, or the count would change).
    """
    freq, interval, count, start = rule._freq, rule._interval, rule._count, rule._dtstart  # noqa: SLF001
    if count is not None or freq not in (DAILY, WEEKLY):
        return rule
    period = interval * (7 if freq == WEEKLY else 1)
    skip = (first - start).days // period * period
    return rule.replace(dtstart=start + timedelta(days=skip)) if skip > 0 else rule


def _local_day_bounds(hours: Hours, day: datetime, availability: Availability) -> tuple[datetime, datetime]:
    start = datetime.combine(day.date(), hours.start, tzinfo=availability.zone)
    end_day = day.date() + timedelta(days=1 if hours.end <= hours.start else 0)
    end = datetime.combine(end_day, hours.end, tzinfo=availability.zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def working_times(availability: Availability, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The (start, end) UTC instants of every slot lying within [`start`, `end`), in no particular order."""
    zone = availability.zone
    # a day's hours may begin the day before `start` (a night shift): look one day further back
    first = datetime.combine(start.astimezone(zone).date() - timedelta(days=1), time())
    last = datetime.combine(end.astimezone(zone).date(), time())
    step = timedelta(minutes=availability.slot_minutes)
    for hours in availability.hours:
        for day in _near(hours.rule, first).between(first, last, inc=True):
            shift_start, shift_end = _local_day_bounds(hours, day, availability)
            slot = shift_start
            while slot + step <= shift_end:
                slot_end = slot + step
                if slot >= start and slot_end <= end and not _closed(availability, slot, slot_end):
                    yield slot, slot_end
                slot = slot_end


def _closed(availability: Availability, start: datetime, end: datetime) -> bool:
    return any(start < closed_end and closed_start < end for closed_start, closed_end in availability.closed)
