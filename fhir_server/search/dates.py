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
        sign = 1 if tz[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    try:
        low = datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int((parts["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        ).astimezone(UTC)
    except ValueError as exc:
        raise bad from exc
    if parts["fraction"]:
        high = low + timedelta(milliseconds=1)
    elif parts["second"]:
        high = low + timedelta(seconds=1)
    elif parts["minute"]:
        high = low + timedelta(minutes=1)
    elif parts["day"]:
        high = low + timedelta(days=1)
    elif parts["month"]:
        high = _add_months(low, 1)
    else:
        high = low.replace(year=low.year + 1)
    return DateRange(low, high)


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
    return DateRange(search.low - slack, search.high + slack)
