"""Shape a search's storage filter so that the database can use its indexes.

Each filter clause matches one index entry with `$elemMatch`. MongoDB can answer those from
the compound multikey indexes `(type, idx.p, idx.<key>)`; simpler planners (SecantusDB, the
embedded database) use an index only for plain equalities and ranges, and not at all once
the filter has a top-level operator such as `$and`. So a search runs in two steps:

1. the *driver*, one clause rewritten as plain conditions on `idx.p` and `idx.<key>`, finds
   candidate ids through an index (a superset: the conditions may hold in different entries);
2. the full filter, flattened into one document without top-level operators where it can
   be, checks the candidates by `_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_DRIVER_KEYS = ("r", "c", "u", "e", "v", "lo", "hi", "n", "cn")
"""Entry keys with an index, most selective first (see storage `_INDEXED_ENTRY_KEYS`)."""


@dataclass(frozen=True)
class FilterPlan:
    """The full filter and, when one clause can drive an index, that clause as plain conditions."""

    criteria: dict[str, Any]
    driver: dict[str, Any] | None


def _prefix_range(pattern: str) -> dict[str, str] | None:
    """`^abc` (an escaped, anchored prefix) as the range ["abc", "abd")."""
    if not pattern.startswith("^") or not pattern[1:]:
        return None
    prefix = pattern[1:].replace("\\", "")
    if any(ch in prefix for ch in ".*+?[](){}|$"):
        return None
    return {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}


def _plain(condition: Any) -> Any | None:
    """A condition an index scan can use (equality, `$in`, a range, an anchored prefix), else None."""
    if not isinstance(condition, dict):
        return condition
    if "$regex" in condition:
        return _prefix_range(str(condition["$regex"])) if set(condition) <= {"$regex"} else None
    if set(condition) <= {"$eq", "$in", "$gt", "$gte", "$lt", "$lte"}:
        return condition
    return None


def driver_of(clause: dict[str, Any]) -> dict[str, Any] | None:
    """The plain index conditions standing for one clause, or None when it has none."""
    if set(clause) == {"_id"} or set(clause) == {"compartments"}:
        return clause
    match = clause.get("idx", {}).get("$elemMatch") if set(clause) == {"idx"} else None
    if not isinstance(match, dict) or not isinstance(match.get("p"), str):
        return None
    for key in _DRIVER_KEYS:
        if key in match and (condition := _plain(match[key])) is not None:
            return {"idx.p": match["p"], f"idx.{key}": condition}
    return None


def _merge(flat: dict[str, Any], clause: dict[str, Any], rest: list[dict[str, Any]]) -> None:
    """Fold `clause` into `flat` when no key collides; collect it in `rest` otherwise."""
    if set(clause) == {"idx"} and set(clause["idx"]) == {"$elemMatch"}:
        flat.setdefault("idx", {}).setdefault("$all", []).append(clause["idx"])
    elif set(clause) == {"idx"} and set(clause["idx"]) == {"$not"} and "$not" not in flat.get("idx", {}):
        flat.setdefault("idx", {})["$not"] = clause["idx"]["$not"]
    elif not any(key.startswith("$") for key in clause) and not set(clause) & set(flat):
        flat.update(clause)
    else:
        rest.append(clause)


def plan_filter(clauses: Sequence[dict[str, Any]]) -> FilterPlan:
    """AND the clauses into as flat a filter as possible and pick the most selective driver."""
    flat: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for clause in clauses:
        _merge(flat, clause, rest)
    if rest:
        flat["$and"] = rest
    drivers = [d for d in (driver_of(c) for c in clauses) if d is not None]
    ranked = sorted(drivers, key=_rank)
    return FilterPlan(flat, ranked[0] if ranked else None)


def _rank(driver: dict[str, Any]) -> int:
    if "_id" in driver:
        return 0
    if "compartments" in driver:
        return 1
    key = next(k for k in driver if k != "idx.p").removeprefix("idx.")
    return 2 + _DRIVER_KEYS.index(key)
