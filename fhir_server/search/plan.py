"""Shape a search's storage filter so that the database can use its indexes.

Each filter clause matches one index entry of `idx` with `$elemMatch`; no index covers `idx`
(see keys.py: compound multikey indexes made writes slow). Simple planners (SecantusDB, the
embedded database) use an index only for plain equalities and ranges, and not at all once the
filter has a top-level operator such as `$and`. So a search runs in two steps:

1. the *driver*, one clause rewritten as a condition on the flat search keys (`keys`, one
   single-field index), finds candidate ids through that index. It may find a superset (text
   is cut, a token's system is not in its key), never fewer;
2. the full filter, flattened into one document without top-level operators where it can
   be, checks the candidates by `_id`.

The driver is the clause with the most selective condition: `_id`, then a compartment, then
an equality (reference, code, uri, string), then a prefix, then a date or number range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .keys import key_prefix, prefix_condition, range_condition, range_kind, text_condition
from .normalize import normalize_string

_EQUAL_KEYS = ("r", "c", "u", "e", "v")
"""Text entry keys, most selective first; `e` (exact string) drives by the normalized key `v`."""
_RANGE_KEYS = ("lo", "hi", "n", "cn")
_PREFIX_RANK, _RANGE_RANK = 10, 20


@dataclass(frozen=True)
class FilterPlan:
    """The full filter and, when one clause can drive an index, that clause as plain conditions."""

    criteria: dict[str, Any]
    driver: dict[str, Any] | None


def _anchored_prefix(condition: Any) -> str | None:
    """The literal prefix of `{"$regex": "^abc"}` (an anchored, escaped pattern), else None."""
    if not isinstance(condition, dict) or set(condition) != {"$regex"}:
        return None
    pattern = str(condition["$regex"])
    if not pattern.startswith("^"):
        return None
    literal: list[str] = []
    escaped = False
    for char in pattern[1:]:
        if escaped:
            if char.isalnum():
                return None  # \d, \w ...: a class, not a character
            literal.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ".^$*+?{}[]()|":
            return None
        else:
            literal.append(char)
    return "".join(literal) if literal and not escaped else None


def _entry_driver(resource_type: str, match: dict[str, Any]) -> tuple[int, Any] | None:
    """(rank, condition on `keys`) standing for one `$elemMatch` on `idx`, or None."""
    code = match["p"]
    ranged = "n" in match or "cn" in match  # a quantity's `c` is its unit, which has no key
    for rank, key in enumerate(_EQUAL_KEYS):
        if key not in match or (key == "c" and ranged):
            continue
        condition = match[key]
        if key == "e":
            if not isinstance(condition, str):
                continue
            key, condition = "v", normalize_string(condition)
        prefix = key_prefix(resource_type, code, key)
        if (found := text_condition(prefix, condition)) is not None:
            return rank, found
        if (start := _anchored_prefix(condition)) is not None:
            return _PREFIX_RANK + rank, prefix_condition(prefix, start)
    for rank, key in enumerate(_RANGE_KEYS):
        kind = range_kind(key)
        if key in match and kind is not None:
            found = range_condition(key_prefix(resource_type, code, kind), key, match[key])
            if found is not None:
                return _RANGE_RANK + rank, found
    return None


def driver_of(resource_type: str, clause: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """(rank, plain index conditions) standing for one clause, or None when no index can answer it."""
    if set(clause) == {"_id"}:
        return 0, clause
    if set(clause) == {"compartments"}:
        return 1, clause
    match = clause.get("idx", {}).get("$elemMatch") if set(clause) == {"idx"} else None
    if not isinstance(match, dict) or not isinstance(match.get("p"), str):
        return None
    found = _entry_driver(resource_type, match)
    return None if found is None else (2 + found[0], {"keys": found[1]})


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


def plan_filter(resource_type: str, clauses: Sequence[dict[str, Any]]) -> FilterPlan:
    """AND the clauses into as flat a filter as possible and pick the most selective driver."""
    flat: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for clause in clauses:
        _merge(flat, clause, rest)
    if rest:
        flat["$and"] = rest
    drivers = [d for d in (driver_of(resource_type, c) for c in clauses) if d is not None]
    return FilterPlan(flat, min(drivers, key=lambda d: d[0])[1] if drivers else None)
