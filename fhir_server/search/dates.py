"""FHIR date search values: partial dates as ranges, and the prefixes that compare them.

https://hl7.org/fhir/R4/search.html#date — a search value such as `2026-03` stands for the
whole month: the range [2026-03-01T00:00Z, 2026-04-01T00:00Z). Values without a time zone
are taken as UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from ..errors import InvalidRequest
from ..i18n import _

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")

_DATE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


@dataclass(frozen=True)
class DateRange:
    """The half-open range [low, high) a partial date stands for."""

    low: datetime
    high: datetime


def _add_months(moment: datetime, months: int) -> datetime:
    month0 = moment.month - 1 + months
    return moment.replace(year=moment.year + month0 // 12, month=month0 % 12 + 1)


def parse_date_range(text: str, parameter: str) -> DateRange:
    """Parse a FHIR date, dateTime or instant into its range; raise InvalidRequest naming `parameter`."""
    match = _DATE.fullmatch(text)
    bad = InvalidRequest(
        _("'{value}' is not a valid date for parameter '{parameter}'.").format(value=text[:80], parameter=parameter),
        expression=parameter,
    )
    if not match:
        raise bad
    parts = match.groupdict()
    tz = parts["tz"]
    zone = UTC
    if tz and tz != "Z":
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if minutes > 59 or hours * 60 + minutes > 14 * 60:  # FHIR offsets run from -14:00 to +14:00
            raise bad
        sign = 1 if tz[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return _range(parts, zone)
    except (ValueError, OverflowError) as exc:
        raise bad from exc


def _range(parts: dict[str, str | None], zone: timezone) -> DateRange:
    """The range of a matched value; ValueError (no such day) or OverflowError (before year 1 in UTC)."""
    low = datetime(
        int(parts["year"] or "0"),
        int(parts["month"] or 1),
        int(parts["day"] or 1),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        int(parts["second"] or 0),
        int((parts["fraction"] or "0")[:6].ljust(6, "0")),
        tzinfo=zone,
    ).astimezone(UTC)
    try:
        return DateRange(low, _end(low, parts))
    except (ValueError, OverflowError):  # the range runs to the end of year 9999
        return DateRange(low, datetime.max.replace(tzinfo=UTC))


def _end(low: datetime, parts: dict[str, str | None]) -> datetime:
    """Where the range of a value of this precision starting at `low` ends."""
    if parts["fraction"]:
        return low + timedelta(milliseconds=1)
    if parts["second"]:
        return low + timedelta(seconds=1)
    if parts["minute"]:
        return low + timedelta(minutes=1)
    if parts["day"]:
        return low + timedelta(days=1)
    if parts["month"]:
        return _add_months(low, 1)
    return low.replace(year=low.year + 1)


def split_prefix(value: str) -> tuple[str, str]:
    """Split `ge2026-01-01` into (`ge`, `2026-01-01`); no prefix means `eq`."""
    if len(value) > 2 and value[:2] in PREFIXES and not value[:2].isdigit():
        return value[:2], value[2:]
    return "eq", value


def point_condition(prefix: str, search: DateRange, now: datetime) -> dict[str, datetime] | list[dict[str, datetime]]:
    """The condition on a point in time (such as lastUpdated) that `prefix search` asks for.

    Returns one range condition (`{"$gte": ..., "$lt": ...}`) or, for `ne`, a list of two
    alternatives. A point in time is a range of zero width, so `gt` and `sa` coincide, as do
    `lt` and `eb`.
    """
    if prefix == "eq":
        return {"$gte": search.low, "$lt": search.high}
    if prefix == "ne":
        return [{"$lt": search.low}, {"$gte": search.high}]
    if prefix in ("gt", "sa"):
        return {"$gte": search.high}
    if prefix in ("lt", "eb"):
        return {"$lt": search.low}
    if prefix == "ge":
        return {"$gte": search.low}
    if prefix == "le":
        return {"$lt": search.high}
    wide = approximate_range(search, now)
    return {"$gte": wide.low, "$lt": wide.high}


def approximate_range(search: DateRange, now: datetime) -> DateRange:
    """The range `ap` accepts: widened on both sides by 10% of the distance between the value and now."""
    slack = abs(now - search.low) * 0.1
    return DateRange(_shifted(search.low, -slack), _shifted(search.high, slack))


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, kept within the years datetime can hold."""
    try:
        return moment + delta
    except OverflowError:
        return (datetime.min if delta < timedelta(0) else datetime.max).replace(tzinfo=UTC)
