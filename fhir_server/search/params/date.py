"""Date search values against stored ranges [lo, hi) (search.html#prefix, search.html#date).

Both the search value and the stored value are ranges: a partial date stands for all of
its instants, a Period for its extent (open ends stored as the extremes). With the search
range [S, E) and the stored range [lo, hi), following the prefix definitions literally:

| prefix | spec wording                                                     | condition                            |
| ------ | ---------------------------------------------------------------- | ------------------------------------ |
| eq     | search range fully contains the target range                    | lo >= S and hi <= E                  |
| ne     | search range does not fully contain the target range            | lo < S or hi > E                     |
| gt     | range above the search value intersects the target              | hi > E                               |
| lt     | range below the search value intersects the target              | lo < S                               |
| ge     | range above intersects the target, or eq                        | hi > E or (lo >= S and hi <= E)      |
| le     | range below intersects the target, or eq                        | lo < S or (lo >= S and hi <= E)      |
| sa     | target does not overlap and lies above the search range         | lo >= E                              |
| eb     | target does not overlap and lies below the search range         | hi <= S                              |
| ap     | target overlaps the search range widened by 10% of gap to now  | lo < E' and hi > S'                  |
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..dates import approximate_range, parse_date_range
from .number import split_comparison


def _contained(start: datetime, end: datetime) -> dict[str, Any]:
    return {"lo": {"$gte": start}, "hi": {"$lte": end}}


def date_condition(value: str, parameter: str, now: datetime) -> dict[str, Any]:
    """The entry condition for a prefixed date value; raises InvalidRequest naming `parameter`."""
    prefix, text = split_comparison(value, parameter)
    search = parse_date_range(text, parameter)
    start, end = search.low, search.high
    if prefix == "eq":
        return _contained(start, end)
    if prefix == "ne":
        return {"$or": [{"lo": {"$lt": start}}, {"hi": {"$gt": end}}]}
    if prefix == "gt":
        return {"hi": {"$gt": end}}
    if prefix == "lt":
        return {"lo": {"$lt": start}}
    # ge and le also state a bound both alternatives imply (a stored range is never empty), so an
    # index on that bound can find the candidates.
    if prefix == "ge":
        return {"hi": {"$gt": start}, "$or": [{"hi": {"$gt": end}}, _contained(start, end)]}
    if prefix == "le":
        return {"lo": {"$lt": end}, "$or": [{"lo": {"$lt": start}}, _contained(start, end)]}
    if prefix == "sa":
        return {"lo": {"$gte": end}}
    if prefix == "eb":
        return {"hi": {"$lte": start}}
    wide = approximate_range(search, now)
    return {"lo": {"$lt": wide.high}, "hi": {"$gt": wide.low}}
