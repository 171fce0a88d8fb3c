"""FHIR date/dateTime text as days: billing prices and claims by service date, not by instant."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any


def day_of(text: Any, *, last: bool = False) -> date | None:
    """The day `text` (a FHIR date or dateTime, possibly partial) starts on, or ends on when `last`."""
    if not isinstance(text, str) or len(text) < 4 or not text[:4].isdigit():
        return None
    try:
        year = int(text[:4])
        if len(text) < 7:
            return date(year, 12, 31) if last else date(year, 1, 1)
        month = int(text[5:7])
        if len(text) < 10:
            return date(year, month, calendar.monthrange(year, month)[1] if last else 1)
        return date(year, month, int(text[8:10]))
    except ValueError:
        return None


def period_days(period: Any) -> tuple[date, date]:
    """The first and last day of a FHIR Period (open ends: date.min / date.max)."""
    period = period if isinstance(period, dict) else {}
    return day_of(period.get("start")) or date.min, day_of(period.get("end"), last=True) or date.max


def in_period(day: date, period: Any) -> bool:
    first, last = period_days(period)
    return first <= day <= last
