"""Turn a typed SearchRequest into a storage query over current resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..storage import CurrentQuery
from .dates import parse_date_range, point_condition, split_prefix
from .request import SearchRequest


def _last_updated_condition(values: tuple[str, ...], now: datetime) -> dict[str, Any]:
    alternatives: list[dict[str, Any]] = []
    for value in values:
        prefix, text = split_prefix(value)
        condition = point_condition(prefix, parse_date_range(text, "_lastUpdated"), now)
        conditions = condition if isinstance(condition, list) else [condition]
        alternatives.extend({"lastUpdated": c} for c in conditions)
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def compile_search(request: SearchRequest, now: datetime) -> CurrentQuery:
    """AND across filters, OR within one filter's values. Raises InvalidRequest for a malformed value."""
    ids: set[str] | None = None
    clauses: list[dict[str, Any]] = []
    for flt in request.filters:
        if flt.code == "_id":
            wanted = {v for v in flt.values if v}
            ids = wanted if ids is None else ids & wanted
        elif flt.code == "_lastUpdated":
            clauses.append(_last_updated_condition(flt.values, now))
    criteria: dict[str, Any] = {"$and": clauses} if clauses else {}
    return CurrentQuery(
        resource_type=request.resource_type,
        criteria=criteria,
        ids=tuple(sorted(ids)) if ids is not None else None,
        after=request.cursor,
    )
