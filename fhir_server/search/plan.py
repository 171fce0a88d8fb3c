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

The driver is the clause with the most selective condition: `_id`, then a patient reference and a
status together (one pair key, see keys.py), then a compartment, then an equality (reference, code,
uri, string), then a prefix, then a date or number range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .keys import (
    PAIRED_REFERENCES,
    PAIRED_TOKEN,
    key_prefix,
    pair_key,
    prefix_condition,
    range_condition,
    range_kind,
    text_condition,
)
from .normalize import normalize_string

_EQUAL_KEYS = ("r", "c", "u", "e", "v")
"""Text entry keys, most selective first; `e` (exact string) drives by the normalized key `v`."""
_RANGE_KEYS = ("lo", "hi", "n", "cn")
_PREFIX_RANK, _RANGE_RANK = 10, 20
_MAX_PAIRS = 100
"""More (reference, status) combinations than this drive by one of the two clauses instead."""


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


def _alternatives(clause: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The `$elemMatch` conditions a clause ORs together (one for a plain clause); None for any other shape."""
    if (
        set(clause) == {"idx"}
        and set(clause["idx"]) == {"$elemMatch"}
        and isinstance(clause["idx"]["$elemMatch"], dict)
    ):
        return [clause["idx"]["$elemMatch"]]
    if set(clause) == {"$or"} and isinstance(clause["$or"], list):
        parts = [_alternatives(c) if isinstance(c, dict) else None for c in clause["$or"]]
        return None if any(p is None for p in parts) else [m for p in parts if p is not None for m in p]
    return None


def _pair_values(clause: dict[str, Any], params: Sequence[str], kind: str) -> tuple[str, list[str]] | None:
    """(parameter, every value of `kind` the clause allows) when each alternative is an equality on one
    parameter of `params`; None when any alternative allows other values."""
    matches = _alternatives(clause)
    if not matches or len({m.get("p") for m in matches}) != 1 or matches[0].get("p") not in params:
        return None
    values: list[str] = []
    for match in matches:
        condition = text_condition("", match.get(kind))
        if condition is None:
            return None
        values += [condition] if isinstance(condition, str) else condition["$in"]
    return str(matches[0]["p"]), values


def _pair_driver(resource_type: str, clauses: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The pair keys standing for a patient reference clause and a status clause ANDed, else None."""
    references = [found for c in clauses if (found := _pair_values(c, PAIRED_REFERENCES, "r")) is not None]
    statuses = [found for c in clauses if (found := _pair_values(c, (PAIRED_TOKEN,), "c")) is not None]
    if not references or not statuses:
        return None
    (param, targets), (_status, codes) = references[0], statuses[0]
    keys = list(dict.fromkeys(pair_key(resource_type, param, r, c) for r in targets for c in codes))
    if len(keys) > _MAX_PAIRS:
        return None
    return {"keys": keys[0] if len(keys) == 1 else {"$in": keys}}


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
    if (pair := _pair_driver(resource_type, clauses)) is not None:
        drivers.insert(0, (1, pair))  # after an `_id` (0); before a compartment (1 too: min keeps the first)
    return FilterPlan(flat, min(drivers, key=lambda d: d[0])[1] if drivers else None)
