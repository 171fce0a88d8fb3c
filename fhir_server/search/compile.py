"""One search filter (already resolved to its parameter, chains aside) into a storage criterion."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .dates import parse_date_range, point_condition, split_prefix
from .definitions import SearchParameterDef
from .params import compile_parameter
from .registry import SearchRegistry


def _last_updated_condition(values: tuple[str, ...], now: datetime) -> dict[str, Any]:
    alternatives: list[dict[str, Any]] = []
    for value in values:
        prefix, text = split_prefix(value)
        condition = point_condition(prefix, parse_date_range(text, "_lastUpdated"), now)
        conditions = condition if isinstance(condition, list) else [condition]
        alternatives.extend({"lastUpdated": c} for c in conditions)
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def filter_criterion(
    resource_type: str,
    definition: SearchParameterDef,
    modifier: str | None,
    values: tuple[str, ...],
    *,
    registry: SearchRegistry,
    now: datetime,
    base_url: str | None,
    value_sets: Mapping[str, list[tuple[str | None, str]]] | None = None,
) -> dict[str, Any]:
    """The storage criterion for `definition` with `values` (OR'ed). Raises InvalidRequest on bad values.

    `_id` and `_lastUpdated` are answered from the stored key and timestamp; every other
    parameter from the index entries extracted at write time. `value_sets` holds the
    expansions `:in` / `:not-in` refer to (fetched beforehand: expansion needs the database).
    """
    if definition.code == "_id" and modifier is None:
        return {"_id": {"$in": [f"{resource_type}/{value}" for value in values if value]}}
    if definition.code == "_lastUpdated" and modifier is None:
        return _last_updated_condition(values, now)
    return compile_parameter(
        definition,
        modifier,
        values,
        now=now,
        base_url=base_url,
        resolve_component=lambda url: registry.by_url(url),
        value_set_codes=(lambda url: value_sets[url]) if value_sets is not None else None,
    )


def reference_criterion(code: str, references: list[str]) -> dict[str, Any]:
    """Resources whose reference parameter `code` points at one of `references` ("Type/id")."""
    return {"idx": {"$elemMatch": {"p": code, "r": {"$in": references}}}}
